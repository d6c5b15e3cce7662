"""``agritrace demo``: the whole system on one machine, with nothing installed but the package.

It runs, in one process: a SQLite database (migrated and loaded with the fixture slice of
Bạc Liêu), an embedded MQTT broker, the ingester, the HTTP API and public pages (uvicorn)
and a simulated fleet flying missions over real fixture fields, sped up so they finish in
a minute or two. A season's story is written around the flights so the buyer's trace has
something to tell: a crop season on the flown fields, farmers' own diary entries (land
preparation, sowing, fertilising, a hand spray), and once the drones have landed and
their missions are measured, harvest lots (one with a GTIN) and a milled lot made from
two of them.

The embedded broker has no shared subscriptions, so the demo runs one ingester on the
plain topic filter (see :mod:`drone_ingest.broker`).
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

__all__ = ["DemoResult", "run_demo"]

# The flights are dated this long before today, so that the pre-harvest interval of every
# pesticide they spray (at most 30 days in the fixtures) has passed at harvest.
FLIGHTS_DAYS_AGO = 40
SOWN_DAYS_AGO = 100
YIELD_T_PER_HA = 6.8
MILLING_RATIO = 0.65
# GS1 prefix 893 is Viet Nam; the company and item digits are made up for the demo.
DEMO_GTIN_BODY = "893860000101"
MEASURE_TIMEOUT_S = 120.0


@dataclass
class DemoResult:
    """What the demo set up, for the banner and for tests."""

    base_url: str
    admin_token: str
    farmer_token: str | None
    mission_ids: list[str] = field(default_factory=list)
    missions_complete: int = 0
    lots: list[str] = field(default_factory=list)
    milled_lot: str | None = None
    simulation: dict[str, Any] = field(default_factory=dict)


def gtin_with_check_digit(body: str) -> str:
    """Append the GS1 check digit to a 12- or 13-digit body.

    >>> gtin_with_check_digit("893860000101")
    '8938600001016'
    """
    from traceability.gs1 import check_digit as gs1_check_digit

    return body + str(gs1_check_digit(body))


def _configure(database_url: str, port: int, host: str) -> None:
    # The API builds its engine and settings from the environment: set it first, then
    # forget whatever was read before, so the app, the ingester and we share one database.
    from traceability.config import get_settings
    from traceability.db import get_engine

    os.environ["AGRITRACE_DATABASE_URL"] = database_url
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    os.environ.setdefault("AGRITRACE_PUBLIC_BASE_URL", f"http://{shown}:{port}")
    get_settings.cache_clear()
    get_engine.cache_clear()


def _demo_groups(drones: int) -> list[list[tuple[str, Any]]]:
    """One farmer's neighbouring plots per drone: the fields the demo flies over."""
    from drone_ingest.simulate import load_fleet

    _fleet, groups, _products = load_fleet()
    multi = [g for g in groups if len(g) >= 2] or groups
    return [g[:2] for g in multi[:drones]]


def _season_story(session, groups, console: Console) -> str | None:
    """Seasons on the demo fields and the farmers' own diary entries; returns a farmer token."""
    from traceability.errors import AgritraceError
    from traceability.models import DiaryEntryCreate, Role, SeasonCreate, UserCreate
    from traceability.services import diary, fields, users

    today = date.today()
    sown = today - timedelta(days=SOWN_DAYS_AGO)
    farmer_token = None

    def at(days_after_sowing: int, hour: int = 7) -> datetime:
        day = sown + timedelta(days=days_after_sowing)
        # Farmers write local time (UTC+7): 07:00 in Bạc Liêu.
        return datetime(day.year, day.month, day.day, hour, tzinfo=UTC) - timedelta(hours=7)

    for gi, group in enumerate(groups):
        for code, _geom in group:
            field_row = fields.get_field(session, code=code)
            existing, _n = fields.list_seasons(session, field_code=code, offset=0, limit=1)
            if not existing:
                fields.create_season(
                    session,
                    data=SeasonCreate(field_code=code, crop="lúa", variety="ST25", sown_on=sown),
                )
            if gi > 1:
                continue  # the diaries of the first two farmers are enough for the lots
            farmer_user, token = _farmer_user(session, farmer_id=field_row.farmer_id)
            farmer_token = farmer_token or token
            area = field_row.area_ha
            story = [
                (-3, "land_prep", None, None, None, "Làm đất, trục bùn, san phẳng mặt ruộng"),
                (
                    0,
                    "seed",
                    "SEED-ST25",
                    round(100 * area, 1),
                    "kg",
                    "Sạ hàng lúa giống ST25 xác nhận",
                ),
                (18, "fertilize", "DAP18460", round(80 * area, 1), "kg", "Bón thúc lần 1 bằng tay"),
                (
                    78,
                    "spray",
                    "VALIDACIN5L",
                    round(1.5 * area, 2),
                    "L",
                    "Phun thuốc trị khô vằn bằng bình đeo vai",
                ),
            ]
            for days, activity, input_code, qty, unit, note in story:
                data = DiaryEntryCreate(
                    field_code=code,
                    occurred_at=at(days),
                    activity=activity,
                    input_code=input_code,
                    quantity=qty,
                    unit=unit,
                    area_ha=round(area, 4),
                    note=note,
                    # Re-running the demo re-sends the same entries: recorded once.
                    client_id=f"demo-{code}-{activity}-{days}",
                )
                try:
                    diary.append_entry(session, data=data, user=farmer_user)
                except AgritraceError as exc:
                    console.print(f"[yellow]diary entry for {code} skipped: {exc}")
    if farmer_token is None and groups:
        # A rerun on the same database: the farmer's first token was shown then; issue another.
        owner = fields.get_field(session, code=groups[0][0][0]).farmer_id
        _user, farmer_token = users.create_user(
            session, data=UserCreate(name=f"demo farmer {owner}", role=Role.farmer, farmer_id=owner)
        )
    return farmer_token


