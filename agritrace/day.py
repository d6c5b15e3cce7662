"""The demo's simulated day: drones keep flying, farmers keep writing, lots get harvested.

Once the demo's story is told, the day goes on at the speed-up the user chose: the fleet
flies mission after mission over the fields set aside for the day (through the same
simulator, publisher, broker and ingester as the first flights), farmers record what they
do in their diaries, and now and then a lot is harvested from a field flown long enough
ago. Everything is stamped with the simulated clock, which runs ``speed`` times faster
than real time.

The clock starts where the database says the last run's day stopped (:func:`resume_at`),
never earlier, so a restarted demo flies no hour twice and no drone flies two missions at
once. A field's day looks like a real one: at most one diary line a day, written in
daylight, on some days none, and none once the field's season is harvested; a field is
harvested once a season. Every write is keyed so that it cannot be written twice: a diary
line on its field and local day (``client_id``), a harvest on its field's season.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from traceability.timezone import VN_TZ

__all__ = ["DayPlan", "SimulatedDay", "resume_at", "season_lot"]

# One farmer's fields harvested a day: the day's fields are ripe over about a week, and a
# field's diary goes quiet once it is harvested.
HARVEST_EVERY_S = 24 * 3600.0
YIELD_T_PER_HA = 6.8
# Fixes per real second the whole day's fleet may publish: a speed-up multiplies the
# traffic, and the embedded broker and one SQLite ingester keep up with about this much
# on a small laptop. Above it, drones report less often (fixes still come at every
# applicator switch, so the as-applied map stays right).
MAX_FIXES_PER_S = 150.0
# Farmers write their diaries in daylight, Vietnam time.
DIARY_HOURS = (5.5, 18.5)
# The chance that a farmer writes a line about a field on a given day.
DIARY_DAY_CHANCE = 0.6
# A restarted day resumes this long after the last thing the previous run recorded.
RESUME_GAP = timedelta(minutes=5)
# What farmers write between flights: (activity, input, quantity per ha, unit, note).
CHORES = [
    ("observe", None, None, None, "Thăm đồng: lúa trổ đều, chưa thấy sâu bệnh"),
    ("irrigate", None, None, None, "Bơm nước vào ruộng, giữ mực nước 5 cm"),
    ("fertilize", "DAP18460", 40.0, "kg", "Bón đón đòng bằng tay"),
    ("observe", None, None, None, "Thăm đồng sau mưa: bờ bao chắc"),
]
DIARY_CLIENT_PREFIX = "demo-day-"


def _draw(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts``: the same field and day always draw the same."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def diary_moment(code: str, day: date, seed: int = 0) -> datetime | None:
    """When (UTC) the farmer writes about field ``code`` on local ``day``, or None that day.

    >>> at = diary_moment("GR-0001", date(2026, 3, 2))
    >>> local = at and at.astimezone(VN_TZ)
    >>> at is None or 5.5 <= local.hour + local.minute / 60 < 18.5
    True
    """
    if _draw(seed, code, day, "writes") >= DIARY_DAY_CHANCE:
        return None
    first, last = DIARY_HOURS
    hours = first + (last - first) * _draw(seed, code, day, "hour")
    local = datetime(day.year, day.month, day.day, tzinfo=VN_TZ) + timedelta(hours=hours)
    return local.astimezone(UTC).replace(second=0, microsecond=0)


def resume_at(engine: Engine, *, drones: Sequence[str], now: datetime | None = None) -> datetime:
    """Where a day's clock starts: now, or just after what an earlier run recorded, if later.

    An earlier run's clock ran ahead of real time; starting again at real time would fly
    its hours a second time. What it recorded is the day's drones' missions (an unfinished
    one by its last fix) and its farmers' diary lines.
    """
    from sqlalchemy import func
    from sqlmodel import select

    from traceability.models import DiaryEntry, Mission, MissionStatus, TelemetryPoint

    now = now or datetime.now(UTC)
    with Session(engine) as session:
        mine = Mission.drone_code.in_(list(drones))
        latest = [
            session.exec(select(func.max(Mission.started_at)).where(mine)).one(),
            session.exec(select(func.max(Mission.ended_at)).where(mine)).one(),
            session.exec(
                select(func.max(DiaryEntry.occurred_at)).where(
                    DiaryEntry.client_id.like(f"{DIARY_CLIENT_PREFIX}%")
                )
            ).one(),
        ]
        unfinished = select(Mission.mission_id).where(
            mine, Mission.status == MissionStatus.open.value
        )
        latest.append(
            session.exec(
                select(func.max(TelemetryPoint.ts)).where(TelemetryPoint.mission_id.in_(unfinished))
            ).one()
        )
    known = [t if t.tzinfo else t.replace(tzinfo=UTC) for t in latest if t is not None]
    return max([now, *(t + RESUME_GAP for t in known)])


def season_lot(session: Session, codes: Sequence[str]) -> str | None:
    """The lot already harvested from any of these fields in its current season, if any."""
    from sqlalchemy import func
    from sqlmodel import select

    from traceability.models import FarmField, Lot, LotField, Season

    sown = (
        select(Season.field_id, func.max(Season.sown_on).label("sown_on"))
        .group_by(Season.field_id)
        .subquery()
    )
    return session.exec(
        select(Lot.code)
        .join(LotField, LotField.lot_id == Lot.id)
        .join(FarmField, FarmField.id == LotField.field_id)
        .join(sown, sown.c.field_id == FarmField.id)
        .where(FarmField.code.in_(list(codes)), Lot.harvested_on >= sown.c.sown_on)
        .order_by(Lot.id)
    ).first()


@dataclass(frozen=True)
class DayPlan:
    """Where the day happens: the fields flown over and the fields harvested."""

    flown: Sequence[str]
    diaries: Sequence[str]
    harvests: Sequence[Sequence[str]]


@dataclass
class SimulatedDay:
    """The day going on in two threads, the fleet and the farmers, until ``stop`` is set."""

    engine: Engine
    plan: DayPlan
    mqtt_url: str
    prefix: str
    drones: int
    speed: float
    rate: float = 1.0
    seed: int = 0
    stop: threading.Event = field(default_factory=threading.Event)
    on_lot: Callable[[str], None] | None = None
    counts: Counter = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    #: The simulated time the day starts at (default now; the demo passes :func:`resume_at`).
    start_at: datetime | None = None
    _t0: float = field(default_factory=time.monotonic)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._start = self.start_at or datetime.now(UTC)

    def clock(self) -> datetime:
        """The simulated time now (UTC)."""
        return self._start + timedelta(seconds=(time.monotonic() - self._t0) * self.speed)

    def start(self) -> None:
        """Start the fleet and the farmers."""
        for name, target in (("demo-day-fleet", self._fly), ("demo-day-farmers", self._farm)):
            thread = threading.Thread(target=self._guard(target), name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def join(self, timeout: float = 30.0) -> None:
        """Stop and wait for both threads."""
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _guard(self, target: Callable[[], None]) -> Callable[[], None]:
        def run() -> None:
            try:
                target()
            except Exception as exc:  # noqa: BLE001 - reported on the banner, the demo goes on
                self.errors.append(f"{type(exc).__name__}: {exc}")

        return run

    def _fly(self) -> None:
        from drone_ingest.simulate import run_simulation

        def on_event(what: str, _summary: dict[str, Any]) -> None:
            self.counts[f"missions {'started' if what == 'start' else 'ended'}"] += 1

        run_simulation(
            drones=self.drones,
            rate=min(self.rate, MAX_FIXES_PER_S / (self.speed * self.drones)),
            duration=math.inf,
            mqtt_url=self.mqtt_url,
            speedup=self.speed,
            seed=self.seed,
            prefix=self.prefix,
            stop_event=self.stop,
            start_ts=self._start,
            fields=list(self.plan.flown),
            on_event=on_event,
        )

    def _diary_moments(self, day: date) -> list[tuple[datetime, str]]:
        """The diary lines of one local day, in time order: (when, field)."""
        moments = [(diary_moment(c, day, self.seed), c) for c in self.plan.diaries]
        return sorted((at, c) for at, c in moments if at is not None)

    def _farm(self) -> None:
        day = self._start.astimezone(VN_TZ).date()
        due = [m for m in self._diary_moments(day) if m[0] >= self._start]
        next_harvest = self._start + timedelta(seconds=HARVEST_EVERY_S / 4)
        while not self.stop.is_set():
            now = self.clock()
            while due and due[0][0] <= now and not self.stop.is_set():
                at, code = due.pop(0)
                self._kept(self._write_entry, code, at)
            if not due and now.astimezone(VN_TZ).date() > day:
                day += timedelta(days=1)
                due = self._diary_moments(day)
                continue
            if now >= next_harvest:
                self._kept(self._harvest, next_harvest)
                next_harvest += timedelta(seconds=HARVEST_EVERY_S)
            upcoming = min([next_harvest, *(m[0] for m in due[:1])])
            wait = (upcoming - self.clock()).total_seconds() / self.speed
            self.stop.wait(min(1.0, max(0.05, wait)))

    def _kept(self, write: Callable[..., None], *args: Any) -> None:
        """One write; a refusal is reported on the banner and the day goes on."""
        from traceability.errors import AgritraceError

        try:
            write(*args)
        except AgritraceError as exc:
            self.errors.append(f"{type(exc).__name__}: {exc}")

    def _write_entry(self, code: str, at: datetime) -> None:
        from traceability.models import DiaryEntryCreate
        from traceability.services import diary, fields

        local_day = at.astimezone(VN_TZ).date()
        activity, input_code, per_ha, unit, note = CHORES[
            int(_draw(self.seed, code, local_day, "chore") * len(CHORES))
        ]
        with Session(self.engine) as session:
            if season_lot(session, [code]) is not None:
                return  # harvested: nothing left to do on this field this season
            row = fields.get_field(session, code=code)
            data = DiaryEntryCreate(
                field_code=code,
                occurred_at=at,
                activity=activity,
                input_code=input_code,
                quantity=round(per_ha * row.area_ha, 1) if per_ha else None,
                unit=unit,
                note=note,
                # One line per field and local day, whatever the runs and restarts.
                client_id=f"{DIARY_CLIENT_PREFIX}{code}-{local_day:%Y%m%d}",
            )
            diary.append_entry(session, data=data, user=farmer_user(session, row.farmer_id))
        self.counts["diary entries"] += 1

    def _harvest(self, at: datetime) -> None:
        from traceability.models import LotCreate
        from traceability.services import fields, lots

        local = at.astimezone(VN_TZ)  # the lot is named and dated in Vietnam time
        with Session(self.engine) as session:
            # The next group not yet harvested this season; once all are, harvests stop.
            codes = next((list(g) for g in self.plan.harvests if not season_lot(session, g)), None)
            if codes is None:
                return
            area = sum(fields.get_field(session, code=c).area_ha for c in codes)
            data = LotCreate(
                code=f"DEMO-{codes[0]}-{local:%y%m%d%H%M}",
                field_codes=codes,
                harvested_on=date(local.year, local.month, local.day),
                quantity_kg=round(area * YIELD_T_PER_HA * 1000, 0),
                product_name="Lúa tươi ST25",
            )
            lots.create_lot(session, data=data)
        self.counts["lots"] += 1
        if self.on_lot is not None:
            self.on_lot(data.code)


def farmer_user(session: Session, farmer_id: int):
    """The farmer's API user, made on first use (its token is not needed to write here)."""
    from sqlmodel import select

    from traceability.models import Role, User, UserCreate
    from traceability.services import users

    user = session.exec(
        select(User).where(User.farmer_id == farmer_id, User.role == Role.farmer)
    ).first()
    if user is None:
        user, _token = users.create_user(
            session,
            data=UserCreate(name=f"demo farmer {farmer_id}", role=Role.farmer, farmer_id=farmer_id),
        )
    return user
