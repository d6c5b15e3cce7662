"""``agritrace demo``: the whole system on one machine, with nothing installed but the package.

It runs, in one process: a SQLite database (migrated and loaded with the fixture slice of
Bạc Liêu), an embedded MQTT broker, the ingester, the HTTP API and public pages (uvicorn)
and a simulated fleet. First a season's story is told so the buyer's trace has something
to say: a crop season on the demo fields, farmers' own diary entries (land preparation,
sowing, fertilising, a hand spray), drone missions flown forty days ago, and once those
are measured, harvest lots (one with a GTIN) and a milled lot made from two of them. Then
a simulated day goes on (:mod:`agritrace.day`) at the speed-up the user chose.

Running it again on the same database resumes: users, seasons, diary entries and lots
are found rather than made again, and the first flights, once recorded, are not flown
again (each user gets a fresh token, since only a token's hash is kept).

The embedded broker has no shared subscriptions, so the demo runs one ingester on the
plain topic filter (see :mod:`drone_ingest.broker`).
"""

from __future__ import annotations

import contextlib
import errno
import ipaddress
import math
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table
from sqlalchemy.engine import Engine
from sqlmodel import Session

from agritrace.demo_people import (
    DEMO_COOPERATIVE,
    DemoResult,
    cooperative,
    ensure_user,
    sign_ins,
)
from traceability.config import Settings
from traceability.timezone import VN_TZ

__all__ = ["DEFAULT_DATABASE_URL", "DemoConfig", "DemoError", "DemoResult", "run_demo"]

DEFAULT_DATABASE_URL = "sqlite:///./agritrace-demo.db"
# The flights are dated this long before today, so that the pre-harvest interval of every
# pesticide they spray (at most 30 days in the fixtures) has passed at harvest.
FLIGHTS_DAYS_AGO = 40
SOWN_DAYS_AGO = 100
# ST25 is harvested about 110 days after sowing: the seasons plan it ten days from today,
# so a farmer logging a spray today is warned when its PHI would not clear by then.
HARVEST_PLANNED_AFTER_DAYS = 110
YIELD_T_PER_HA = 6.8
MILLING_RATIO = 0.65
# GS1 prefix 893 is Viet Nam; the company and item digits are made up for the demo.
DEMO_GTIN_BODY = "893860000101"
MEASURE_TIMEOUT_S = 120.0
# Farmers' groups of fields the simulated day flies over, after the demo's own.
DAY_GROUPS = 6
BANNER_WIDTH = 80


class DemoError(RuntimeError):
    """The demo cannot start; the message says why and what to do."""


@dataclass(frozen=True)
class DemoConfig:
    """How the demo runs: its database, where it listens, its fleet and its speed."""

    database_url: str = DEFAULT_DATABASE_URL
    host: str = "127.0.0.1"
    port: int = 8000
    #: What QR codes and links point at; default derived from ``host`` and ``port``.
    public_base_url: str | None = None
    drones: int = 6
    #: Simulated seconds per real second (``inf``: as fast as the broker takes them).
    speed: float = 40.0
    rate: float = 1.0
    seed: int = 0
    #: Keep a simulated day going once the demo is ready.
    day: bool = True
    #: Serve until Ctrl-C; tests pass False to return once the demo is ready.
    serve_forever: bool = True

    @property
    def base_url(self) -> str:
        """The public base URL, as given or derived from where the demo listens."""
        return (self.public_base_url or default_public_url(self.host, self.port)).rstrip("/")

    def settings(self) -> Settings:
        """The demo's settings: its own database and public URL over the environment's rest."""
        return Settings(database_url=self.database_url, public_base_url=self.base_url)


