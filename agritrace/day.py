"""The demo's simulated day: drones keep flying, farmers keep writing, lots get harvested.

Once the demo's story is told, the day goes on at the speed-up the user chose: the fleet
flies mission after mission over the fields set aside for the day (through the same
simulator, publisher, broker and ingester as the first flights), farmers record what they
do in their diaries, and now and then a lot is harvested from a field flown long enough
ago. Everything is stamped with the simulated clock, which starts at the real time and
runs ``speed`` times faster.

Every write is keyed on the simulated time (diary ``client_id``, lot code), so nothing
the day writes can be written twice.
"""

from __future__ import annotations

import contextlib
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

__all__ = ["DayPlan", "SimulatedDay"]

# Simulated seconds between two diary entries, and between two harvests.
ENTRY_EVERY_S = 15 * 60.0
HARVEST_EVERY_S = 4 * 3600.0
YIELD_T_PER_HA = 6.8
# Fixes per real second the whole day's fleet may publish: a speed-up multiplies the
# traffic, and the embedded broker and one SQLite ingester keep up with about this much
# on a small laptop. Above it, drones report less often (fixes still come at every
# applicator switch, so the as-applied map stays right).
MAX_FIXES_PER_S = 150.0
# What farmers write between flights: (activity, input, quantity per ha, unit, note).
CHORES = [
    ("observe", None, None, None, "Thăm đồng: lúa trổ đều, chưa thấy sâu bệnh"),
    ("irrigate", None, None, None, "Bơm nước vào ruộng, giữ mực nước 5 cm"),
    ("fertilize", "DAP18460", 40.0, "kg", "Bón đón đòng bằng tay"),
    ("observe", None, None, None, "Thăm đồng sau mưa: bờ bao chắc"),
]


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
    _start: datetime = field(default_factory=lambda: datetime.now(UTC))
    _t0: float = field(default_factory=time.monotonic)
    _threads: list[threading.Thread] = field(default_factory=list)

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

    def _farm(self) -> None:
        next_entry = self._start + timedelta(seconds=ENTRY_EVERY_S / 3)
        next_harvest = self._start + timedelta(seconds=HARVEST_EVERY_S / 4)
        k = 0
        while not self.stop.is_set():
            now = self.clock()
            if now >= next_entry:
                self._write_entry(k, next_entry)
                k += 1
                next_entry += timedelta(seconds=ENTRY_EVERY_S)
            if now >= next_harvest:
                self._harvest(next_harvest)
                next_harvest += timedelta(seconds=HARVEST_EVERY_S)
            wait = (min(next_entry, next_harvest) - self.clock()).total_seconds() / self.speed
            self.stop.wait(min(1.0, max(0.05, wait)))

    def _write_entry(self, k: int, at: datetime) -> None:
        from traceability.models import DiaryEntryCreate
        from traceability.services import diary, fields

        code = self.plan.diaries[k % len(self.plan.diaries)]
        activity, input_code, per_ha, unit, note = CHORES[k % len(CHORES)]
        with Session(self.engine) as session:
            row = fields.get_field(session, code=code)
            data = DiaryEntryCreate(
                field_code=code,
                occurred_at=at,
                activity=activity,
                input_code=input_code,
                quantity=round(per_ha * row.area_ha, 1) if per_ha else None,
                unit=unit,
                note=note,
                client_id=f"demo-day-{code}-{at:%Y%m%dT%H%M%S}",
            )
            diary.append_entry(session, data=data, user=farmer_user(session, row.farmer_id))
        self.counts["diary entries"] += 1

    def _harvest(self, at: datetime) -> None:
        from traceability.errors import Conflict
        from traceability.models import LotCreate
        from traceability.services import fields, lots

        n = self.counts["lots"]
        codes = list(self.plan.harvests[n % len(self.plan.harvests)])
        local = at.astimezone(VN_TZ)  # the lot is named and dated in Vietnam time
        with Session(self.engine) as session:
            area = sum(fields.get_field(session, code=c).area_ha for c in codes)
            data = LotCreate(
                code=f"DEMO-{codes[0]}-{local:%y%m%d%H%M}",
                field_codes=codes,
                harvested_on=date(local.year, local.month, local.day),
                quantity_kg=round(area * YIELD_T_PER_HA * 1000, 0),
                product_name="Lúa tươi ST25",
            )
            with contextlib.suppress(Conflict):
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
