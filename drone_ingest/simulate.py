"""A simulated fleet: drones flying lawnmower missions over the fixture fields.

Two layers:

- **Pure flight model** (no broker, no database), used by tests and benches:
  :func:`fly_mission` plans and flies one mission over one or more field polygons and
  returns its ``start`` / telemetry / ``end`` payloads exactly as a drone publishes them;
  :func:`flight_points` is the telemetry alone for one field; :func:`mission_deliveries`
  turns a mission into what reaches the broker, when (link losses delivered later as one
  JSON array, occasional duplicate publishes).
- :func:`run_simulation`, behind ``agritrace simulate`` and ``agritrace demo``: many
  drones, paced in (sped-up) real time, published over MQTT through
  :mod:`drone_ingest.publisher`.

How a mission is flown (all geometry in the field's UTM zone, in metres): passes run along
the field's long axis (the long side of its minimum rotated rectangle), alternating in
direction, clipped to the field, with the applicator on over the field and off in the
turns. A field ``W`` metres across gets ``ceil(W / swath)`` passes spaced ``W / n`` apart,
and that spacing is the *effective* swath each fix reports, as a drone's route planner
does: the field is covered edge to edge, with neither gaps nor double-sprayed strips.
Flow is set so the dose is realistic (tank mix 15-25 L/ha, urea and other fertilisers
80-120 kg/ha, seed ~100 kg/ha); when the tank runs dry the drone switches off, flies to
its launch point beside the field, refills (and swaps a low battery) and flies back to
resume where it stopped.

Fixes come at ``rate_hz`` and, in addition, exactly where the applicator switches, as
drone flight logs record switch events: so the as-applied map starts and stops on the
field edge instead of up to one fix interval away from it.
"""

from __future__ import annotations

import heapq
import json
import logging
import math
import random
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Polygon, shape
from shapely.geometry.base import BaseGeometry

from traceability.geo import to_metres, utm_epsg

__all__ = [
    "Delivery",
    "DroneSpec",
    "ProductSpec",
    "SimulatedMission",
    "flight_points",
    "fly_mission",
    "lawnmower_passes",
    "load_fleet",
    "load_zones",
    "mission_deliveries",
    "run_simulation",
]

log = logging.getLogger(__name__)

FIXTURES_DIR = Path(__file__).resolve().parents[1] / "fixtures"

# Speeds (m/s) and heights (m) of the phases of a flight.
PASS_SPEED_RANGE = (5.0, 7.0)
TURN_SPEED = 3.0
TRANSIT_SPEED = 7.0
PASS_ALT_RANGE = (2.0, 3.0)
TRANSIT_ALT = 4.0
# Launch point: on the bund this far beyond the end of the field's first pass.
LAUNCH_OFFSET_M = 15.0
REFILL_PAUSE_S = (45.0, 90.0)
# Battery: drain while airborne (%/s), swapped at a refill stop when below this.
BATTERY_DRAIN_PCT_S = (0.10, 0.16)
BATTERY_SWAP_BELOW = 50.0
# Doses of what leaves the nozzles / spreader, per hectare.
DOSE_RANGE = {"spray": (15.0, 25.0), "fertilize": (80.0, 120.0), "seed": (90.0, 110.0)}
# A spray drone's tank holds litres; its spreader (granules, seed) holds kilograms.
SPREADER_PER_TANK_L = 1.25
KIND_OF_TYPE = {"spray": "pesticide", "fertilize": "fertilizer", "seed": "seed"}
TYPE_OF_KIND = {v: k for k, v in KIND_OF_TYPE.items()}
TYPE_WEIGHTS = {"spray": 0.6, "fertilize": 0.3, "seed": 0.1}
MAX_FIELDS_PER_MISSION = 3
# Largest JSON array a drone uploads at once after a link loss.
MAX_BATCH = 1000


# --------------------------------------------------------------------------- specs


