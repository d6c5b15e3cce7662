"""From timed legs to the fixes a drone logs and the start / end events.

Fixes come at the logging rate plus one at every applicator switch; each is placed on its
leg, projected back to WGS84 and written with the wire keys of the telemetry topic.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np
from pyproj import Transformer

from drone_ingest.simulate.mission import SimulatedMission, iso, measure_fixes
from drone_ingest.simulate.route import Leg, Planner
from drone_ingest.simulate.specs import DroneSpec, ProductSpec


@lru_cache(maxsize=8)
def _to_wgs84(epsg: int) -> Transformer:
    return Transformer.from_crs(epsg, 4326, always_xy=True)


@dataclass(frozen=True)
class Flight:
    """What a mission is besides its legs: who flies what over which fields, logged how."""

    mission_id: str
    drone: DroneSpec
    product: ProductSpec
    field_codes: list[str]
    dose: float
    #: For sprays: the start event's ``tank_mix`` (see :meth:`ProductSpec.pick_mix`).
    mix: dict[str, Any] | None
    operator_id: str | None
    overspray: bool
    #: POSIX seconds of take-off; leg times count from it.
    t_start: float
    seq_start: int
    rate_hz: float
    #: UTM zone the legs are in.
    epsg: int


def sample(planner: Planner, flight: Flight, rng: random.Random) -> SimulatedMission:
    """Sample the planner's legs into the mission the drone publishes."""
    t, idx = _fix_times(planner.legs, planner.t, flight.rate_hz)
    x, y, heading = _positions(planner.legs, t, idx)
    points = _telemetry(planner, flight, rng, t=t, idx=idx, x=x, y=y, heading=heading)
    times = flight.t_start + t
    applied, area = measure_fixes(points, x, y, times)
    start, end = _events(flight, rng, total=planner.t, applied=applied, area=area)
    product = flight.product
    return SimulatedMission(
        mission_id=flight.mission_id,
        drone_id=flight.drone.code,
        type=product.mission_type,
        product_code=product.code,
        field_codes=list(flight.field_codes),
        start=start,
        points=points,
        end=end,
        times=times,
        applied_amount=applied,
        amount_unit="L" if product.flow_key == "flow_lpm" else "kg",
        sprayed_area_ha=area,
        dose_per_ha=flight.dose,
        refills=planner.refills,
        overspray=flight.overspray,
        tank_mix=flight.mix,
        x=x,
        y=y,
    )


def _fix_times(legs: list[Leg], total: float, rate_hz: float) -> tuple[np.ndarray, np.ndarray]:
    """Times of the fixes (seconds from take-off) and the leg each belongs to.

    Regular fixes at ``rate_hz``, plus one wherever the applicator state or flow changes,
    plus the landing at ``total``.
    """
    t0 = np.array([leg.t0 for leg in legs])
    ticks = np.arange(0.0, total, 1.0 / rate_hz)
    tick_leg = np.clip(np.searchsorted(t0, ticks, side="right") - 1, 0, len(legs) - 1)
    # A switch fix belongs to the leg it starts (its state governs the stretch after it);
    # looking its time up would risk landing on the previous leg by a rounding error.
    switch_legs = [
        j
        for j in range(1, len(legs))
        if (legs[j - 1].spraying, legs[j - 1].flow) != (legs[j].spraying, legs[j].flow)
    ]
    switch_t = t0[switch_legs] if switch_legs else np.zeros(0)
    near = np.zeros(len(ticks), dtype=bool)
    if len(switch_t):
        pos = np.searchsorted(switch_t, ticks)
        for side in (pos - 1, pos):
            ok = (side >= 0) & (side < len(switch_t))
            near[ok] |= np.abs(switch_t[side[ok]] - ticks[ok]) < 1e-3
    t = np.concatenate([ticks[~near], switch_t, [total]])
    idx = np.concatenate([tick_leg[~near], np.asarray(switch_legs, dtype=int), [len(legs) - 1]])
    order = np.argsort(t, kind="stable")
    t, idx = t[order], idx[order]
    if len(t) > 1 and t[-1] - t[-2] < 1e-3:
        t, idx = np.delete(t, -2), np.delete(idx, -2)
    return t, idx


