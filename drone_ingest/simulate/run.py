"""The fleet in flight over MQTT: ``agritrace simulate`` and ``agritrace demo``."""

from __future__ import annotations

import heapq
import logging
import math
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shapely.geometry.base import BaseGeometry

from drone_ingest.simulate.delivery import Delivery, mission_deliveries
from drone_ingest.simulate.fleet import FIXTURES_DIR, load_fleet, load_zones, near_zones
from drone_ingest.simulate.flight import fly_mission
from drone_ingest.simulate.mission import SimulatedMission
from drone_ingest.simulate.specs import TYPE_OF_KIND, TYPE_WEIGHTS, DroneSpec, ProductSpec

log = logging.getLogger(__name__)


MAX_FIELDS_PER_MISSION = 3
# What run_simulation counts, in the order it reports them.
_COUNTED = (
    "missions_started",
    "missions_ended",
    "points",
    "telemetry_messages",
    "batches",
    "duplicates",
    "status_messages",
)


@dataclass(frozen=True)
class _Traffic:
    """What every drone of a run flies with."""

    products: dict[str, list[ProductSpec]]
    zones: list[tuple[BaseGeometry, float]]
    #: POSIX seconds when the run ends; missions still in the air are ended there.
    stop_at: float
    rate_hz: float
    seq_base: int
    run_id: str
    missions_per_drone: int | None
    types: Sequence[str] | None
    link_loss_prob: float
    duplicate_prob: float
    overspray_prob: float


# Long only for its many options and their documentation; the body loads the fleet,
# builds one stream per drone and hands them to _publish.
def run_simulation(
    *,
    drones: int,
    rate: float,
    duration: float,
    mqtt_url: str | None,
    speedup: float = 1.0,
    seed: int = 0,
    engine=None,
    prefix: str | None = None,
    stop_event: threading.Event | None = None,
    start_ts: datetime | None = None,
    missions_per_drone: int | None = None,
    types: Sequence[str] | None = None,
    fields: Sequence[str] | None = None,
    link_loss_prob: float = 0.3,
    duplicate_prob: float = 0.01,
    overspray_prob: float = 0.15,
    on_event: Callable[[str, dict[str, Any]], None] | None = None,
    fixtures: Path = FIXTURES_DIR,
) -> dict[str, Any]:
    """Fly ``drones`` simulated drones over the fixture fields and publish their traffic.

    Parameters
    ----------
    drones : int
        How many drones of the fleet fly (the first ``drones`` by code).
    rate : float
        Fixes per simulated second per drone.
    duration : float
        Simulated seconds to fly (``inf`` for no limit); at speed-up 1 these are
        wall-clock seconds. Missions still in the air then are ended where they are.
    mqtt_url : str or None
        Broker; default ``AGRITRACE_MQTT_URL``, else ``mqtt://127.0.0.1:1883``.
    speedup : float
        Simulated seconds per wall-clock second; ``inf`` publishes as fast as possible.
    seed : int
        Seed of every random choice: the same seed flies the same missions.
    engine : sqlalchemy Engine, optional
        Take drones, fields and products from this database instead of the fixture files.
    prefix : str, optional
        Topic prefix; default ``AGRITRACE_TOPIC_PREFIX``.
    stop_event : threading.Event, optional
        Set it to stop early (the drones then announce themselves offline).
    start_ts : datetime, optional
        Simulated time of the first take-off; default now.
    missions_per_drone : int, optional
        Stop each drone after this many missions.
    types : sequence of str, optional
        Mission types the drones cycle through (drone ``i`` starting at ``types[i]``);
        default a random mix, mostly spraying.
    fields : sequence of str, optional
        Only fly over these field codes.
    link_loss_prob, duplicate_prob, overspray_prob : float
        Chance per mission of a link loss and of a small overspray, per fix of a duplicate.
    on_event : callable, optional
        Called as ``on_event("start" | "end", mission_summary)`` when a mission's start or
        end event has been published (for progress bars).

    Returns
    -------
    dict
        Counts of what was published (``missions_started``, ``missions_ended``,
        ``points``, ``telemetry_messages``, ``batches``, ``duplicates``, ...), the
        seconds it took and ``missions``: a summary of each mission flown.
    """
    from traceability.config import get_settings

    settings = get_settings()
    mqtt_url = mqtt_url or settings.mqtt_url or "mqtt://127.0.0.1:1883"
    prefix = prefix or settings.topic_prefix
    _check_run(drones=drones, rate=rate, speedup=speedup)

    fleet, groups, products, zones = _fleet_to_fly(
        engine=engine, fixtures=fixtures, fields=fields, drones=drones
    )
    epoch = (start_ts or datetime.now(UTC)).timestamp()
    traffic = _Traffic(
        products=products,
        zones=zones,
        stop_at=epoch + duration if math.isfinite(duration) else math.inf,
        rate_hz=rate,
        # Sequence numbers start from the wall clock in microseconds, so a drone's seq keeps
        # increasing across runs on the same database: a rerun never repeats a stored point.
        seq_base=int(time.time() * 1_000_000),
        run_id=uuid.uuid4().hex[:6],
        missions_per_drone=missions_per_drone,
        types=types,
        link_loss_prob=link_loss_prob,
        duplicate_prob=duplicate_prob,
        overspray_prob=overspray_prob,
    )
    summaries: dict[str, dict[str, Any]] = {}
    streams = _drone_streams(traffic, fleet, groups, seed=seed, epoch=epoch, summaries=summaries)
    began = time.monotonic()
    counts, seen, unacked = _publish(
        fleet,
        heapq.merge(*streams),
        summaries,
        mqtt_url=mqtt_url,
        prefix=prefix,
        pace=_Pace(epoch=epoch, speedup=speedup, stop_event=stop_event),
        on_event=on_event,
    )
    missions = [s for mid, s in summaries.items() if mid in seen]
    return {
        "drones": len(fleet),
        **{k: counts[k] for k in _COUNTED},
        "unacknowledged": unacked,
        "seconds": round(time.monotonic() - began, 3),
        "missions": missions,
    }


