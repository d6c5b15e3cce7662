"""The ``agritrace`` command line.

Heavy imports happen inside each command so that ``agritrace --help`` is instant.
"""

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer

from agritrace import fleet_cli, ops_cli, transparency_cli
from agritrace.database import (
    DEMO_DATABASE_URL,
    DatabaseUrl,
    engine_for,
    existing_engine,
)

LogFormat = Annotated[
    str | None,
    typer.Option(
        "--log-format",
        metavar="text|json",
        show_default=False,
        help="text, or json: one object per line (default: $AGRITRACE_LOG_FORMAT, else text)",
    ),
]

app = typer.Typer(
    name="agritrace",
    help="Trace farm produce back to what was done on the field, by hand and by drone.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    # Plain help: it wraps long defaults (database URLs) instead of cutting them off.
    rich_markup_mode=None,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
users_app = typer.Typer(help="API users and their tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
organisations_app = typer.Typer(
    help="Cooperatives, drone services, the office.", no_args_is_help=True
)
app.add_typer(organisations_app, name="organisations")
app.add_typer(transparency_cli.checkpoint_app, name="checkpoint")
app.add_typer(transparency_cli.witness_app, name="witness")
app.command("verify")(transparency_cli.verify)
app.add_typer(ops_cli.devices_app, name="devices")
app.command("backup")(ops_cli.backup)
app.command("restore")(ops_cli.restore)
app.command("dead-letters")(ops_cli.dead_letters)
app.command("ingest-log")(fleet_cli.ingest_log)
app.command("mavlink-bridge")(fleet_cli.mavlink_bridge)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="target revision")] = "head",
    database_url: DatabaseUrl = None,
) -> None:
    """Create or migrate the schema of the database."""
    from traceability.db import migrate

    engine = engine_for(database_url)
    migrate(engine, revision)
    typer.echo(f"database {engine.url.render_as_string(hide_password=True)} is at {revision}")


@db_app.command("current")
def db_current(database_url: DatabaseUrl = None) -> None:
    """Show the schema revision of the database."""
    from alembic import command

    from traceability.db import alembic_config

    command.current(alembic_config(existing_engine(database_url)))


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="who the token is for")],
    role: Annotated[
        str, typer.Option(help="admin, office, cooperative, operator or farmer")
    ] = "farmer",
    farmer_id: Annotated[
        int | None, typer.Option(help="the farmer a farmer user speaks for")
    ] = None,
    organisation: Annotated[
        str | None,
        typer.Option(help="code of the user's organisation (office, cooperative, operator)"),
    ] = None,
    expires_at: Annotated[
        str | None, typer.Option(help="when the token stops working (RFC 3339, with offset)")
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an API user and print its token (shown only once)."""
    from sqlmodel import Session

    from traceability.errors import AgritraceError
    from traceability.models import Role, UserCreate
    from traceability.services.users import create_user, first_token

    try:
        data = UserCreate(
            name=name,
            role=Role(role),
            farmer_id=farmer_id,
            organisation_code=organisation,
            token_expires_at=expires_at,
        )
        engine = existing_engine(database_url)
        with Session(engine) as session:
            user, token = create_user(session, data=data)
            token_id = first_token(session, user_id=user.id).id
    except (ValueError, AgritraceError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"user {user.id} ({user.role}) token {token_id}: {token}")


@users_app.command("revoke")
def users_revoke(
    token_id: Annotated[int, typer.Argument(help="the token's id (GET /api/v1/tokens)")],
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a token at once: the next request that sends it is refused."""
    from sqlmodel import Session

    from traceability.errors import AgritraceError
    from traceability.services.users import revoke_token

    try:
        with Session(existing_engine(database_url)) as session:
            token = revoke_token(session, token_id=token_id)
    except AgritraceError as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"token {token.id} of user {token.user_id} revoked at {token.revoked_at}")