def _positions(
    legs: list[Leg], t: np.ndarray, idx: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each fix is (metres) and the heading (degrees) of the last leg flown."""
    n = len(t)
    x = np.empty(n)
    y = np.empty(n)
    heading = np.empty(n)
    last_heading = 0.0
    for i in range(n):
        leg = legs[idx[i]]
        dt = float(t[i]) - leg.t0
        frac = min(1.0, dt / leg.duration) if leg.duration > 0 else 1.0
        x[i] = leg.a[0] + (leg.b[0] - leg.a[0]) * frac
        y[i] = leg.a[1] + (leg.b[1] - leg.a[1]) * frac
        if leg.speed > 0:
            last_heading = (
                math.degrees(math.atan2(leg.b[0] - leg.a[0], leg.b[1] - leg.a[1])) % 360.0
            )
        heading[i] = last_heading
    return x, y, heading


def _telemetry(
    planner: Planner,
    flight: Flight,
    rng: random.Random,
    *,
    t: np.ndarray,
    idx: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    heading: np.ndarray,
) -> list[dict[str, Any]]:
    """The telemetry payloads of the fixes, with the wire keys."""
    legs = planner.legs
    n = len(t)
    flow_key = flight.product.flow_key
    points: list[dict[str, Any]] = []
    alt_noise = rng.random
    lon, lat = _to_wgs84(flight.epsg).transform(x, y)
    for i in range(n):
        leg = legs[idx[i]]
        dt = float(t[i]) - leg.t0
        # The very last fix is on the ground with everything off.
        last = i == n - 1
        spraying = leg.spraying and not last
        tank = leg.tank0 - leg.flow * dt / 60.0
        battery = leg.battery0 - (planner.drain * dt if leg.airborne else 0.0)
        alt = 0.0 if not leg.airborne else leg.alt + (alt_noise() - 0.5) * 0.2
        p: dict[str, Any] = {
            "mission_id": flight.mission_id,
            "seq": flight.seq_start + i,
            "ts": iso(flight.t_start + float(t[i])),
            "lat": round(float(lat[i]), 8),
            "lon": round(float(lon[i]), 8),
            "alt_m": round(alt, 2),
            "speed_mps": round(leg.speed, 2),
            "heading_deg": round(float(heading[i]), 1),
            "spraying": spraying,
        }
        if spraying:
            p[flow_key] = round(leg.flow, 4)
            p["swath_m"] = leg.swath
        p["tank_remaining"] = round(max(tank, 0.0), 3)
        p["battery_pct"] = round(max(battery, 5.0), 1)
        points.append(p)
    return points


def _events(
    flight: Flight, rng: random.Random, *, total: float, applied: float, area: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The mission's start and end events; the end reports the operator app's estimates."""
    start: dict[str, Any] = {
        "event": "start",
        "mission_id": flight.mission_id,
        "ts": iso(flight.t_start),
        "type": flight.product.mission_type,
        "product_code": flight.product.code,
        "swath_m": flight.drone.swath_m,
        "planned_field_codes": list(flight.field_codes),
    }
    if flight.operator_id:
        start["operator_id"] = flight.operator_id
    if flight.mix is not None:
        start["tank_mix"] = flight.mix
    # The operator's app reports its own estimate: close to, never exactly, the truth.
    end = {
        "event": "end",
        "mission_id": flight.mission_id,
        "ts": iso(flight.t_start + total),
        "reported_area_ha": round(area * rng.uniform(0.97, 1.03), 4),
        "reported_amount": round(applied * rng.uniform(0.97, 1.03), 3),
    }
    return start, end
