"""Route planning in metres: lawnmower passes over a field, then timed legs.

:func:`lawnmower_passes` lays the passes along the field's long axis, spaced so the field
is covered edge to edge. :class:`Planner` flies them as straight :class:`Leg` pieces with
speeds, heights and times, draining the tank and battery, and breaks off to refill at the
launch point when the tank runs dry.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import shapely
from shapely import affinity
from shapely.geometry import LineString, MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

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
class Leg:
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


def fly_leg(a, b, speed, alt, **kw) -> Leg:
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    return Leg(a=tuple(a), b=tuple(b), duration=length / speed, speed=speed, alt=alt, **kw)


def offset(p, direction, distance) -> tuple[float, float]:
    (x0, y0), (x1, y1) = direction
    length = math.hypot(x1 - x0, y1 - y0) or 1.0
    return p[0] + (x1 - x0) / length * distance, p[1] + (y1 - y0) / length * distance


class Planner:
    """Turns passes into timed legs, with tank, battery and refill trips."""

    def __init__(self, *, capacity, battery, drain, pass_speed, pass_alt, rng):
        self.legs: list[Leg] = []
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

    def _add(self, leg: Leg) -> None:
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
            self._add(fly_leg(self.pos, p, speed, alt))
        self.pos = tuple(p)

    def pause(self, seconds: float) -> None:
        self._add(Leg(a=self.pos, b=self.pos, duration=seconds, speed=0.0, alt=0.0, airborne=False))

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
            leg = fly_leg(
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
                    fly_leg(
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