@dataclass(frozen=True)
class DroneSpec:
    """What the simulator needs to know about a drone."""

    code: str
    swath_m: float = 10.0
    tank_capacity: float = 40.0
    spreader_capacity_kg: float | None = None
    model: str | None = None

    @classmethod
    def of(cls, value: DroneSpec | Mapping[str, Any]) -> DroneSpec:
        """A spec from itself or from a fixture / database record as a mapping."""
        if isinstance(value, DroneSpec):
            return value
        return cls(
            code=value["code"],
            swath_m=float(value.get("swath_m") or 10.0),
            tank_capacity=float(value.get("tank_capacity") or 40.0),
            spreader_capacity_kg=value.get("spreader_capacity_kg"),
            model=value.get("model"),
        )

    def capacity(self, mission_type: str) -> float:
        """Litres of tank mix (spray) or kilograms of granules/seed one load holds."""
        if mission_type == "spray":
            return self.tank_capacity
        return float(self.spreader_capacity_kg or self.tank_capacity * SPREADER_PER_TANK_L)


@dataclass(frozen=True)
class ProductSpec:
    """An input product as the simulator uses it."""

    code: str
    kind: str
    unit: str = "L"
    max_dose_per_ha: float | None = None

    @classmethod
    def of(cls, value: ProductSpec | Mapping[str, Any]) -> ProductSpec:
        """A spec from itself or from a fixture / database record as a mapping."""
        if isinstance(value, ProductSpec):
            return value
        return cls(
            code=value["code"],
            kind=str(value["kind"]),
            unit=str(value.get("unit") or "L"),
            max_dose_per_ha=value.get("max_dose_per_ha"),
        )

    @property
    def mission_type(self) -> str:
        """``spray``, ``fertilize`` or ``seed``."""
        return TYPE_OF_KIND[self.kind]

    @property
    def flow_key(self) -> str:
        """Pesticides go out as a liquid tank mix (L/min); granules and seed in kg/min."""
        return "flow_lpm" if self.kind == "pesticide" else "flow_kgpm"

    def pick_mix(self, rng: random.Random, mix_l_per_ha: float) -> dict[str, Any]:
        """How much product one litre of tank mix holds, for a label dose on the product.

        Returned as the start event's ``tank_mix``: ``product_per_l`` (product unit per
        litre of mix), ``product_unit`` and ``product_dose_per_ha``. The wire contract does
        not require it; a receiver that knows it can turn litres of mix into product.
        """
        label = float(self.max_dose_per_ha or 1.0) * rng.uniform(0.6, 0.95)
        return {
            "product_per_l": round(label / mix_l_per_ha, 6),
            "product_unit": self.unit,
            "product_dose_per_ha": round(label, 4),
        }

    def pick_dose(self, rng: random.Random) -> float:
        """A realistic dose per hectare of what leaves the drone (tank mix, granules, seed)."""
        low, high = DOSE_RANGE[self.mission_type]
        dose = rng.uniform(low, high)
        # A fertiliser or seed label maximum is the same unit as what is spread: respect it.
        if self.kind != "pesticide" and self.max_dose_per_ha:
            dose = min(dose, 0.9 * float(self.max_dose_per_ha))
        return dose


# --------------------------------------------------------------------------- lawnmower


def _long_axis_angle(poly_m: Polygon) -> float:
    """Direction (radians, from the x axis) of the long side of the minimum rotated rectangle."""
    rect = poly_m.minimum_rotated_rectangle
    if rect.geom_type != "Polygon":
        return 0.0
    (x0, y0), (x1, y1), (x2, y2) = list(rect.exterior.coords)[:3]
    if math.hypot(x1 - x0, y1 - y0) >= math.hypot(x2 - x1, y2 - y1):
        return math.atan2(y1 - y0, x1 - x0)
    return math.atan2(y2 - y1, x2 - x1)


def _segments(geom: BaseGeometry) -> list[LineString]:
    if geom.is_empty:
        return []
    if geom.geom_type == "LineString":
        return [geom]
    return [g for g in getattr(geom, "geoms", []) if g.geom_type == "LineString" and g.length > 0]