def _check_run(*, drones: int, rate: float, speedup: float) -> None:
    """Refuse a run that cannot fly, naming the option."""
    if drones < 1:
        raise ValueError("drones must be at least 1")
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate must be a positive number of fixes per second, got {rate}")
    if not speedup > 0:
        raise ValueError(f"speedup must be > 0 (use inf for as fast as possible), got {speedup}")


def _fleet_to_fly(
    *, engine: Any, fixtures: Path, fields: Sequence[str] | None, drones: int
) -> tuple[
    list[DroneSpec],
    list[list[tuple[str, BaseGeometry]]],
    dict[str, list[ProductSpec]],
    list[tuple[BaseGeometry, float]],
]:
    """The drones, field groups, products by mission type and zones a run flies with.

    Only the first ``drones`` drones fly, and only over ``fields`` when given.
    """
    fleet, groups, product_list = load_fleet(engine=engine, directory=fixtures)
    zones = load_zones(engine=engine, directory=fixtures)
    if fields:
        wanted = set(fields)
        groups = [[f for f in g if f[0] in wanted] for g in groups]
        groups = [g for g in groups if g]
    if not fleet or not groups or not product_list:
        raise ValueError("no drones, fields or products to simulate with (load the fixtures first)")
    fleet = fleet[:drones]
    if len(fleet) < drones:
        log.warning("only %d drones in the fleet; flying those", len(fleet))
    products: dict[str, list[ProductSpec]] = defaultdict(list)
    for p in product_list:
        if p.kind in TYPE_OF_KIND:
            products[p.mission_type].append(p)
    return fleet, groups, products, zones


def _drone_streams(
    traffic: _Traffic,
    fleet: list[DroneSpec],
    groups: list[list[tuple[str, BaseGeometry]]],
    *,
    seed: int,
    epoch: float,
    summaries: dict[str, dict[str, Any]],
) -> list[Iterator[Delivery]]:
    """One time-ordered stream of deliveries per drone, each with its own seeded randomness."""
    return [
        _drone_traffic(
            traffic,
            drone=drone,
            index=i,
            # Each drone serves the farmers dealt to it, round robin over the fleet.
            groups=groups[i % len(groups) :: len(fleet)] or [groups[i % len(groups)]],
            rng=random.Random(f"{seed}:{drone.code}"),
            epoch=epoch,
            summaries=summaries,
        )
        for i, drone in enumerate(fleet)
    ]


def _drone_traffic(
    traffic: _Traffic,
    *,
    drone: DroneSpec,
    index: int,
    groups: list[list[tuple[str, BaseGeometry]]],
    rng: random.Random,
    epoch: float,
    summaries: dict[str, dict[str, Any]],
) -> Iterator[Delivery]:
    """Every publish of one drone, mission after mission, in time order."""
    seq = traffic.seq_base
    battery = 100.0
    at = epoch + rng.uniform(0.0, 10.0)
    k = 0
    while at < traffic.stop_at and (
        traffic.missions_per_drone is None or k < traffic.missions_per_drone
    ):
        mission = _fly_next(
            traffic, drone=drone, group=groups[k % len(groups)], rng=rng, k=k, index=index,
            at=at, seq=seq, battery=battery,
        )  # fmt: skip
        if mission.ended_at > traffic.stop_at:
            mission = mission.truncated(traffic.stop_at)
        seq += len(mission.points)
        if mission.points:
            battery = mission.points[-1]["battery_pct"]
        summaries[mission.mission_id] = _summary(mission)
        yield from mission_deliveries(
            mission,
            rng=rng,
            link_loss_prob=traffic.link_loss_prob,
            duplicate_prob=traffic.duplicate_prob,
        )
        k += 1
        # The crew packs up and moves on to the next farmer's fields.
        at = mission.ended_at + rng.uniform(20.0, 60.0)


