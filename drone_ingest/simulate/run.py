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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shapely.geometry.base import BaseGeometry

from drone_ingest.simulate.delivery import Delivery, mission_deliveries
from drone_ingest.simulate.fleet import FIXTURES_DIR, load_fleet, load_zones, near_zones
from drone_ingest.simulate.flight import fly_mission
from drone_ingest.simulate.specs import TYPE_OF_KIND, TYPE_WEIGHTS, DroneSpec, ProductSpec

log = logging.getLogger(__name__)


MAX_FIELDS_PER_MISSION = 3


def _choose_type(rng: random.Random, types: Sequence[str] | None, k: int) -> str:
    if types:
        # Drones start at different places in the cycle so a fleet flies a mix from the start.
        return types[k % len(types)]
    names = list(TYPE_WEIGHTS)
    return rng.choices(names, weights=[TYPE_WEIGHTS[n] for n in names])[0]


def _drone_traffic(
    *,
    drone: DroneSpec,
    index: int,
    groups: list[list[tuple[str, BaseGeometry]]],
    products: dict[str, list[ProductSpec]],
    rng: random.Random,
    first_start: float,
    stop_at: float,
    rate_hz: float,
    seq_base: int,
    missions_per_drone: int | None,
    types: Sequence[str] | None,
    run_id: str,
    link_loss_prob: float,
    duplicate_prob: float,
    overspray_prob: float,
    pilot: str,
    summaries: dict[str, dict[str, Any]],
    zones: list[tuple[BaseGeometry, float]],
) -> Iterator[Delivery]:
    """Every publish of one drone, mission after mission, in time order."""
    seq = seq_base
    battery = 100.0
    at = first_start
    k = 0
    while at < stop_at and (missions_per_drone is None or k < missions_per_drone):
        group = groups[k % len(groups)]
        mtype = _choose_type(rng, types, k + index)
        choices = products.get(mtype) or next(v for v in products.values() if v)
        product = rng.choice(choices)
        fields = group[:MAX_FIELDS_PER_MISSION]
        mission = fly_mission(
            fields,
            drone=drone,
            product=product,
            start_ts=datetime.fromtimestamp(at, UTC),
            rate_hz=rate_hz,
            rng=rng,
            mission_id=f"M-{drone.code}-{run_id}-{k + 1:03d}",
            seq_start=seq,
            battery_pct=battery,
            overspray_m=rng.uniform(3.0, 8.0) if rng.random() < overspray_prob else 0.0,
            operator_id=pilot,
            keep_out=near_zones(zones, fields) if zones else (),
        )
        if mission.ended_at > stop_at:
            mission = mission.truncated(stop_at)
        seq += len(mission.points)
        if mission.points:
            battery = mission.points[-1]["battery_pct"]
        summaries[mission.mission_id] = {
            "mission_id": mission.mission_id,
            "drone_id": drone.code,
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
        yield from mission_deliveries(
            mission, rng=rng, link_loss_prob=link_loss_prob, duplicate_prob=duplicate_prob
        )
        k += 1
        # The crew packs up and moves on to the next farmer's fields.
        at = mission.ended_at + rng.uniform(20.0, 60.0)


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
    if drones < 1:
        raise ValueError("drones must be at least 1")
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate must be a positive number of fixes per second, got {rate}")
    if not speedup > 0:
        raise ValueError(f"speedup must be > 0 (use inf for as fast as possible), got {speedup}")

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

    epoch = (start_ts or datetime.now(UTC)).timestamp()
    stop_at = epoch + duration if math.isfinite(duration) else math.inf
    # Sequence numbers start from the wall clock in microseconds, so a drone's seq keeps
    # increasing across runs on the same database: a rerun never repeats a stored point.
    seq_base = int(time.time() * 1_000_000)
    run_id = uuid.uuid4().hex[:6]
    summaries: dict[str, dict[str, Any]] = {}
    streams = []
    for i, drone in enumerate(fleet):
        rng = random.Random(f"{seed}:{drone.code}")
        # Each drone serves the farmers dealt to it, round robin over the fleet.
        mine = groups[i % len(groups) :: len(fleet)] or [groups[i % len(groups)]]
        streams.append(
            _drone_traffic(
                drone=drone,
                index=i,
                groups=mine,
                products=products,
                rng=rng,
                first_start=epoch + rng.uniform(0.0, 10.0),
                stop_at=stop_at,
                rate_hz=rate,
                seq_base=seq_base,
                missions_per_drone=missions_per_drone,
                types=types,
                run_id=run_id,
                link_loss_prob=link_loss_prob,
                duplicate_prob=duplicate_prob,
                overspray_prob=overspray_prob,
                pilot=f"PILOT-{drone.code[-3:]}",
                summaries=summaries,
                zones=zones,
            )
        )

    from drone_ingest.publisher import DronePublisher

    publishers: dict[str, DronePublisher] = {}
    counts = defaultdict(int)
    seen: set[str] = set()
    began = time.monotonic()
    try:
        for drone in fleet:
            pub = DronePublisher(mqtt_url, drone_id=drone.code, prefix=prefix)
            pub.connect()
            publishers[drone.code] = pub
            counts["status_messages"] += 1
        wall0 = time.monotonic()
        for d in heapq.merge(*streams):
            if stop_event is not None and stop_event.is_set():
                break
            if math.isfinite(speedup):
                delay = wall0 + (d.at - epoch) / speedup - time.monotonic()
                if delay > 0.001:
                    if stop_event is not None:
                        if stop_event.wait(delay):
                            break
                    else:
                        time.sleep(delay)
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
    missions = [s for mid, s in summaries.items() if mid in seen]
    return {
        "drones": len(fleet),
        **{
            k: counts[k]
            for k in (
                "missions_started",
                "missions_ended",
                "points",
                "telemetry_messages",
                "batches",
                "duplicates",
                "status_messages",
            )
        },
        "unacknowledged": unacked,
        "seconds": round(time.monotonic() - began, 3),
        "missions": missions,
    }


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