def _farmer_user(session, *, farmer_id: int):
    """The farmer's API user (made on first use) and its token, if made now."""
    from sqlmodel import select

    from traceability.models import Role, User, UserCreate
    from traceability.services import users

    user = session.exec(
        select(User).where(User.farmer_id == farmer_id, User.role == Role.farmer)
    ).first()
    if user is not None:
        return user, None  # its token was shown when the demo first ran
    # Entries go through the same ownership check a farmer's phone app meets.
    return users.create_user(
        session,
        data=UserCreate(name=f"demo farmer {farmer_id}", role=Role.farmer, farmer_id=farmer_id),
    )


def _wait_measured(engine, mission_ids: list[str], timeout: float, stop: threading.Event) -> int:
    """Wait until the ingester has completed and measured the missions; returns how many are."""
    from sqlmodel import Session, select

    from traceability.models import Mission, MissionStatus

    deadline = time.monotonic() + timeout
    done = 0
    while time.monotonic() < deadline and not stop.is_set():
        with Session(engine) as session:
            rows = session.exec(
                select(Mission.status, Mission.dirty, Mission.measured_at).where(
                    Mission.mission_id.in_(mission_ids)
                )
            ).all()
        done = sum(
            1
            for status, dirty, measured in rows
            if status == MissionStatus.complete and not dirty and measured
        )
        if done >= len(mission_ids):
            break
        stop.wait(0.5)
    return done


def _harvest(session, groups, console: Console) -> tuple[list[str], str | None]:
    """Harvest lots from the first two farmers' fields (one with a GTIN) and a milled lot."""
    from traceability.errors import Conflict
    from traceability.models import LotCreate
    from traceability.services import fields, lots

    today = date.today()
    made: list[str] = []
    for gi, group in enumerate(groups[:2]):
        codes = [code for code, _ in group]
        area = sum(fields.get_field(session, code=c).area_ha for c in codes)
        data = LotCreate(
            code=f"DEMO-{codes[0]}-{today:%y%m%d}",
            field_codes=codes,
            harvested_on=today,
            quantity_kg=round(area * YIELD_T_PER_HA * 1000, 0),
            product_name="Lúa tươi ST25",
            gtin=gtin_with_check_digit(DEMO_GTIN_BODY) if gi == 0 else None,
        )
        # A lot of that code is there already when the demo ran earlier today.
        with contextlib.suppress(Conflict):
            lots.create_lot(session, data=data)
        made.append(data.code)
    milled = None
    if len(made) == 2:
        parents = [lots.get_lot(session, code=c) for c in made]
        data = LotCreate(
            code=f"DEMO-GAO-{today:%y%m%d}",
            parent_lots=made,
            harvested_on=today,
            quantity_kg=round(sum(p.quantity_kg for p in parents) * MILLING_RATIO, 0),
            product_name="Gạo ST25 (xay xát từ hai lô lúa)",
        )
        with contextlib.suppress(Conflict):
            lots.create_lot(session, data=data)
        milled = data.code
    return made, milled