def _fly_next(
    traffic: _Traffic,
    *,
    drone: DroneSpec,
    group: list[tuple[str, BaseGeometry]],
    rng: random.Random,
    k: int,
    index: int,
    at: float,
    seq: int,
    battery: float,
) -> SimulatedMission:
    """The drone's ``k``-th mission of the run, taking off at ``at`` over a farmer's fields."""
    mtype = _choose_type(rng, traffic.types, k + index)
    products = traffic.products
    product = rng.choice(products.get(mtype) or next(v for v in products.values() if v))
    fields = group[:MAX_FIELDS_PER_MISSION]
    return fly_mission(
        fields,
        drone=drone,
        product=product,
        start_ts=datetime.fromtimestamp(at, UTC),
        rate_hz=traffic.rate_hz,
        rng=rng,
        mission_id=f"M-{drone.code}-{traffic.run_id}-{k + 1:03d}",
        seq_start=seq,
        battery_pct=battery,
        overspray_m=rng.uniform(3.0, 8.0) if rng.random() < traffic.overspray_prob else 0.0,
        operator_id=f"PILOT-{drone.code[-3:]}",
        keep_out=near_zones(traffic.zones, fields) if traffic.zones else (),
    )


def _choose_type(rng: random.Random, types: Sequence[str] | None, k: int) -> str:
    if types:
        # Drones start at different places in the cycle so a fleet flies a mix from the start.
        return types[k % len(types)]
    names = list(TYPE_WEIGHTS)
    return rng.choices(names, weights=[TYPE_WEIGHTS[n] for n in names])[0]


def _summary(mission: SimulatedMission) -> dict[str, Any]:
    """What ``run_simulation`` reports of a mission (and passes to ``on_event``)."""
    return {
        "mission_id": mission.mission_id,
        "drone_id": mission.drone_id,
        "type": mission.type,
        "product_code": mission.product_code,
        "field_codes": mission.field_codes,
        "points": len(mission.points),
        "applied_amount": round(mission.applied_amount, 3),
        "amount_unit": mission.amount_unit,
        "sprayed_area_ha": round(mission.sprayed_area_ha, 4),
        "refills": mission.refills,
        "overspray": mission.overspray,
        "aborted": mission.aborted,
        "published": False,
    }


@dataclass(frozen=True)
class _Pace:
    """Simulated time ``epoch`` is now; ``speedup`` simulated seconds pass per real second."""

    epoch: float
    speedup: float
    stop_event: threading.Event | None

    def wait_until(self, at: float, wall0: float) -> bool:
        """Sleep until simulated time ``at`` (``wall0`` is the real start); False if stopped."""
        if self.stop_event is not None and self.stop_event.is_set():
            return False
        if math.isfinite(self.speedup):
            delay = wall0 + (at - self.epoch) / self.speedup - time.monotonic()
            if delay > 0.001:
                if self.stop_event is not None:
                    if self.stop_event.wait(delay):
                        return False
                else:
                    time.sleep(delay)
        return True


def _publish(
    fleet: list[DroneSpec],
    deliveries: Iterator[Delivery],
    summaries: dict[str, dict[str, Any]],
    *,
    mqtt_url: str,
    prefix: str,
    pace: _Pace,
    on_event: Callable[[str, dict[str, Any]], None] | None,
) -> tuple[dict[str, int], set[str], int]:
    """Publish the deliveries on time, one client per drone; counts, missions seen, unacked.

    Each drone's client announces it online when it connects and offline when it closes,
    also when the run is stopped or fails.
    """
    from drone_ingest.publisher import DronePublisher

    publishers: dict[str, DronePublisher] = {}
    counts: dict[str, int] = defaultdict(int)
    seen: set[str] = set()
    try:
        for drone in fleet:
            pub = DronePublisher(mqtt_url, drone_id=drone.code, prefix=prefix)
            pub.connect()
            publishers[drone.code] = pub
            counts["status_messages"] += 1
        wall0 = time.monotonic()
        for d in deliveries:
            if not pace.wait_until(d.at, wall0):
                break
            publishers[d.drone_id].publish(d.kind, d.payload)
            _count(counts, d)
            if d.kind == "mission":
                summary = summaries[d.payload["mission_id"]]
                seen.add(summary["mission_id"])
                if d.what == "end":
                    summary["published"] = True
                if on_event is not None:
                    on_event(d.what, summary)
    finally:
        unacked = 0
        for pub in publishers.values():
            unacked += pub.close()
            counts["status_messages"] += 1
    return counts, seen, unacked


def _count(counts: dict[str, int], d: Delivery) -> None:
    if d.what == "start":
        counts["missions_started"] += 1
    elif d.what == "end":
        counts["missions_ended"] += 1
    else:
        counts["telemetry_messages"] += 1
        if d.what == "batch":
            counts["batches"] += 1
            counts["points"] += len(d.payload)
        elif d.what == "duplicate":
            counts["duplicates"] += 1
        else:
            counts["points"] += 1