@organisations_app.command("create")
def organisations_create(
    code: Annotated[str, typer.Argument(help="short code, e.g. HTX-TAN-PHONG")],
    name: Annotated[str, typer.Argument(help="full name")],
    kind: Annotated[str, typer.Option(help="cooperative, drone_service or office")],
    database_url: DatabaseUrl = None,
) -> None:
    """Record a cooperative, a drone service or the agriculture office."""
    from pydantic import ValidationError
    from sqlmodel import Session

    from traceability.errors import AgritraceError
    from traceability.models import OrganisationCreate
    from traceability.services.organisations import create_organisation

    try:
        data = OrganisationCreate(code=code, name=name, kind=kind)
        with Session(existing_engine(database_url)) as session:
            org = create_organisation(session, data=data)
    except (ValidationError, AgritraceError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"organisation {org.code} ({org.kind}): {org.name}")


@app.callback()
def _check_settings() -> None:
    """Refuse to start on settings that are unsafe (a short bootstrap admin token)."""
    from pydantic import ValidationError

    from traceability.config import get_settings

    try:
        get_settings()
    except ValidationError as exc:
        messages = "; ".join(e["msg"].removeprefix("Value error, ") for e in exc.errors())
        typer.echo(f"agritrace: bad settings: {messages}", err=True)
        raise typer.Exit(2) from None


#: What one client may hold of the server: idle keep-alive connections are closed after
#: 5 s, a request's head may be 64 KiB, and past 500 requests at once new ones get 503
#: rather than queueing without end. Bodies are limited in the app (AGRITRACE_MAX_BODY_BYTES).
SERVE_LIMITS = {
    "timeout_keep_alive": 5,
    "h11_max_incomplete_event_size": 64 * 1024,
    "limit_concurrency": 500,
    "timeout_graceful_shutdown": 20,
}


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
    migrate_db: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="migrate the schema first")
    ] = True,
    database_url: DatabaseUrl = None,
    public_base_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            show_default=False,
            help="what QR codes point at (default: $AGRITRACE_PUBLIC_BASE_URL, "
            "else http://localhost:8000)",
        ),
    ] = None,
    log_format: LogFormat = None,
) -> None:
    """Run the HTTP API and the public trace pages."""
    import os

    import uvicorn

    from agritrace.demo import DemoError, check_port
    from traceability import logformat
    from traceability.config import get_settings
    from traceability.db import migrate

    fmt = log_format or get_settings().log_format
    if fmt not in logformat.FORMATS:
        raise typer.BadParameter(f"--log-format must be text or json, not '{fmt}'")
    logformat.configure(fmt)

    try:
        check_port(host, port)
    except DemoError as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(1) from None
    # The worker processes read their settings from the environment they inherit.
    if database_url:
        os.environ["AGRITRACE_DATABASE_URL"] = database_url
    if public_base_url:
        os.environ["AGRITRACE_PUBLIC_BASE_URL"] = public_base_url
    engine = engine_for(database_url) if migrate_db else existing_engine(database_url)
    if migrate_db:
        migrate(engine)
    engine.dispose()
    if workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Every worker writes its metrics there; /metrics adds them up.
        import tempfile

        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="agritrace-metrics-")
    uvicorn.run(
        "traceability.api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        log_config=logformat.uvicorn_log_config(fmt),
        **SERVE_LIMITS,
    )


