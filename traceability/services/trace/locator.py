"""Where a lot's fields lie in the province: a small locator drawn beside the field map.

Pure geometry, no database, no tiles: the province outline (and the field's commune,
where the office has loaded the communes' official outlines, see
:mod:`traceability.geo.boundaries`) and a marker at each field, in UTM 48N metres.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

import shapely
from shapely.geometry import Point
from shapely.geometry.base import BaseGeometry

from traceability import adminunits
from traceability.geo.boundaries import Boundaries
from traceability.geo.projection import reproject

WGS84 = 4326
UTM_48N = 32648
PROVINCE_CODE = adminunits.CA_MAU.code


@dataclass(frozen=True, slots=True)
class Locator:
    """Province (and commune) outlines and the fields' markers in a ``width`` × ``height`` box."""

    width: float
    height: float
    province_path: str
    province_name: str
    commune_paths: tuple[str, ...]
    commune_names: tuple[str, ...]
    markers: tuple[tuple[float, float], ...]
    schematic: bool


def _utm(geom: BaseGeometry) -> BaseGeometry:
    return reproject(geom, WGS84, UTM_48N)


def _path(geom: BaseGeometry, xy: Callable[[float, float], str]) -> str:
    parts = []
    for poly in getattr(geom, "geoms", [geom]):
        for ring in (poly.exterior, *poly.interiors):
            parts.append("M" + " L".join(xy(x, y) for x, y in ring.coords) + " Z")
    return " ".join(parts)


def locator(
    places: Sequence[tuple[float, float, str | None]],
    boundaries: Boundaries,
    width: float = 120.0,
    height: float = 120.0,
) -> Locator | None:
    """``(lon, lat, commune_code)`` of each field drawn inside the province's outline.

    None when there is no field, no province outline, or no field inside the province
    (a locator that points off its own map would mislead).

    >>> from traceability.geo.boundaries import load
    >>> loc = locator([(105.43, 9.24, "31957")], load())
    >>> loc.province_name, loc.commune_names, loc.schematic, len(loc.markers)
    ('tỉnh Cà Mau', ('xã Phong Thạnh',), True, 1)
    >>> locator([(2.35, 48.85, None)], load()) is None
    True
    """
    province = boundaries.outlines.get(PROVINCE_CODE)
    inside = [p for p in places if province is not None and province.contains(Point(p[:2]))]
    if not inside:
        return None
    outline = _utm(province)
    minx, miny, maxx, maxy = outline.bounds
    pad = 4.0
    scale = min((width - 2 * pad) / (maxx - minx), (height - 2 * pad) / (maxy - miny))
    off_x = (width - (maxx - minx) * scale) / 2
    off_y = (height - (maxy - miny) * scale) / 2

    def xy(x: float, y: float) -> str:
        return f"{off_x + (x - minx) * scale:.1f},{off_y + (maxy - y) * scale:.1f}"

    codes = _codes(p[2] for p in inside)
    communes = [boundaries.outlines[c] for c in codes if c in boundaries.outlines]
    marks = _utm(shapely.MultiPoint([p[:2] for p in inside]))
    return Locator(
        width=width,
        height=height,
        province_path=_path(outline, xy),
        province_name=adminunits.CA_MAU.name,
        commune_paths=tuple(_path(_utm(c), xy) for c in communes),
        commune_names=tuple(adminunits.BY_CODE[c].name for c in codes if c in adminunits.BY_CODE),
        markers=tuple(_marker(xy(m.x, m.y)) for m in _distinct(marks)),
        schematic=boundaries.schematic,
    )


def _codes(codes: Iterable[str | None]) -> list[str]:
    return sorted({c for c in codes if c})


def _distinct(points: BaseGeometry) -> list[Point]:
    """One marker per place: fields a few hundred metres apart are one dot at this scale."""
    seen: dict[tuple[int, int], Point] = {}
    for p in points.geoms:
        seen.setdefault((round(p.x / 2000), round(p.y / 2000)), p)
    return list(seen.values())


def _marker(text: str) -> tuple[float, float]:
    x, y = text.split(",")
    return float(x), float(y)