def lawnmower_passes(
    field_m: Polygon | MultiPolygon, swath_m: float
) -> tuple[list[LineString], float]:
    """Plan the passes over a field, in flight order, and the spacing between them.

    Parameters
    ----------
    field_m : Polygon or MultiPolygon
        The field in metres (UTM).
    swath_m : float
        The drone's nominal swath; passes are at most this far apart.

    Returns
    -------
    tuple[list[LineString], float]
        Straight passes clipped to the field (a pass crossing a notch is split in two),
        alternating in direction; and the spacing, which is the effective swath.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> passes, spacing = lawnmower_passes(box(0, 0, 300, 35), 11.0)
    >>> len(passes), spacing, [round(c) for c in passes[1].coords[0]]
    (4, 8.75, [300, 13])
    """
    if swath_m <= 0:
        raise ValueError(f"swath_m must be > 0, got {swath_m}")
    angle = _long_axis_angle(field_m.convex_hull)
    centre = field_m.centroid
    # Work in a frame where the long axis is x: passes are then horizontal lines.
    flat = affinity.rotate(field_m, -angle, origin=centre, use_radians=True)
    minx, miny, maxx, maxy = flat.bounds
    width = maxy - miny
    n = max(1, math.ceil(width / swath_m - 1e-9))
    spacing = width / n
    passes: list[LineString] = []
    for k in range(n):
        y = miny + (k + 0.5) * spacing
        cut = LineString([(minx - 1.0, y), (maxx + 1.0, y)]).intersection(flat)
        if cut.geom_type in ("MultiLineString", "GeometryCollection"):
            # A pass along an edge comes back in touching pieces: one straight line is one pass.
            cut = shapely.line_merge(shapely.union_all(_segments(cut)))
        pieces = sorted(_segments(cut), key=lambda s: min(s.coords[0][0], s.coords[-1][0]))
        pieces = [
            s if s.coords[0][0] <= s.coords[-1][0] else LineString(s.coords[::-1]) for s in pieces
        ]
        if k % 2 == 1:
            pieces = [LineString(s.coords[::-1]) for s in reversed(pieces)]
        passes.extend(affinity.rotate(s, angle, origin=centre, use_radians=True) for s in pieces)
    return passes, spacing


# --------------------------------------------------------------------------- flight legs


@dataclass
class _Leg:
    """A straight piece of flight (or a pause when ``a == b`` and speed is 0)."""

    a: tuple[float, float]
    b: tuple[float, float]
    duration: float
    speed: float
    alt: float
    spraying: bool = False
    flow: float = 0.0
    swath: float | None = None
    field_code: str | None = None
    t0: float = 0.0
    tank0: float = 0.0
    battery0: float = 100.0
    airborne: bool = True


def _fly(a, b, speed, alt, **kw) -> _Leg:
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    return _Leg(a=tuple(a), b=tuple(b), duration=length / speed, speed=speed, alt=alt, **kw)


def _offset(p, direction, distance) -> tuple[float, float]:
    (x0, y0), (x1, y1) = direction
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    return p[0] + (x1 - x0) / length * distance, p[1] + (y1 - y0) / length * distance