def _banner(console: Console, result: DemoResult, *, final: bool) -> None:
    base = result.base_url
    rows = [("API docs", f"{base}/docs"), ("Missions", f"{base}/api/v1/missions")]
    if result.mission_ids:
        mid = result.mission_ids[0]
        rows += [
            ("A mission", f"{base}/api/v1/missions/{mid}"),
            ("  its map", f"{base}/api/v1/missions/{mid}/geojson"),
        ]
    if final and result.lots:
        lot = result.lots[0]
        rows += [
            ("Trace page", f"{base}/t/{lot}"),
            ("  in English", f"{base}/t/{lot}?lang=en"),
            ("  as JSON", f"{base}/api/v1/trace/{lot}"),
            ("  QR code", f"{base}/api/v1/lots/{lot}/qr.png"),
        ]
        if result.milled_lot:
            rows.append(("Milled lot", f"{base}/t/{result.milled_lot}"))
    rows.append(("Ingest rejects", f"{base}/api/v1/ingest/rejects"))
    rows.append(("Admin token", result.admin_token))
    if result.farmer_token:
        rows.append(("Farmer token", result.farmer_token))
    title = "agritrace demo is ready" if final else "agritrace demo: the drones are flying"
    console.rule(f"[bold green]{title}")
    for label, value in rows:
        # soft_wrap: a long URL stays one line a terminal can open or copy, never broken.
        console.print(f"{label:<15} [cyan]{value}[/]", soft_wrap=True, highlight=False)
    if not final:
        console.print("Lots and their trace pages appear when the drones have landed.")
    console.print(
        "Missions, rejects and every write need a token: in /docs press Authorize and paste\n"
        'the admin token, or: curl -H "Authorization: Bearer <token>" URL.\n'
        "Trace pages and QR codes are public.",
        highlight=False,
    )
    console.rule()