def default_public_url(host: str, port: int) -> str:
    """The URL a phone can open: ``localhost`` for a loopback host, this machine's address
    on the network for a wildcard one.

    >>> default_public_url("127.0.0.1", 8000), default_public_url("10.0.0.5", 80)
    ('http://localhost:8000', 'http://10.0.0.5:80')
    """
    if host in ("", "0.0.0.0", "::"):
        shown = _lan_address() or "localhost"
    elif host == "localhost" or ipaddress.ip_address(host).is_loopback:
        shown = "localhost"
    else:
        shown = host
    if ":" in shown:
        shown = f"[{shown}]"
    return f"http://{shown}:{port}"


def _lan_address() -> str | None:
    # A UDP socket "connected" to a routable address reveals the outgoing interface's
    # address without sending anything.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("10.255.255.255", 1))
            return s.getsockname()[0]
        except OSError:
            return None


def check_port(host: str, port: int) -> None:
    """Raise :class:`DemoError` naming the port when something already listens on it."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        # As uvicorn does, so a port in TIME_WAIT after an earlier run counts as free.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise DemoError(
                    f"port {port} on {host} is already in use (another demo or server?); "
                    f"choose another with --port, e.g. --port {port + 1}"
                ) from None
            raise DemoError(f"cannot listen on {host}:{port}: {exc.strerror}") from None


def gtin_with_check_digit(body: str) -> str:
    """Append the GS1 check digit to a 12- or 13-digit body.

    >>> gtin_with_check_digit("893860000101")
    '8938600001016'
    """
    from traceability.gs1 import check_digit as gs1_check_digit

    return body + str(gs1_check_digit(body))


# --------------------------------------------------------------------------- the story


@dataclass(frozen=True)
class Fields:
    """The fields the demo uses: its story's groups and the simulated day's."""

    story: list[list[str]]
    day: list[list[str]]

    @classmethod
    def pick(cls, drones: int) -> Fields:
        """One farmer's neighbouring plots per drone for the story, the next ones for the day."""
        from drone_ingest.simulate import load_fleet

        _fleet, groups, _products = load_fleet()
        multi = [[code for code, _ in g] for g in groups if len(g) >= 2] or [
            [code for code, _ in g] for g in groups
        ]
        return cls(story=[g[:2] for g in multi[:drones]], day=multi[drones : drones + DAY_GROUPS])


def _sown_on() -> date:
    return date.today() - timedelta(days=SOWN_DAYS_AGO)


def _seasons(session: Session, codes: list[str]) -> None:
    from traceability.models import SeasonCreate
    from traceability.services import fields

    for code in codes:
        existing, _n = fields.list_seasons(session, field_code=code, offset=0, limit=1)
        if not existing:
            data = SeasonCreate(
                field_code=code,
                crop="lúa",
                variety="ST25",
                sown_on=_sown_on(),
                planned_harvest_on=_sown_on() + timedelta(days=HARVEST_PLANNED_AFTER_DAYS),
            )
            fields.create_season(session, data=data)


def _diary_story(session: Session, code: str, user, console: Console) -> None:
    """A farmer's own entries on one field; each has a ``client_id``, so a rerun adds none."""
    from traceability.errors import AgritraceError
    from traceability.models import DiaryEntryCreate
    from traceability.services import diary, fields

    area = fields.get_field(session, code=code).area_ha
    story = [
        (-3, "land_prep", None, None, None, "Làm đất, trục bùn, san phẳng mặt ruộng"),
        (0, "seed", "SEED-ST25", round(100 * area, 1), "kg", "Sạ hàng lúa giống ST25 xác nhận"),
        (18, "fertilize", "DAP18460", round(80 * area, 1), "kg", "Bón thúc lần 1 bằng tay"),
        (78, "spray", "VALIDACIN5L", round(1.5 * area, 2), "L", "Phun thuốc trị khô vằn"),
    ]
    for days, activity, input_code, qty, unit, note in story:
        day = _sown_on() + timedelta(days=days)
        # Farmers write local time: 07:00 in Bạc Liêu.
        at = datetime(day.year, day.month, day.day, 7, tzinfo=VN_TZ).astimezone(UTC)
        data = DiaryEntryCreate(
            field_code=code,
            occurred_at=at,
            activity=activity,
            input_code=input_code,
            quantity=qty,
            unit=unit,
            area_ha=round(area, 4),
            note=note,
            client_id=f"demo-{code}-{activity}-{days}",
        )
        try:
            diary.append_entry(session, data=data, user=user)
        except AgritraceError as exc:
            console.print(f"[yellow]diary entry for {code} skipped: {exc}")