class _Planner:
    """Turns passes into timed legs, with tank, battery and refill trips."""

    def __init__(self, *, capacity, battery, drain, pass_speed, pass_alt, rng):
        self.legs: list[_Leg] = []
        self.capacity = capacity
        self.tank = capacity
        self.battery = battery
        self.drain = drain
        self.pass_speed = pass_speed
        self.pass_alt = pass_alt
        self.rng = rng
        self.refills = 0
        self.pos: tuple[float, float] | None = None
        self.t = 0.0

    def _add(self, leg: _Leg) -> None:
        if leg.duration <= 0:
            return
        leg.t0, leg.tank0, leg.battery0 = self.t, self.tank, self.battery
        self.legs.append(leg)
        self.t += leg.duration
        self.tank -= leg.flow * leg.duration / 60.0
        if leg.airborne:
            self.battery = max(5.0, self.battery - self.drain * leg.duration)
        self.pos = leg.b

    def goto(self, p, speed, alt) -> None:
        if self.pos is not None and self.pos != tuple(p):
            self._add(_fly(self.pos, p, speed, alt))
        self.pos = tuple(p)

    def pause(self, seconds: float) -> None:
        self._add(
            _Leg(a=self.pos, b=self.pos, duration=seconds, speed=0.0, alt=0.0, airborne=False)
        )

    def refill(self, launch) -> None:
        here = self.pos
        self.goto(launch, TRANSIT_SPEED, TRANSIT_ALT)
        self.pause(self.rng.uniform(*REFILL_PAUSE_S))
        self.tank = self.capacity
        if self.battery < BATTERY_SWAP_BELOW:
            self.battery = 100.0
        self.refills += 1
        self.goto(here, TRANSIT_SPEED, TRANSIT_ALT)

    def spray_pass(self, line: LineString, *, flow, swath, field_code, launch) -> None:
        """Fly one pass with the applicator on, breaking off to refill when the tank is dry."""
        a, b = line.coords[0], line.coords[-1]
        self.goto(a, TURN_SPEED, self.pass_alt)
        remaining = 1.0  # fraction of the pass still to spray
        while remaining > 1e-9:
            start = self.pos
            leg = _fly(
                start,
                b,
                self.pass_speed,
                self.pass_alt,
                spraying=True,
                flow=flow,
                swath=swath,
                field_code=field_code,
            )
            need = flow * leg.duration / 60.0
            if need <= self.tank + 1e-9:
                self._add(leg)
                self.tank = max(self.tank, 0.0)
                return
            # The tank runs dry part-way: spray up to that point, then refill and come back.
            frac = self.tank / need
            stop = (start[0] + (b[0] - start[0]) * frac, start[1] + (b[1] - start[1]) * frac)
            if frac > 1e-6:
                self._add(
                    _fly(
                        start,
                        stop,
                        self.pass_speed,
                        self.pass_alt,
                        spraying=True,
                        flow=flow,
                        swath=swath,
                        field_code=field_code,
                    )
                )
            self.tank = 0.0
            self.refill(launch)
            remaining = math.hypot(b[0] - self.pos[0], b[1] - self.pos[1])


# --------------------------------------------------------------------------- one mission


@dataclass
class SimulatedMission:
    """One mission as the drone publishes it, with what it really did."""

    mission_id: str
    drone_id: str
    type: str
    product_code: str
    field_codes: list[str]
    start: dict[str, Any]
    points: list[dict[str, Any]]
    end: dict[str, Any]
    #: POSIX seconds of each point (the same instants as their ``ts``).
    times: np.ndarray
    #: Amount that left the drone: sum of flow x time over the applicator-on stretches.
    applied_amount: float
    amount_unit: str
    #: Area under the applicator-on stretches (length x effective swath), hectares.
    sprayed_area_ha: float
    dose_per_ha: float
    refills: int
    overspray: bool
    aborted: bool = False
    #: For sprays: product per litre of tank mix (see :meth:`ProductSpec.pick_mix`).
    tank_mix: dict[str, Any] | None = None
    x: np.ndarray = dc_field(default_factory=lambda: np.zeros(0), repr=False)
    y: np.ndarray = dc_field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def started_at(self) -> float:
        """POSIX seconds of the start event."""
        return _parse_ts(self.start["ts"])

    @property
    def ended_at(self) -> float:
        """POSIX seconds of the end event."""
        return _parse_ts(self.end["ts"])

    def truncated(self, until: float) -> SimulatedMission:
        """The mission as flown up to ``until`` (POSIX seconds), ended there (aborted)."""
        keep = int(np.searchsorted(self.times, until, side="right"))
        if keep >= len(self.points):
            return self
        points = [dict(p) for p in self.points[:keep]]
        if points:
            points[-1]["spraying"] = False
            points[-1].pop(_flow_key(points[-1]), None)
        applied, area = _measure(points, self.x[:keep], self.y[:keep], self.times[:keep])
        end = dict(
            self.end,
            ts=_iso(until),
            reported_area_ha=round(area, 4),
            reported_amount=round(applied, 3),
        )
        return replace(
            self,
            points=points,
            times=self.times[:keep],
            x=self.x[:keep],
            y=self.y[:keep],
            end=end,
            applied_amount=applied,
            sprayed_area_ha=area,
            aborted=True,
        )


