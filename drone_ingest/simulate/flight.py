"""Flying one mission over fields: :func:`fly_mission` and :func:`flight_points`.

The fields are projected into the first one's UTM zone, cut free of the no-spray zones
and given their passes; a planner flies them in order and the flight is then sampled
into what the drone publishes (:mod:`.sampling`).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

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
from drone_ingest.simulate.sampling import Flight, sample
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


# Long only for its options and their documentation; the steps are the functions below.
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
    planner = _planner(rng, capacity=drone.capacity(mtype), battery=battery_pct)
    plans = _field_plans(polys, epsg=epsg, swath_m=drone.swath_m, keep_out=keep_out)
    overspray_at = rng.randrange(sum(len(p.passes) for p in plans)) if overspray_m > 0 else None
    _fly_fields(planner, plans, dose=dose, overspray_at=overspray_at, overspray_m=overspray_m)
    flight = Flight(
        mission_id=mission_id,
        drone=drone,
        product=product,
        field_codes=[p.code for p in plans],
        dose=dose,
        mix=mix,
        operator_id=operator_id,
        overspray=overspray_at is not None,
        t_start=t_start,
        seq_start=seq_start,
        rate_hz=rate_hz,
        epsg=epsg,
    )
    return sample(planner, flight, rng)


class _FieldPlan(NamedTuple):
    """One field's passes in flight order, their spacing and the launch point beside it."""

    code: str
    passes: list[LineString]
    spacing: float
    launch: tuple[float, float]


def _planner(rng: random.Random, *, capacity: float, battery: float) -> Planner:
    """A planner with this flight's pass speed and height and its battery drain."""
    pass_speed = rng.uniform(*PASS_SPEED_RANGE)
    planner = Planner(
        capacity=capacity,
        battery=battery,
        drain=rng.uniform(*BATTERY_DRAIN_PCT_S),
        pass_speed=pass_speed,
        pass_alt=rng.uniform(*PASS_ALT_RANGE),
        rng=rng,
    )
    if planner.battery < BATTERY_SWAP_BELOW + 10:
        planner.battery = 100.0  # fresh battery before take-off
    return planner


def _field_plans(
    polys: list[tuple[str, BaseGeometry]],
    *,
    epsg: int,
    swath_m: float,
    keep_out: Sequence[tuple[BaseGeometry, float]],
) -> list[_FieldPlan]:
    """Plan the passes over each field (in metres), leaving out the no-spray zones."""
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
        passes, spacing = lawnmower_passes(poly_m, swath_m)
        if not passes:
            continue
        first = passes[0].coords
        launch = offset(first[0], (first[-1], first[0]), LAUNCH_OFFSET_M)
        plans.append(_FieldPlan(code, passes, spacing, launch))
    if not plans:
        raise ValueError("no field of the mission has an area to fly over")
    return plans


def _fly_fields(
    planner: Planner,
    plans: list[_FieldPlan],
    *,
    dose: float,
    overspray_at: int | None,
    overspray_m: float,
) -> None:
    """Fly the fields' passes in order; pass number ``overspray_at`` overshoots its end."""
    # Take off at the first field's launch point, fly the fields, land at the last one's.
    planner.pos = plans[0].launch
    planner.pause(2.0)  # motors spinning up on the ground, as logs show
    k = 0
    for code, passes, spacing, launch in plans:
        # Flow that lays the dose on a strip `spacing` wide at the pass speed.
        flow = dose * spacing * planner.pass_speed * 60.0 / 10_000.0
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
    planner.goto(plans[-1].launch, TRANSIT_SPEED, TRANSIT_ALT)
    planner.pause(2.0)


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