def prepare(engine: Engine, picked: Fields, console: Console, result: DemoResult) -> None:
    """Schema, fixtures, users, seasons and the farmers' diaries: found if there, else made."""
    from agritrace.day import farmer_user
    from traceability.db import migrate
    from traceability.models import Role
    from traceability.services import fields
    from traceability.services.fixtures import FIXTURES_DIR, load_fixtures

    migrate(engine)
    with Session(engine) as session:
        with Progress(console=console, transient=True) as progress:
            counts = load_fixtures(session, directory=Path(FIXTURES_DIR), progress=progress)
        added = ", ".join(f"{n} {what}" for what, n in counts.items() if n)
        console.print(f"fixtures: {added or 'already loaded'}")
        _user, result.admin_token = ensure_user(session, name="demo admin", role=Role.admin)
        _seasons(session, [c for g in picked.story + picked.day for c in g])
        for gi, group in enumerate(picked.story[:2]):
            farmer_id = fields.get_field(session, code=group[0]).farmer_id
            user, token = ensure_user(
                session, name=f"demo farmer {farmer_id}", role=Role.farmer, farmer_id=farmer_id
            )
            if gi == 0:
                result.farmer_token = token
            for code in group:
                _diary_story(session, code, user, console)
        for group in picked.day:
            farmer_user(session, fields.get_field(session, code=group[0]).farmer_id)


