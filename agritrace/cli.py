"""The ``agritrace`` command line.

Heavy imports happen inside each command so that ``agritrace --help`` is instant.
"""

from pathlib import Path
from typing import Annotated

import typer

from agritrace import transparency_cli

app = typer.Typer(
    name="agritrace",
    help="Trace farm produce back to what was done on the field, by hand and by drone.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)
users_app = typer.Typer(help="API users and their tokens.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(transparency_cli.checkpoint_app, name="checkpoint")
app.command("verify")(transparency_cli.verify)


def _engine():
    from traceability.db import get_engine

    return get_engine()


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="target revision")] = "head") -> None:
    """Create or migrate the schema of AGRITRACE_DATABASE_URL."""
    from traceability.db import migrate

    engine = _engine()
    migrate(engine, revision)
    typer.echo(f"database {engine.url.render_as_string(hide_password=True)} is at {revision}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database."""
    from alembic import command

    from traceability.db import alembic_config

    command.current(alembic_config(_engine()))


@users_app.command("create")
def users_create(
    name: Annotated[str, typer.Argument(help="who the token is for")],
    role: Annotated[str, typer.Option(help="admin, operator or farmer")] = "farmer",
    farmer_id: Annotated[
        int | None, typer.Option(help="the farmer a farmer user speaks for")
    ] = None,
) -> None:
    """Create an API user and print its token (shown only once)."""
    from sqlmodel import Session

    from traceability.errors import AgritraceError
    from traceability.models import Role, UserCreate
    from traceability.services.users import create_user

    try:
        data = UserCreate(name=name, role=Role(role), farmer_id=farmer_id)
        with Session(_engine()) as session:
            user, token = create_user(session, data=data)
    except (ValueError, AgritraceError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    typer.echo(f"user {user.id} ({user.role}) token: {token}")


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
    migrate_db: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="migrate the schema first")
    ] = True,
) -> None:
    """Run the HTTP API and the public trace pages."""
    import uvicorn

    from traceability.db import migrate

    if migrate_db:
        migrate(_engine())
    uvicorn.run(
        "traceability.api.main:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
    )


@app.command("import-fields")
def import_fields(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="GeoJSON FeatureCollection")
    ],
    crs: Annotated[
        str | None, typer.Option(help="CRS of the file, e.g. EPSG:3405 (VN-2000 / UTM 48N)")
    ] = None,
    farmer_id: Annotated[
        int | None, typer.Option(help="farmer for features without properties.farmer_id")
    ] = None,
    code_property: Annotated[str, typer.Option(help="property holding the field code")] = "code",
) -> None:
    """Import field polygons (any CRS pyproj knows) as fields, all or nothing."""
    import orjson
    from rich.progress import Progress
    from sqlmodel import Session

    from traceability.db import migrate
    from traceability.errors import AgritraceError
    from traceability.services.fields import import_fields as run_import

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
    engine = _engine()
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
) -> None:
    """Load the fixture slice of the province (farmers, fields, zones, fleet, products)."""
    from rich.progress import Progress
    from sqlmodel import Session

    from traceability.db import migrate
    from traceability.services.fixtures import load_fixtures as run_load

    engine = _engine()
    migrate(engine)
    with Progress() as progress, Session(engine) as session:
        counts = run_load(session, directory=directory, progress=progress)
    typer.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


@app.command("report")
def report(
    name: Annotated[str, typer.Argument(help="missions, field-applications or fleet")],
    out: Annotated[
        Path | None, typer.Option(help="write CSV here instead of printing a table")
    ] = None,
) -> None:
    """Print or save a report for the agriculture office."""
    from traceability import reports

    build = reports.REPORTS.get(name)
    if build is None:
        raise typer.BadParameter(
            f"unknown report '{name}'; choose from {', '.join(reports.REPORTS)}"
        )
    frame = build(_engine())
    if out:
        frame.to_csv(out, index=False)
        typer.echo(f"{len(frame)} rows written to {out}")
    else:
        typer.echo(frame.to_string(index=False) if not frame.empty else "(no rows)")


@app.command("ingest")
def ingest(
    mqtt_url: Annotated[str | None, typer.Option(help="broker, default AGRITRACE_MQTT_URL")] = None,
    client_id: Annotated[
        str | None, typer.Option(help="MQTT client id (persistent session)")
    ] = None,
) -> None:
    """Run the MQTT ingester (several may share the load on one broker)."""
    from drone_ingest.client import run_ingester

    run_ingester(mqtt_url=mqtt_url, client_id=client_id)


@app.command("ingest-log")
def ingest_log(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON-lines log")
    ],
    drone: Annotated[
        str | None, typer.Option(help="drone code, when the log does not name it")
    ] = None,
) -> None:
    """Ingest a flight log recorded without coverage, through the same pipeline."""
    from drone_ingest.logs import ingest_log_file

    ingest_log_file(file, drone=drone)


@app.command("simulate")
def simulate(
    drones: Annotated[int, typer.Option(help="drones flying at once")] = 10,
    rate: Annotated[float, typer.Option(help="fixes per second per drone (Hz)")] = 1.0,
    duration: Annotated[float, typer.Option(help="seconds to run")] = 60.0,
    mqtt_url: Annotated[str | None, typer.Option(help="broker, default AGRITRACE_MQTT_URL")] = None,
    speedup: Annotated[float, typer.Option(help="simulated seconds per real second")] = 1.0,
) -> None:
    """Fly a simulated fleet over the fixture fields and publish its telemetry."""
    from drone_ingest.simulate import run_simulation

    counts = run_simulation(
        drones=drones, rate=rate, duration=duration, mqtt_url=mqtt_url, speedup=speedup
    )
    typer.echo(", ".join(f"{v} {k}" for k, v in counts.items() if isinstance(v, (int, float))))


@app.command("demo")
def demo(
    port: Annotated[int, typer.Option(help="HTTP port")] = 8000,
    drones: Annotated[int, typer.Option(help="simulated drones")] = 6,
    database_url: Annotated[
        str, typer.Option(help="database for the demo")
    ] = "sqlite:///./agritrace-demo.db",
    speedup: Annotated[float, typer.Option(help="simulated seconds per real second")] = 40.0,
) -> None:
    """Everything on one machine: SQLite, an embedded broker, the ingester, the API and a fleet."""
    from agritrace.demo import run_demo

    run_demo(port=port, drones=drones, database_url=database_url, speedup=speedup)


if __name__ == "__main__":
    app()