@app.command("trace-snapshots")
def trace_snapshots(
    rebuild_all: Annotated[
        bool, typer.Option("--all", help="rebuild every lot's trace, not only missing or stale")
    ] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="then keep going: rebuild the traces of lots whose fields get diary lines "
            "(by hand or by drone), reviewers' acceptances or measured missions",
        ),
    ] = False,
    interval: Annotated[
        float, typer.Option(min=0.1, help="with --follow: seconds between looks")
    ] = 2.0,
    database_url: DatabaseUrl = None,
) -> None:
    """Store every lot's trace ahead of the buyers' scans (missing or stale ones only).

    Scans build what they find missing or stale themselves; run this after an upgrade or
    a bulk import (or from cron) so that no buyer waits for a build. With ``--follow`` it
    runs as a service (stopped by Ctrl-C or SIGTERM) and keeps the traces built as the
    diaries grow.
    """
    import signal
    import threading

    from sqlmodel import Session

    from traceability.api import trace_cache
    from traceability.api.pages import RENDERINGS
    from traceability.config import get_settings

    engine = existing_engine(database_url)
    base_url = get_settings().public_base_url.rstrip("/")
    with Session(engine) as session:
        mark = trace_cache.watermark(session)
        seen, built = trace_cache.refresh(
            session, base_url=base_url, renderings=RENDERINGS, everything=rebuild_all
        )
    typer.echo(f"{built} of {seen} lots' traces built and stored ({base_url})")
    if not follow:
        return
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    typer.echo(f"following changes every {interval:g} s")
    try:
        while not stop.wait(interval):
            with Session(engine) as session:
                mark, built = trace_cache.refresh_changed(
                    session, base_url=base_url, renderings=RENDERINGS, since=mark
                )
            if built:
                typer.echo(f"{built} lots' traces built again")
    except KeyboardInterrupt:
        pass


@app.command("import-fields")
def import_fields(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            dir_okay=False,
            help="GeoJSON FeatureCollection, or an ISO 11783-10 TASKDATA.XML (its partfields)",
        ),
    ],
    crs: Annotated[
        str | None, typer.Option(help="CRS of the file, e.g. EPSG:3405 (VN-2000 / UTM 48N)")
    ] = None,
    farmer_id: Annotated[
        int | None, typer.Option(help="farmer for features without properties.farmer_id")
    ] = None,
    code_property: Annotated[str, typer.Option(help="property holding the field code")] = "code",
    database_url: DatabaseUrl = None,
) -> None:
    """Import field polygons (any CRS pyproj knows) as fields, all or nothing."""
    import orjson
    from rich.progress import Progress
    from sqlmodel import Session

    from traceability.db import migrate
    from traceability.errors import AgritraceError
    from traceability.services.fields import import_fields as run_import

    if file.name.upper() == "TASKDATA.XML" or file.read_bytes()[:64].lstrip().startswith(b"<"):
        doc = _partfields(file)
    else:
        try:
            doc = orjson.loads(file.read_bytes())
        except orjson.JSONDecodeError as exc:
            raise typer.BadParameter(f"{file} is not JSON: {exc}") from exc
    crs = crs or _declared_crs(doc)
    features = doc.get("features") if isinstance(doc, dict) else None
    if not isinstance(features, list):
        raise typer.BadParameter(f"{file} is not a GeoJSON FeatureCollection")
    for f in features:
        props = f.setdefault("properties", {}) if isinstance(f, dict) else {}
        if code_property != "code" and code_property in props:
            props["code"] = str(props[code_property])
        if farmer_id is not None:
            props.setdefault("farmer_id", farmer_id)
    engine = engine_for(database_url)
    migrate(engine)
    with Progress() as progress, Session(engine) as session:
        task = progress.add_task("checking fields", total=len(features))
        try:
            rows = run_import(
                session, features=features, crs=crs, progress=lambda n: progress.advance(task, n)
            )
        except AgritraceError as exc:
            progress.stop()
            typer.secho(f"nothing imported: {exc}", err=True, fg="red")
            raise typer.Exit(1) from exc
    total = sum(r.area_ha for r in rows)
    typer.echo(f"imported {len(rows)} fields, {total:,.2f} ha" + (f" (from {crs})" if crs else ""))


def _partfields(file: Path) -> dict:
    """A TASKDATA.XML's partfields as a FeatureCollection (ISO 11783-10 is WGS84)."""
    from traceability.errors import AgritraceError
    from traceability.ingest.sources import isoxml

    try:
        features = isoxml.partfield_features({"TASKDATA.XML": file.read_bytes()})
    except AgritraceError as exc:
        raise typer.BadParameter(str(exc)) from exc
    if not features:
        raise typer.BadParameter(f"{file} holds no partfield with a boundary polygon")
    return {"type": "FeatureCollection", "features": features}