def recorded_flights(engine: Engine, drones: list[str]) -> list[str]:
    """The story's missions a previous run recorded: the demo drones' flights of weeks ago."""
    from sqlmodel import select

    from traceability.models import Mission

    before = datetime.now(UTC) - timedelta(days=FLIGHTS_DAYS_AGO // 2)
    with Session(engine) as session:
        rows = session.exec(
            select(Mission.mission_id)
            .where(Mission.drone_code.in_(drones), Mission.started_at < before)
            .order_by(Mission.started_at)
        ).all()
    return list(rows)


def harvest(engine: Engine, picked: Fields) -> tuple[list[str], str | None]:
    """Harvest lots from the first two farmers' fields (one with a GTIN) and a milled lot.

    A field is harvested once a season: a rerun, even days later, finds the lots made then.
    """
    from agritrace.day import season_lot
    from traceability.errors import Conflict
    from traceability.models import LotCreate
    from traceability.services import fields, lots

    today = date.today()
    made: list[str] = []
    with Session(engine) as session:
        cooperative(session, [c for codes in picked.story[:2] for c in codes])
        for gi, codes in enumerate(picked.story[:2]):
            if (found := season_lot(session, codes)) is not None:
                made.append(found)
                continue
            area = sum(fields.get_field(session, code=c).area_ha for c in codes)
            data = LotCreate(
                code=f"DEMO-{codes[0]}-{today:%y%m%d}",
                field_codes=codes,
                harvested_on=today,
                quantity_kg=round(area * YIELD_T_PER_HA * 1000, 0),
                product_name="Lúa tươi ST25",
                gtin=gtin_with_check_digit(DEMO_GTIN_BODY) if gi == 0 else None,
                # Fresh paddy keeps about a month before it is dried or milled.
                shelf_life_days=30,
            )
            # A lot of that code is there already when the demo ran earlier today.
            with contextlib.suppress(Conflict):
                lots.create_lot(session, data=data)
            made.append(data.code)
        if len(made) < 2:
            return made, None
        parents = [lots.get_lot(session, code=c) for c in made]
        if (milled := _milled_from(session, [p.id for p in parents])) is not None:
            return made, milled
        data = LotCreate(
            code=f"DEMO-GAO-{today:%y%m%d}",
            parent_lots=made,
            harvested_on=today,
            quantity_kg=round(sum(p.quantity_kg for p in parents) * MILLING_RATIO, 0),
            product_name="Gạo ST25 (xay xát từ hai lô lúa)",
            brand=DEMO_COOPERATIVE["brand"],
            shelf_life_days=365,
        )
        with contextlib.suppress(Conflict):
            lots.create_lot(session, data=data)
    return made, data.code


def _milled_from(session: Session, parent_ids: list[int]) -> str | None:
    """The lot already milled from these lots, if an earlier run made it."""
    from sqlmodel import select

    from traceability.models import Lot, LotParent

    return session.exec(
        select(Lot.code)
        .join(LotParent, LotParent.lot_id == Lot.id)
        .where(LotParent.parent_id.in_(parent_ids))
        .order_by(Lot.id)
    ).first()


# --------------------------------------------------------------------------- the machinery


class Services:
    """The embedded broker, the ingester and the HTTP server, started and stopped together."""

    def __init__(self, config: DemoConfig, settings: Settings, engine: Engine):
        import uvicorn

        from drone_ingest.broker import SUPPORTS_SHARED_SUBSCRIPTIONS, EmbeddedBroker
        from drone_ingest.client import Ingester
        from traceability.api.main import create_app

        self.config = config
        self.prefix = settings.topic_prefix
        self.broker = EmbeddedBroker(host="127.0.0.1", port=0)
        self.mqtt_url = self.broker.start()
        self.ingester = Ingester(
            mqtt_url=self.mqtt_url,
            engine=engine,
            prefix=self.prefix,
            client_id="agritrace-demo-ingester",
            # amqtt has no $share subscriptions: one ingester on the plain filter.
            share_group="agritrace" if SUPPORTS_SHARED_SUBSCRIPTIONS else "",
        )
        self.app = create_app(settings=settings, engine=engine)
        self.server = uvicorn.Server(
            uvicorn.Config(
                self.app, host=config.host, port=config.port, log_level="warning", lifespan="on"
            )
        )
        self.thread = threading.Thread(target=self.server.run, name="demo-http", daemon=True)

    def start(self) -> None:
        """Subscribe the ingester, then listen for HTTP; raises :class:`DemoError` on failure."""
        self.ingester.start()
        if not self.ingester.wait_ready(15):
            raise DemoError(
                f"the ingester could not subscribe on the embedded broker {self.mqtt_url}"
            )
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        if not self.server.started:
            host, port = self.config.host, self.config.port
            raise DemoError(
                f"the HTTP server could not listen on {host}:{port}; "
                f"is the port in use? choose another with --port"
            )

    def stop(self) -> None:
        """Stop everything, the ingester first so it commits what it holds."""
        self.ingester.stop()
        self.server.should_exit = True
        if self.thread.is_alive():
            self.thread.join(15)
        self.broker.stop()


#: The story's flights (dated weeks ago) are published as fast as they can be.
STORY_SPEEDUP = math.inf


def fly_story(services: Services, config: DemoConfig, picked: Fields, console: Console) -> dict:
    """Fly one mission per demo drone over its farmer's fields, dated weeks ago."""
    from drone_ingest.simulate import run_simulation

    progress = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
    )
    flying = progress.add_task("missions flown", total=config.drones)

    def on_event(what: str, _summary: dict[str, Any]) -> None:
        if what == "end":
            progress.advance(flying)

    with progress:
        return run_simulation(
            drones=config.drones,
            rate=config.rate,
            duration=float("inf"),
            mqtt_url=services.mqtt_url,
            # Flights of weeks ago are not shown as they fly: sent as fast as the ingester
            # takes them (at --speed they held a newcomer up for most of a minute).
            speedup=STORY_SPEEDUP,
            seed=config.seed,
            prefix=services.prefix,
            start_ts=datetime.now(UTC) - timedelta(days=FLIGHTS_DAYS_AGO),
            missions_per_drone=1,
            types=["spray", "fertilize", "spray"],
            fields=[c for g in picked.story for c in g],
            on_event=on_event,
        )


