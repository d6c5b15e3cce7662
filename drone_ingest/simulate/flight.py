"""Flying one mission over fields."""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import shapely
from shapely.geometry import LineString, MultiPolygon, shape
from shapely.geometry.base import BaseGeometry

from drone_ingest.simulate.mission import SimulatedMission
from drone_ingest.simulate.route import (
    BATTERY_DRAIN_PCT_S,
    BATTERY_SWAP_BELOW,
    LAUNCH_OFFSET_M,
    PASS_ALT_RANGE,
    PASS_SPEED_RANGE,
    TRANSIT_ALT,
    TRANSIT_SPEED,
    Planner,
    lawnmower_passes,
    offset,
)
from drone_ingest.simulate.sampling import sample
from drone_ingest.simulate.specs import DroneSpec, ProductSpec
from traceability.geo import to_metres, utm_epsg


def _as_polygons(
    fields: Sequence[tuple[str, BaseGeometry]] | BaseGeometry,
) -> list[tuple[str, BaseGeometry]]:
    if isinstance(fields, BaseGeometry):
        return [("FIELD", fields)]
    return [(code, shape(geom) if isinstance(geom, Mapping) else geom) for code, geom in fields]


def _without_slivers(geom: BaseGeometry, min_m2: float = 20.0) -> BaseGeometry | None:
    """The polygon parts of ``geom`` big enough to fly over, or None."""
    parts = [
        g for g in getattr(geom, "geoms", [geom]) if g.geom_type == "Polygon" and g.area >= min_m2
    ]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def fly_mission(
    fields: Sequence[tuple[str, BaseGeometry]] | BaseGeometry,
    *,
    drone: DroneSpec | Mapping[str, Any],
    product: ProductSpec | Mapping[str, Any],
    start_ts: datetime,
    rate_hz: float = 1.0,
    rng: random.Random | None = None,
    mission_id: str | None = None,
    seq_start: int = 0,
    battery_pct: float = 100.0,
    dose_per_ha: float | None = None,
    overspray_m: float = 0.0,
    operator_id: str | None = None,
    keep_out: Sequence[tuple[BaseGeometry, float]] = (),
) -> SimulatedMission:
    """Fly one mission over fields and return what the drone publishes.

    Parameters
    ----------
    fields : sequence of (code, Polygon) or a Polygon
        Field polygons in WGS84 (shapely or GeoJSON mappings), flown in this order.
    drone, product : DroneSpec / ProductSpec or mappings like the fixture records
        The product's kind decides the mission type (pesticide -> spray, ...).
    start_ts : datetime
        Time of the start event; the drone takes off then.
    rate_hz : float
        Fixes per second (switch events add a few more).
    rng : random.Random
        Source of the mission's variations (speed, height, dose, pauses).
    mission_id : str, optional
        Defaults to one made from the drone and start time.
    seq_start : int
        ``seq`` of the first fix; the next mission of the drone continues after the last.
    battery_pct : float
        Battery at take-off.
    dose_per_ha : float, optional
        Override the random realistic dose.
    overspray_m : float
        If > 0, one pass (chosen by ``rng``) keeps spraying this far past the field edge.
    operator_id : str, optional
        Pilot id for the start event.
    keep_out : sequence of (Polygon, buffer_m)
        No-spray zones in WGS84 and the distance to keep from them: the route planner
        leaves them out of the passes, as a careful operator's does.

    Returns
    -------
    SimulatedMission
        ``start`` and ``end`` payloads, telemetry ``points`` (dicts with the wire keys)
        and the truth: applied amount, sprayed area, refills.
    """
    if rate_hz <= 0 or not math.isfinite(rate_hz):
        raise ValueError(f"rate_hz must be a positive number, got {rate_hz}")
    rng = rng or random.Random(0)
    drone = DroneSpec.of(drone)
    product = ProductSpec.of(product)
    polys = _as_polygons(fields)
    if not polys:
        raise ValueError("a mission needs at least one field")
    mtype = product.mission_type
    t_start = start_ts.timestamp()
    if mission_id is None:
        mission_id = f"{drone.code}-{start_ts.astimezone(UTC):%Y%m%dT%H%M%S}"

    centre = polys[0][1].centroid
    epsg = utm_epsg(centre.x, centre.y)
    dose = dose_per_ha if dose_per_ha is not None else product.pick_dose(rng)
    # A pesticide is diluted in the tank: the label dose of product per hectare goes out in
    # `dose` litres of tank mix. Only the start event says how strong the mix is.
    mix = product.pick_mix(rng, dose) if product.kind == "pesticide" else None
    pass_speed = rng.uniform(*PASS_SPEED_RANGE)
    planner = Planner(
        capacity=drone.capacity(mtype),
        battery=battery_pct,
        drain=rng.uniform(*BATTERY_DRAIN_PCT_S),
        pass_speed=pass_speed,
        pass_alt=rng.uniform(*PASS_ALT_RANGE),
        rng=rng,
    )
    if planner.battery < BATTERY_SWAP_BELOW + 10:
        planner.battery = 100.0  # fresh battery before take-off

    blocked = None
    if keep_out:
        blocked = shapely.union_all(
            [to_metres(z, epsg)[0].buffer(max(b, 0.0)) for z, b in keep_out]
        )
    plans = []
    for code, poly in polys:
        poly_m, _ = to_metres(poly, epsg)
        if blocked is not None and poly_m.intersects(blocked):
            poly_m = _without_slivers(poly_m.difference(blocked))
            if poly_m is None:
                continue
        passes, spacing = lawnmower_passes(poly_m, drone.swath_m)
        if not passes:
            continue
        first = passes[0].coords
        launch = offset(first[0], (first[-1], first[0]), LAUNCH_OFFSET_M)
        plans.append((code, passes, spacing, launch))
    if not plans:
        raise ValueError("no field of the mission has an area to fly over")
    overspray_at = None
    if overspray_m > 0:
        which = rng.randrange(sum(len(p[1]) for p in plans))
        overspray_at = which

    # Take off at the first field's launch point, fly the fields, land at the last one's.
    planner.pos = plans[0][3]
    planner.pause(2.0)  # motors spinning up on the ground, as logs show
    k = 0
    for code, passes, spacing, launch in plans:
        # Flow that lays the dose on a strip `spacing` wide at the pass speed.
        flow = dose * spacing * pass_speed * 60.0 / 10_000.0
        planner.goto(passes[0].coords[0], TRANSIT_SPEED, TRANSIT_ALT)
        for line in passes:
            if k == overspray_at:
                coords = line.coords
                line = LineString(
                    [coords[0], offset(coords[-1], (coords[0], coords[-1]), overspray_m)]
                )
            planner.spray_pass(
                line, flow=flow, swath=round(spacing, 3), field_code=code, launch=launch
            )
            k += 1
    planner.goto(plans[-1][3], TRANSIT_SPEED, TRANSIT_ALT)
    planner.pause(2.0)

    return sample(
        planner,
        t_start=t_start,
        rate_hz=rate_hz,
        epsg=epsg,
        rng=rng,
        drone=drone,
        product=product,
        mission_id=mission_id,
        seq_start=seq_start,
        field_codes=[p[0] for p in plans],
        dose=dose,
        overspray=overspray_at is not None,
        operator_id=operator_id,
        mix=mix,
    )


def flight_points(
    field_polygon_wgs84: BaseGeometry,
    *,
    drone: DroneSpec | Mapping[str, Any],
    product: ProductSpec | Mapping[str, Any],
    start_ts: datetime,
    rate_hz: float = 1.0,
    rng: random.Random | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    """The telemetry of one mission over one field (see :func:`fly_mission`)."""
    return fly_mission(
        field_polygon_wgs84,
        drone=drone,
        product=product,
        start_ts=start_ts,
        rate_hz=rate_hz,
        rng=rng,
        **kwargs,
    ).points
