"""A lot's fields drawn for the trace page: SVG-ready polygons, labels and a scale bar.

Pure geometry, no database. This is a drawing, not a measurement (areas come from
``traceability.geo`` in each field's UTM zone): the polygons are put in metres by a
local equirectangular projection around the fields, which is within 0.1 % of UTM
over the few kilometres a lot spans and costs microseconds per field, where a
pyproj transform per field costs three times as much on every first scan.
"""

import math
from dataclasses import dataclass
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True, slots=True)
class MapPolygon:
    """One field in the drawing: its outline as an SVG path, and where its label goes."""

    code: str
    path: str
    label_x: str
    label_y: str
    label_angle: float


@dataclass(frozen=True, slots=True)
class FieldMap:
    """The fields of a lot in an SVG viewBox ``width`` × ``height`` (north up)."""

    width: float
    height: float
    polygons: tuple[MapPolygon, ...]
    scale_bar_px: float
    scale_bar_label: str


def label_angle(metres: BaseGeometry) -> float:
    """Degrees to turn a field's label so it runs along the field's long side.

    Mekong paddies are long and narrow, side by side: labels written across them
    run into their neighbours.

    >>> from shapely.geometry import box
    >>> label_angle(box(0, 0, 40, 300)), label_angle(box(0, 0, 300, 40))
    (-90.0, 0.0)
    """
    ring = list(metres.minimum_rotated_rectangle.exterior.coords)
    sides = [(ring[i + 1][0] - ring[i][0], ring[i + 1][1] - ring[i][1]) for i in range(2)]
    dx, dy = max(sides, key=lambda d: math.hypot(*d))
    # SVG's y axis points down, so a side rising to the north-east turns counter-clockwise.
    angle = -math.degrees(math.atan2(dy, dx))
    angle = (angle + 90.0) % 180.0 - 90.0  # keep the text upright
    return round(-90.0 if angle == 90.0 else angle, 1)


def field_map(
    fields: list[tuple[str, dict[str, Any]]], width: float = 320.0, height: float = 220.0
) -> FieldMap | None:
    """``(code, GeoJSON geometry in WGS84)`` pairs drawn into a ``width`` × ``height`` viewBox.

    >>> square = {"type": "Polygon", "coordinates": [[[105.7, 9.3], [105.701, 9.3],
    ...     [105.701, 9.301], [105.7, 9.301], [105.7, 9.3]]]}
    >>> m = field_map([("GR-1", square)])
    >>> m.polygons[0].path.startswith("M"), m.scale_bar_label
    (True, '100 m')
    >>> field_map([]) is None
    True
    """
    if not fields:
        return None
    geoms = [(code, shape(geometry)) for code, geometry in fields]
    lat0 = math.radians(sum(g.centroid.y for _, g in geoms) / len(geoms))
    kx, ky = 111_320.0 * math.cos(lat0), 110_574.0
    shapes = [(code, shapely.transform(g, lambda xy: xy * [kx, ky])) for code, g in geoms]
    minx = min(s.bounds[0] for _, s in shapes)
    miny = min(s.bounds[1] for _, s in shapes)
    maxx = max(s.bounds[2] for _, s in shapes)
    maxy = max(s.bounds[3] for _, s in shapes)
    pad = 12.0
    span_x, span_y = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
    scale = min((width - 2 * pad) / span_x, (height - 2 * pad) / span_y)
    off_x = (width - span_x * scale) / 2
    off_y = (height - span_y * scale) / 2

    def xy(x: float, y: float) -> str:
        return f"{off_x + (x - minx) * scale:.1f},{off_y + (maxy - y) * scale:.1f}"

    out = []
    for code, metres in shapes:
        path = []
        for poly in getattr(metres, "geoms", [metres]):
            for ring in (poly.exterior, *poly.interiors):
                path.append("M" + " L".join(xy(x, y) for x, y in ring.coords) + " Z")
        c = metres.representative_point()
        label_x, label_y = xy(c.x, c.y).split(",")
        out.append(MapPolygon(code, " ".join(path), label_x, label_y, label_angle(metres)))
    # A 100 m scale bar (or 1 km for a spread-out lot) so the buyer sees the size.
    bar_m = 100.0 if span_x < 2000 else 1000.0
    return FieldMap(
        width=width,
        height=height,
        polygons=tuple(out),
        scale_bar_px=round(bar_m * scale, 1),
        scale_bar_label="100 m" if bar_m == 100.0 else "1 km",
    )
