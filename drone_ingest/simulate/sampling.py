"""From timed legs to the fixes a drone logs and the start / end events."""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import numpy as np
from pyproj import Transformer

from drone_ingest.simulate.mission import SimulatedMission, iso, measure_fixes
from drone_ingest.simulate.route import Planner


@lru_cache(maxsize=8)
def _to_wgs84(epsg: int) -> Transformer:
    return Transformer.from_crs(epsg, 4326, always_xy=True)


def sample(
    planner: Planner,
    *,
    t_start,
    rate_hz,
    epsg,
    rng,
    drone,
    product,
    mission_id,
    seq_start,
    field_codes,
    dose,
    overspray,
    operator_id,
    mix,
) -> SimulatedMission:
    legs = planner.legs
    total = planner.t
    t0 = np.array([leg.t0 for leg in legs])
    # Regular fixes, plus one wherever the applicator state or flow changes.
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

    n = len(t)
    x = np.empty(n)
    y = np.empty(n)
    heading = np.empty(n)
    last_heading = 0.0
    flow_key = product.flow_key
    points: list[dict[str, Any]] = []
    alt_noise = rng.random
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
    # The very last fix is on the ground with everything off.
    lon, lat = _to_wgs84(epsg).transform(x, y)
    for i in range(n):
        leg = legs[idx[i]]
        dt = float(t[i]) - leg.t0
        last = i == n - 1
        spraying = leg.spraying and not last
        tank = leg.tank0 - leg.flow * dt / 60.0
        battery = leg.battery0 - (planner.drain * dt if leg.airborne else 0.0)
        alt = 0.0 if not leg.airborne else leg.alt + (alt_noise() - 0.5) * 0.2
        p: dict[str, Any] = {
            "mission_id": mission_id,
            "seq": seq_start + i,
            "ts": iso(t_start + float(t[i])),
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

    times = t_start + t
    applied, area = measure_fixes(points, x, y, times)
    mtype = product.mission_type
    start = {
        "event": "start",
        "mission_id": mission_id,
        "ts": iso(t_start),
        "type": mtype,
        "product_code": product.code,
        "swath_m": drone.swath_m,
        "planned_field_codes": list(field_codes),
    }
    if operator_id:
        start["operator_id"] = operator_id
    if mix is not None:
        start["tank_mix"] = mix
    # The operator's app reports its own estimate: close to, never exactly, the truth.
    end = {
        "event": "end",
        "mission_id": mission_id,
        "ts": iso(t_start + total),
        "reported_area_ha": round(area * rng.uniform(0.97, 1.03), 4),
        "reported_amount": round(applied * rng.uniform(0.97, 1.03), 3),
    }
    return SimulatedMission(
        mission_id=mission_id,
        drone_id=drone.code,
        type=mtype,
        product_code=product.code,
        field_codes=list(field_codes),
        start=start,
        points=points,
        end=end,
        times=times,
        applied_amount=applied,
        amount_unit="L" if flow_key == "flow_lpm" else "kg",
        sprayed_area_ha=area,
        dose_per_ha=dose,
        refills=planner.refills,
        overspray=overspray,
        tank_mix=mix,
        x=x,
        y=y,
    )