def _declared_crs(doc: object) -> str | None:
    # Old-style GeoJSON (and many cadastral exports) name their CRS in the file.
    try:
        name = doc["crs"]["properties"]["name"]  # type: ignore[index]
    except (KeyError, TypeError):
        return None
    return None if "CRS84" in name or name.endswith(":4326") else name


@app.command("load-fixtures")
def load_fixtures(
    directory: Annotated[Path, typer.Argument(file_okay=False, help="fixtures folder")] = Path(
        "fixtures"
    ),
    database_url: DatabaseUrl = None,
) -> None:
    """Load the fixture slice of the province (farmers, fields, zones, fleet, products)."""
    from rich.progress import Progress
    from sqlmodel import Session

    from traceability.db import migrate
    from traceability.services.fixtures import load_fixtures as run_load

    engine = engine_for(database_url)
    migrate(engine)
    with Progress() as progress, Session(engine) as session:
        counts = run_load(session, directory=directory, progress=progress)
    typer.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


@app.command("report")
def report(
    name: Annotated[
        str,
        typer.Argument(
            help="missions, field-applications, pesticide-records, province, fleet, "
            "field-season or low-emission-rice"
        ),
    ],
    fmt: Annotated[
        str | None,
        typer.Option(
            "--format",
            help="json, csv or xlsx (default: from --out's suffix, else a table on screen)",
        ),
    ] = None,
    since: Annotated[
        datetime | None,
        typer.Option("--from", formats=["%Y-%m-%d"], help="first Vietnam day, YYYY-MM-DD"),
    ] = None,
    until: Annotated[
        datetime | None,
        typer.Option("--to", formats=["%Y-%m-%d"], help="last Vietnam day, included"),
    ] = None,
    commune: Annotated[str | None, typer.Option(help="commune code")] = None,
    product: Annotated[str | None, typer.Option(help="product code")] = None,
    drone: Annotated[str | None, typer.Option(help="drone code")] = None,
    organisation: Annotated[
        str | None, typer.Option(help="organisation code (the drone's or the farmer's)")
    ] = None,
    group: Annotated[
        str | None,
        typer.Option("--group", "--by", help="fleet: day, week (ISO) or season (crop season)"),
    ] = None,
    field: Annotated[
        str | None, typer.Option(help="field code (field-season, low-emission-rice)")
    ] = None,
    season: Annotated[
        int | None, typer.Option(help="season id (field-season, low-emission-rice)")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="write the report to this file")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Print or save a report for the agriculture office (times in Vietnam time)."""
    from traceability import reports
    from traceability.reports import report_files

    build = reports.REPORTS.get(name)
    if build is None:
        raise typer.BadParameter(
            f"unknown report '{name}'; choose from {', '.join(reports.REPORTS)}"
        )
    fmt = fmt or (out.suffix.lstrip(".").lower() if out else None)
    if fmt is not None and fmt not in report_files.WRITERS:
        raise typer.BadParameter(f"--format must be json, csv or xlsx, not '{fmt}'")
    if group not in (None, "day", "week", "season"):
        raise typer.BadParameter(f"--group must be day, week or season, not '{group}'")
    if fmt == "xlsx" and out is None:
        raise typer.BadParameter("an XLSX report needs --out FILE.xlsx")
    filters = reports.Filters(
        since=since.date() if since else None,
        until=until.date() if until else None,
        commune=commune,
        product=product,
        drone=drone,
        organisation=organisation,
        by=group,
        field=field,
        season=season,
    )
    frame = build(existing_engine(database_url), filters)
    if fmt is None:
        typer.echo(report_files.to_text(frame))
        return
    data = report_files.render(frame, fmt, name=name)
    if out:
        out.write_bytes(data)
        typer.echo(f"{len(frame)} rows written to {out}")
    else:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()


@app.command("ingest")
def ingest(
    mqtt_url: Annotated[str | None, typer.Option(help="broker, default AGRITRACE_MQTT_URL")] = None,
    client_id: Annotated[
        str | None, typer.Option(help="MQTT client id (persistent session)")
    ] = None,
    http_port: Annotated[
        int | None,
        typer.Option(
            help="serve /healthz, /readyz and /metrics on this port "
            "(default: $AGRITRACE_INGEST_HTTP_PORT, else none)"
        ),
    ] = None,
    log_format: LogFormat = None,
    database_url: DatabaseUrl = None,
    amqp_url: Annotated[
        str | None,
        typer.Option(help="RabbitMQ: consume the ingest queue over AMQP (AGRITRACE_AMQP_URL)"),
    ] = None,
) -> None:
    """Run the ingester: MQTT, or RabbitMQ's queue over AMQP (several may share the load)."""
    fleet_cli.select_database(database_url)
    from drone_ingest.service import run_ingester

    status = run_ingester(
        mqtt_url=mqtt_url,
        client_id=client_id,
        amqp_url=amqp_url,
        http_port=http_port,
        log_format=log_format,
    )
    raise typer.Exit(status)


@app.command("simulate")
def simulate(
    drones: Annotated[int, typer.Option(help="drones flying at once")] = 10,
    rate: Annotated[float, typer.Option(help="fixes per second per drone (Hz)")] = 1.0,
    duration: Annotated[float, typer.Option(help="seconds to run")] = 60.0,
    mqtt_url: Annotated[str | None, typer.Option(help="broker, default AGRITRACE_MQTT_URL")] = None,
    speedup: Annotated[float, typer.Option(help="simulated seconds per real second")] = 1.0,
    database_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            show_default=False,
            help="fly over this database's drones and fields (default: the fixture files)",
        ),
    ] = None,
) -> None:
    """Fly a simulated fleet over the fixture fields and publish its telemetry."""
    from drone_ingest.simulate import run_simulation

    engine = existing_engine(database_url) if database_url else None
    counts = run_simulation(
        drones=drones,
        rate=rate,
        duration=duration,
        mqtt_url=mqtt_url,
        speedup=speedup,
        engine=engine,
    )
    typer.echo(", ".join(f"{v} {k}" for k, v in counts.items() if isinstance(v, (int, float))))