def _flow_key(point: Mapping[str, Any]) -> str:
    return "flow_kgpm" if "flow_kgpm" in point else "flow_lpm"


def _measure(points, x, y, t) -> tuple[float, float]:
    """Applied amount and sprayed area of fixes, stretch i carrying the state of fix i."""
    if len(points) < 2:
        return 0.0, 0.0
    on = np.array([bool(p["spraying"]) for p in points[:-1]])
    flow = np.array([p.get("flow_lpm", p.get("flow_kgpm")) or 0.0 for p in points[:-1]])
    swath = np.array([p.get("swath_m") or 0.0 for p in points[:-1]])
    dt = np.diff(t)
    length = np.hypot(np.diff(x), np.diff(y))
    applied = float(np.sum(np.where(on, flow * dt, 0.0)) / 60.0)
    area = float(np.sum(np.where(on, length * swath, 0.0)) / 10_000.0)
    return applied, area


@lru_cache(maxsize=8)
def _to_wgs84(epsg: int) -> Transformer:
    return Transformer.from_crs(epsg, 4326, always_xy=True)


def _iso(posix: float) -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-05-01T01:00:00.250Z``."""
    dt = datetime.fromtimestamp(round(posix, 3), UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _parse_ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


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
    planner = _Planner(
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
        launch = _offset(first[0], (first[-1], first[0]), LAUNCH_OFFSET_M)
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
                    [coords[0], _offset(coords[-1], (coords[0], coords[-1]), overspray_m)]
                )
            planner.spray_pass(
                line, flow=flow, swath=round(spacing, 3), field_code=code, launch=launch
            )
            k += 1
    planner.goto(plans[-1][3], TRANSIT_SPEED, TRANSIT_ALT)
    planner.pause(2.0)

    return _sample(
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


def _sample(
    planner: _Planner,
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
            "ts": _iso(t_start + float(t[i])),
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
    applied, area = _measure(points, x, y, times)
    mtype = product.mission_type
    start = {
        "event": "start",
        "mission_id": mission_id,
        "ts": _iso(t_start),
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
        "ts": _iso(t_start + total),
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


# --------------------------------------------------------------------------- delivery


@dataclass(frozen=True, order=True)
class Delivery:
    """One publish: at simulated time ``at`` (POSIX seconds), ``payload`` on a drone's topic."""

    at: float
    order: int
    drone_id: str = dc_field(compare=False)
    kind: str = dc_field(compare=False)  # "mission" or "telemetry"
    payload: Any = dc_field(compare=False)
    what: str = dc_field(default="point", compare=False)  # start/end/point/batch/duplicate


def mission_deliveries(
    mission: SimulatedMission,
    *,
    rng: random.Random,
    link_loss_prob: float = 0.3,
    duplicate_prob: float = 0.01,
) -> list[Delivery]:
    """What reaches the broker for a mission, in time order.

    With probability ``link_loss_prob`` the link drops for 10-45 s: the fixes of that
    window are kept on board and published as one JSON array (at most ``MAX_BATCH``
    fixes per array) when it returns. Each fix is published a second time with
    probability ``duplicate_prob``, a few seconds later (a retry whose ack was lost).
    """
    out: list[Delivery] = []
    counter = iter(range(10**9))

    def add(at, kind, payload, what):
        out.append(Delivery(at, next(counter), mission.drone_id, kind, payload, what))

    add(mission.started_at, "mission", mission.start, "start")
    times = mission.times
    lost = np.zeros(len(times), dtype=bool)
    if len(times) > 10 and rng.random() < link_loss_prob:
        length = rng.uniform(10.0, 45.0)
        begin = rng.uniform(times[0], max(times[0], times[-1] - length))
        lost = (times >= begin) & (times < begin + length)
        held = np.flatnonzero(lost)
        if held.size:
            back = begin + length
            for chunk in range(0, held.size, MAX_BATCH):
                batch = [mission.points[i] for i in held[chunk : chunk + MAX_BATCH]]
                add(back, "telemetry", batch, "batch")
    for i, point in enumerate(mission.points):
        if not lost[i]:
            add(float(times[i]), "telemetry", point, "point")
        if rng.random() < duplicate_prob:
            add(float(times[i]) + rng.uniform(0.5, 5.0), "telemetry", point, "duplicate")
    # The end event goes out once everything held on board has been uploaded.
    end_at = max([mission.ended_at] + [d.at for d in out]) + 0.5
    add(end_at, "mission", mission.end, "end")
    out.sort()
    return out