def wait_measured(engine: Engine, mission_ids: list[str], timeout: float) -> int:
    """Wait until the ingester has completed and measured the missions; returns how many are."""
    from sqlalchemy import func
    from sqlmodel import select

    from traceability.models import Mission, MissionStatus

    deadline = time.monotonic() + timeout
    done = 0
    while mission_ids:
        with Session(engine) as session:
            done = session.exec(
                select(func.count())
                .select_from(Mission)
                .where(
                    Mission.mission_id.in_(mission_ids),
                    Mission.status == MissionStatus.complete,
                    Mission.dirty.is_(False),
                    Mission.measured_at.is_not(None),
                )
            ).one()
        if done >= len(mission_ids) or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    return done


# --------------------------------------------------------------------------- the banner


def banner(console: Console, config: DemoConfig, result: DemoResult) -> None:
    """What to open and how to sign in, in a table that fits 80 columns."""
    base = result.base_url
    lot = result.lots[0] if result.lots else None
    rows = [("Start here", f"{base}/"), ("API docs", f"{base}/docs")]
    if lot:
        rows += [
            ("Trace page", f"{base}/t/{lot}"),
            ("Its QR code", f"{base}/api/v1/lots/{lot}/qr.png"),
        ]
    rows.append(("Sign in", f"{base}/signin"))
    if result.farmer_link:
        rows.append(("Farmers' app", f"{base}{result.farmer_link}"))
    tokens = result.tokens or {"admin": result.admin_token}
    rows += [(f"{role.capitalize()} token", token) for role, token in tokens.items()]
    rows += [
        ("Database", config.database_url),
        ("Reports", f"agritrace report missions --database-url {config.database_url}"),
    ]
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    # A URL or token folds at the edge rather than wrapping the whole layout.
    table.add_column(style="cyan", overflow="fold")
    for label, value in rows:
        table.add_row(label, value)
    width = min(console.width, BANNER_WIDTH)
    console.rule("[bold green]agritrace demo is ready", characters="─")
    console.print(table, width=width, highlight=False)
    day = f"at {config.speed:g}x real time" if config.day else "(off)"
    console.print(
        f"The simulated day goes on {day}. Tokens sign in at /signin (the farmer: the "
        "app's link). Ctrl-C stops; running the demo again resumes where it stopped.",
        width=width,
        highlight=False,
    )
    console.rule(characters="─")


# --------------------------------------------------------------------------- run_demo


def run_demo(
    config: DemoConfig,
    *,
    console: Console | None = None,
    stop_event: threading.Event | None = None,
) -> DemoResult:
    """Set up (or resume), fly, harvest, then keep the simulated day going until Ctrl-C."""
    from traceability.db import make_engine

    console = console or Console()
    stop = stop_event or threading.Event()
    if config.drones < 1:
        raise DemoError("the demo needs at least one drone (--drones)")
    if not config.speed > 0 or (config.day and not math.isfinite(config.speed)):
        raise DemoError(f"--speed must be a positive number, got {config.speed}")
    check_port(config.host, config.port)
    settings = config.settings()
    engine = make_engine(settings.database_url)
    result = DemoResult(base_url=config.base_url)
    picked = Fields.pick(config.drones)
    console.print(f"[bold]agritrace demo[/] — database {config.database_url}", highlight=False)
    prepare(engine, picked, console, result)
    services = Services(config, settings, engine)
    day = None
    restore = _stop_on_sigterm(stop)
    restore_clock = _accept_simulated_clock()
    try:
        services.start()
        console.print(f"listening on {config.host}:{config.port}: {result.base_url}/")
        _story(services, engine, config, picked, console, result)
        sign_ins(
            engine,
            drones=_story_drones(config.drones),
            field_code=picked.story[0][0],
            result=result,
        )
        showcase = _showcase(services, config, result)
        banner(console, config, result)
        if config.day:
            day = _start_day(engine, services, config, picked, showcase, stop)
        if config.serve_forever:
            while not stop.is_set() and services.thread.is_alive():
                stop.wait(0.5)
        return result
    except KeyboardInterrupt:
        console.print("\nstopping…")
        return result
    finally:
        stop.set()
        if day is not None:
            day.join()
        services.stop()
        engine.dispose()
        restore()
        restore_clock()