def run_demo(
    *,
    port: int,
    drones: int,
    database_url: str,
    host: str = "127.0.0.1",
    speedup: float = 40.0,
    rate: float = 1.0,
    missions_per_drone: int = 1,
    seed: int = 0,
    serve_forever: bool = True,
    console: Console | None = None,
    stop_event: threading.Event | None = None,
) -> DemoResult:
    """Set up, fly, harvest, then serve until Ctrl-C (or return, if not ``serve_forever``).

    Parameters
    ----------
    port, host : int, str
        Where the HTTP API listens.
    drones : int
        Simulated drones; each flies over one farmer's neighbouring fields.
    database_url : str
        The demo's database (SQLite by default; PostgreSQL works too).
    speedup : float
        Simulated seconds per real second (``inf``: as fast as the broker takes them).
    rate : float
        Telemetry fixes per simulated second per drone.
    missions_per_drone : int
        Missions each drone flies.
    serve_forever : bool
        Keep serving after the lots are made until Ctrl-C; tests pass False.
    stop_event : threading.Event, optional
        Set to stop early (as Ctrl-C does).
    """
    import uvicorn
    from sqlmodel import Session

    from drone_ingest.broker import SUPPORTS_SHARED_SUBSCRIPTIONS, EmbeddedBroker
    from drone_ingest.client import Ingester
    from drone_ingest.simulate import run_simulation
    from traceability.api.main import create_app
    from traceability.config import get_settings
    from traceability.db import get_engine, migrate
    from traceability.models import Role, UserCreate
    from traceability.services.fixtures import FIXTURES_DIR, load_fixtures
    from traceability.services.users import create_user

    console = console or Console()
    stop = stop_event or threading.Event()
    if drones < 1:
        raise ValueError("the demo needs at least one drone")
    _configure(database_url, port, host)
    settings = get_settings()
    engine = get_engine()
    prefix = settings.topic_prefix
    shown = "localhost" if host in ("127.0.0.1", "0.0.0.0") else host
    result = DemoResult(base_url=f"http://{shown}:{port}", admin_token="", farmer_token=None)

    console.print(
        f"[bold]agritrace demo[/] — database {engine.url.render_as_string(hide_password=True)}"
    )
    migrate(engine)
    groups = _demo_groups(drones)
    with Session(engine) as session:
        with Progress(console=console, transient=True) as progress:
            counts = load_fixtures(session, directory=Path(FIXTURES_DIR), progress=progress)
        added = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
        console.print(f"fixtures: {added or 'already loaded'}")
        _user, result.admin_token = create_user(
            session, data=UserCreate(name="demo admin", role=Role.admin)
        )
        result.farmer_token = _season_story(session, groups, console)

    broker = EmbeddedBroker(host="127.0.0.1", port=0)
    mqtt_url = broker.start()
    ingester = Ingester(
        mqtt_url=mqtt_url,
        engine=engine,
        prefix=prefix,
        client_id="agritrace-demo-ingester",
        # amqtt has no $share subscriptions: one ingester on the plain filter.
        share_group="agritrace" if SUPPORTS_SHARED_SUBSCRIPTIONS else "",
    )
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host=host, port=port, log_level="warning", lifespan="on")
    )
    server_thread = threading.Thread(target=server.run, name="demo-http", daemon=True)
    sim_thread: threading.Thread | None = None
    try:
        ingester.start()
        if not ingester.wait_ready(15):
            raise RuntimeError(
                f"the ingester could not subscribe on the embedded broker {mqtt_url}"
            )
        server_thread.start()
        deadline = time.monotonic() + 15
        while not server.started and server_thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not server.started:
            raise RuntimeError(
                f"the HTTP server could not listen on {host}:{port} (is the port in use?)"
            )

        field_codes = [code for g in groups for code, _ in g]
        progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        )
        flying = progress.add_task("missions flown", total=drones * missions_per_drone)
        points = {"n": 0}

        def on_event(what: str, summary: dict[str, Any]) -> None:
            if what == "start":
                result.mission_ids.append(summary["mission_id"])
                if len(result.mission_ids) == 1:
                    _banner(progress.console, result, final=False)
            elif what == "end":
                points["n"] += summary["points"]
                progress.update(
                    flying, advance=1, description=f"missions flown ({points['n']:,} fixes)"
                )

        sim_out: dict[str, Any] = {}

        def simulate() -> None:
            try:
                sim_out.update(
                    run_simulation(
                        drones=drones,
                        rate=rate,
                        duration=float("inf"),
                        mqtt_url=mqtt_url,
                        speedup=speedup,
                        seed=seed,
                        prefix=prefix,
                        stop_event=stop,
                        start_ts=datetime.now(UTC) - timedelta(days=FLIGHTS_DAYS_AGO),
                        missions_per_drone=missions_per_drone,
                        types=["spray", "fertilize", "spray"],
                        fields=field_codes,
                        on_event=on_event,
                    )
                )
            except Exception as exc:  # noqa: BLE001 - shown to the user, the demo goes on
                sim_out["error"] = exc

        with progress:
            sim_thread = threading.Thread(target=simulate, name="demo-fleet", daemon=True)
            sim_thread.start()
            while sim_thread.is_alive():
                sim_thread.join(0.2)
            if "error" in sim_out:
                console.print(f"[red]the simulated fleet stopped: {sim_out['error']}")
            measuring = progress.add_task("missions measured", total=len(result.mission_ids))
            waiter = threading.Thread(
                target=lambda: sim_out.__setitem__(
                    "measured", _wait_measured(engine, result.mission_ids, MEASURE_TIMEOUT_S, stop)
                ),
                daemon=True,
            )
            waiter.start()
            while waiter.is_alive():
                waiter.join(0.5)
                progress.update(measuring, completed=_count_measured(engine, result.mission_ids))
        result.simulation = {k: v for k, v in sim_out.items() if k != "missions"}
        result.missions_complete = sim_out.get("measured", 0)
        if stop.is_set():
            return result
        with Session(engine) as session:
            result.lots, result.milled_lot = _harvest(session, groups, console)
        _banner(console, result, final=True)
        if serve_forever:
            console.print("Serving. Press Ctrl-C to stop.")
            while not stop.is_set() and server_thread.is_alive():
                stop.wait(0.5)
        return result
    except KeyboardInterrupt:
        console.print("\nstopping…")
        return result
    finally:
        stop.set()
        if sim_thread is not None:
            sim_thread.join(30)
        ingester.stop()
        server.should_exit = True
        if server_thread.is_alive():
            server_thread.join(15)
        broker.stop()


def _count_measured(engine, mission_ids: list[str]) -> int:
    from sqlalchemy import func
    from sqlmodel import Session, select

    from traceability.models import Mission, MissionStatus

    if not mission_ids:
        return 0
    with Session(engine) as session:
        return session.exec(
            select(func.count())
            .select_from(Mission)
            .where(
                Mission.mission_id.in_(mission_ids),
                Mission.status == MissionStatus.complete,
                Mission.dirty.is_(False),
                Mission.measured_at.is_not(None),
            )
        ).one()