# --------------------------------------------------------------------------- the fleet


def load_fleet(
    *, engine=None, directory: Path = FIXTURES_DIR
) -> tuple[list[DroneSpec], list[list[tuple[str, BaseGeometry]]], list[ProductSpec]]:
    """Drones, groups of neighbouring fields (one farmer's plots) and products.

    From the database when ``engine`` is given (what the ingester will measure against),
    else from the fixture files.
    """
    if engine is not None:
        return _fleet_from_db(engine)
    drones = [DroneSpec.of(d) for d in json.loads((directory / "drones.json").read_text("utf-8"))]
    products = [
        ProductSpec.of(p) for p in json.loads((directory / "inputs.json").read_text("utf-8"))
    ]
    collection = json.loads((directory / "fields.geojson").read_text("utf-8"))
    by_owner: dict[str, list[tuple[str, BaseGeometry]]] = defaultdict(list)
    for feature in collection["features"]:
        props = feature["properties"]
        owner = str(props.get("farmer_code") or props.get("farmer_id") or props["code"])
        by_owner[owner].append((props["code"], shape(feature["geometry"])))
    groups = [sorted(by_owner[k], key=lambda f: f[0]) for k in sorted(by_owner)]
    return drones, groups, products


def load_zones(*, engine=None, directory: Path = FIXTURES_DIR) -> list[tuple[BaseGeometry, float]]:
    """No-spray zones (canals, ponds, houses) with their buffers, from the database or fixtures."""
    if engine is not None:
        from sqlmodel import Session, select

        from traceability.models import NoSprayZone

        with Session(engine) as session:
            rows = session.exec(select(NoSprayZone.geometry, NoSprayZone.buffer_m)).all()
        return [(shape(g), float(b or 0.0)) for g, b in rows]
    path = directory / "zones.geojson"
    if not path.exists():
        return []
    features = json.loads(path.read_text("utf-8"))["features"]
    return [(shape(f["geometry"]), float(f["properties"].get("buffer_m") or 0.0)) for f in features]


def _near(zones: list[tuple[BaseGeometry, float]], group: list[tuple[str, BaseGeometry]]):
    # Degrees are fine for a coarse pre-filter: 0.002 degrees is about 200 m here.
    area = shapely.union_all([g for _, g in group]).buffer(0.002)
    return [(z, b) for z, b in zones if z.intersects(area)]


def _fleet_from_db(engine):
    from sqlmodel import Session, select

    from traceability.models import Drone, FarmField, InputProduct

    with Session(engine) as session:
        drones = [
            DroneSpec(
                code=d.code,
                swath_m=d.swath_m or 10.0,
                tank_capacity=d.tank_capacity or 40.0,
                model=d.model,
            )
            for d in session.exec(select(Drone).order_by(Drone.code)).all()
        ]
        products = [
            ProductSpec(
                code=p.code, kind=str(p.kind), unit=str(p.unit), max_dose_per_ha=p.max_dose_per_ha
            )
            for p in session.exec(select(InputProduct).order_by(InputProduct.code)).all()
        ]
        by_owner: dict[int, list[tuple[str, BaseGeometry]]] = defaultdict(list)
        for f in session.exec(select(FarmField).order_by(FarmField.code)).all():
            by_owner[f.farmer_id].append((f.code, shape(f.geometry)))
    groups = [by_owner[k] for k in sorted(by_owner)]
    return drones, groups, products


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
            keep_out=_near(zones, fields) if zones else (),
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