@app.command("demo")
def demo(
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    host: Annotated[
        str, typer.Option(help="address to listen on; 0.0.0.0 lets phones on the network in")
    ] = "127.0.0.1",
    public_base_url: Annotated[
        str | None,
        typer.Option(
            metavar="URL",
            show_default=False,
            help="what QR codes and links point at (default: http://localhost:PORT, or this "
            "machine's network address with --host 0.0.0.0)",
        ),
    ] = None,
    database_url: Annotated[
        str, typer.Option(metavar="URL", help="the demo's own database")
    ] = DEMO_DATABASE_URL,
    drones: Annotated[int, typer.Option(help="simulated drones", min=1)] = 6,
    speed: Annotated[
        float, typer.Option(help="speed-up: simulated seconds per real second", min=0.001)
    ] = 40.0,
    day: Annotated[
        bool, typer.Option("--day/--no-day", help="keep a simulated day going once ready")
    ] = True,
) -> None:
    """Everything on one machine: SQLite, an embedded broker, the ingester, the API and a
    simulated fleet. Run it again to resume where it stopped."""
    from agritrace.demo import DemoConfig, DemoError, run_demo

    config = DemoConfig(
        database_url=database_url,
        host=host,
        port=port,
        public_base_url=public_base_url,
        drones=drones,
        speed=speed,
        day=day,
    )
    try:
        run_demo(config)
    except DemoError as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(1) from None


if __name__ == "__main__":
    app()