#: The simulated day's clock runs ``--speed`` times faster than real time, so what it
#: records is soon dated ahead of now; the demo accepts ten years of it.
DEMO_CLOCK_AHEAD_H = 10 * 366 * 24


def _accept_simulated_clock():
    """Raise the clock tolerance (``AGRITRACE_MAX_CLOCK_AHEAD_H``) for the demo; return the undo."""
    import os

    from traceability.config import get_settings

    key = "AGRITRACE_MAX_CLOCK_AHEAD_H"
    if key in os.environ:
        return lambda: None  # the user's own choice stands

    def undo() -> None:
        os.environ.pop(key, None)
        get_settings.cache_clear()

    os.environ[key] = str(DEMO_CLOCK_AHEAD_H)
    get_settings.cache_clear()
    return undo


def _stop_on_sigterm(stop: threading.Event):
    """Let ``kill`` (or a service manager) stop the demo as cleanly as Ctrl-C does."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.signal(signal.SIGTERM, lambda _signum, _frame: stop.set())
    return lambda: signal.signal(signal.SIGTERM, previous)


def _story(services, engine, config, picked, console, result) -> None:
    drones = _story_drones(config.drones)
    result.mission_ids = recorded_flights(engine, drones)
    if not result.mission_ids:
        out = fly_story(services, config, picked, console)
        result.flew = True
        result.simulation = {k: v for k, v in out.items() if k != "missions"}
        result.mission_ids = [m["mission_id"] for m in out["missions"]]
    else:
        console.print(f"the first flights are recorded already: {len(result.mission_ids)} missions")
    with console.status("measuring the missions against the fields…"):
        result.missions_complete = wait_measured(engine, result.mission_ids, MEASURE_TIMEOUT_S)
    result.lots, result.milled_lot = harvest(engine, picked)


def _story_drones(n: int) -> list[str]:
    from drone_ingest.simulate import load_fleet

    fleet, _groups, _products = load_fleet()
    return [d.code for d in fleet[:n]]


def _showcase(services: Services, config: DemoConfig, result: DemoResult):
    from traceability.api.routes.landing import Showcase

    showcase = Showcase(
        lots=result.lots + ([result.milled_lot] if result.milled_lot else []),
        tokens=list(result.tokens.items()) or [("admin", result.admin_token)],
        farmer_link=result.farmer_link,
        speed=config.speed if config.day else None,
        report_command=f"agritrace report missions --database-url {config.database_url}",
    )
    services.app.state.showcase = showcase
    return showcase


def _start_day(engine, services, config, picked, showcase, stop):
    from agritrace.day import DayPlan, SimulatedDay, resume_at

    plan = DayPlan(
        flown=[c for g in picked.day for c in g],
        diaries=[c for g in picked.day for c in g],
        harvests=picked.story[2:] + picked.day,
    )
    day = SimulatedDay(
        engine=engine,
        plan=plan,
        mqtt_url=services.mqtt_url,
        prefix=services.prefix,
        drones=config.drones,
        speed=config.speed,
        rate=config.rate,
        seed=config.seed,
        stop=stop,
        # A rerun goes on from where the last one's clock stopped, never back to now.
        start_at=resume_at(engine, drones=_story_drones(config.drones)),
    )
    showcase.clock = day.clock
    day.start()
    return day
