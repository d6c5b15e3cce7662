"""Field polygons from GeoJSON, refusing anything that is not a plausible field.

Errors name the problem and where it is ("polygon, ring 0, position 3: latitude 105.5 is
outside [-90, 90] (are lon and lat swapped? ...)"), so a farmer's drawing or an import file
can be fixed from the message alone.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np
from shapely.geometry import MultiPolygon, Polygon
from shapely.validation import explain_validity

from traceability.errors import InvalidGeometry
from traceability.geo.projection import to_metres

#: A parcel bigger than this is almost surely a unit or coordinate-order mistake.
MAX_FIELD_AREA_HA = 10_000.0

#: More corners than this is no parcel drawn or surveyed, and would only cost the server
#: time (every mission is measured against every field it crosses).
MAX_VERTICES = 10_000

# Polygons smaller than this (about a fingernail) are degenerate, not fields.
_MIN_AREA_M2 = 1e-6


def _position(value: Any, where: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) < 2:
        raise InvalidGeometry(f"{where} must be a [lon, lat] pair, got {value!r}")
    lon, lat = value[0], value[1]  # a third value (altitude) is allowed by GeoJSON; dropped
    for name, v in (("longitude", lon), ("latitude", lat)):
        # bool is an int subclass, and "9.3" strings would slip through float(); both are bugs.
        if isinstance(v, bool | np.bool_) or not isinstance(v, numbers.Real):
            raise InvalidGeometry(f"{where}: {name} {v!r} is not a number")
        if not math.isfinite(v):
            raise InvalidGeometry(f"{where}: {name} {v!r} is not finite")
    if not -180.0 <= lon <= 180.0:
        raise InvalidGeometry(f"{where}: longitude {lon} is outside [-180, 180]")
    if not -90.0 <= lat <= 90.0:
        hint = " (are lon and lat swapped? GeoJSON order is [lon, lat])" if abs(lon) <= 90 else ""
        raise InvalidGeometry(f"{where}: latitude {lat} is outside [-90, 90]{hint}")
    return float(lon), float(lat)


def _ring(value: Any, where: str) -> list[tuple[float, float]]:
    if not isinstance(value, list | tuple):
        raise InvalidGeometry(f"{where} must be a list of positions, got {type(value).__name__}")
    if not value:
        raise InvalidGeometry(f"{where} is empty")
    ring = [_position(p, f"{where}, position {i}") for i, p in enumerate(value)]
    if ring[0] != ring[-1]:
        # GeoJSON requires closed rings, but hand-drawn and app-exported polygons often are not;
        # closing them is unambiguous, so do it rather than bounce the farmer's drawing.
        ring.append(ring[0])
    if len(ring) < 4:
        raise InvalidGeometry(
            f"{where} has {len(ring) - 1} distinct corner(s); a ring needs at least 3"
        )
    return ring


def _polygon(value: Any, where: str) -> Polygon:
    if not isinstance(value, list | tuple):
        raise InvalidGeometry(f"{where} must be a list of rings, got {type(value).__name__}")
    if not value:
        raise InvalidGeometry(f"{where} has no rings (empty geometry)")
    rings = [_ring(r, f"{where}, ring {i}") for i, r in enumerate(value)]
    return Polygon(rings[0], rings[1:])


def _positions(coords: Any, *, depth: int) -> int:
    """How many positions nested lists ``depth`` deep hold (malformed parts count as none)."""
    if not isinstance(coords, list | tuple):
        return 0
    if depth == 1:
        return len(coords)
    return sum(_positions(c, depth=depth - 1) for c in coords)


def parse_polygon(
    geojson_geometry: dict, *, max_area_ha: float = MAX_FIELD_AREA_HA
) -> Polygon | MultiPolygon:
    """Build a field polygon from a GeoJSON geometry, rejecting anything not a plausible field.

    Parameters
    ----------
    geojson_geometry : dict
        GeoJSON ``Polygon`` or ``MultiPolygon`` geometry in WGS84 ``[lon, lat]``. Unclosed
        rings are closed; a third (altitude) value in a position is ignored.
    max_area_ha : float, keyword-only
        Largest plausible field; bigger polygons are rejected.

    Returns
    -------
    Polygon or MultiPolygon
        Valid, non-empty geometry in WGS84 degrees, of the type given.

    Raises
    ------
    InvalidGeometry
        With a message naming the problem: wrong container or type, malformed or out-of-range
        coordinates, invalid geometry (with GEOS's explanation), empty, zero or absurd area.

    Examples
    --------
    >>> p = parse_polygon({"type": "Polygon",
    ...                    "coordinates": [[[105.5, 9.3], [105.501, 9.3], [105.501, 9.301]]]})
    >>> p.geom_type, len(p.exterior.coords)  # the open ring was closed
    ('Polygon', 4)
    >>> parse_polygon({"type": "Point", "coordinates": [105.5, 9.3]})
    Traceback (most recent call last):
    ...
    traceability.errors.InvalidGeometry: expected a Polygon or MultiPolygon, got type 'Point'
    """
    gtype, coords = _geometry_type_and_coordinates(geojson_geometry)
    n = _positions(coords, depth=2 if gtype == "Polygon" else 3)
    if n > MAX_VERTICES:
        raise InvalidGeometry(
            f"{gtype} has {n:,} positions, more than the {MAX_VERTICES:,} allowed"
        )
    geom = _polygon(coords, "polygon") if gtype == "Polygon" else _multipolygon(coords)
    _check_plausible(geom, gtype, max_area_ha)
    return geom


def _geometry_type_and_coordinates(geojson_geometry: Any) -> tuple[str, Any]:
    if not isinstance(geojson_geometry, dict):
        raise InvalidGeometry(
            f"a GeoJSON geometry must be an object (dict), got {type(geojson_geometry).__name__}"
        )
    if "type" not in geojson_geometry:
        raise InvalidGeometry("GeoJSON geometry has no 'type'")
    gtype = geojson_geometry["type"]
    if gtype not in ("Polygon", "MultiPolygon"):
        hint = " (pass the Feature's 'geometry')" if gtype == "Feature" else ""
        raise InvalidGeometry(f"expected a Polygon or MultiPolygon, got type {gtype!r}{hint}")
    if "coordinates" not in geojson_geometry:
        raise InvalidGeometry(f"GeoJSON {gtype} has no 'coordinates'")
    return gtype, geojson_geometry["coordinates"]


def _multipolygon(coords: Any) -> MultiPolygon:
    if not isinstance(coords, list | tuple):
        raise InvalidGeometry(
            f"MultiPolygon coordinates must be a list of polygons, got {type(coords).__name__}"
        )
    if not coords:
        raise InvalidGeometry("MultiPolygon has no polygons (empty geometry)")
    return MultiPolygon([_polygon(p, f"polygon {i}") for i, p in enumerate(coords)])


def _check_plausible(geom: Polygon | MultiPolygon, gtype: str, max_area_ha: float) -> None:
    """Refuse an empty, invalid, zero-area or implausibly large field, saying which."""
    if geom.is_empty:
        raise InvalidGeometry(f"{gtype} is empty")
    if not geom.is_valid:
        # GEOS calls a flat ring a "self-intersection"; say what it really is.
        if geom.convex_hull.area == 0.0:
            raise InvalidGeometry(f"{gtype} has zero area (all corners lie on one line)")
        raise InvalidGeometry(f"invalid {gtype}: {explain_validity(geom)}")
    area_m2 = to_metres(geom)[0].area
    if area_m2 < _MIN_AREA_M2:
        raise InvalidGeometry(f"{gtype} has zero area")
    if area_m2 / 10_000.0 > max_area_ha:
        raise InvalidGeometry(
            f"{gtype} covers {area_m2 / 10_000.0:,.0f} ha, more than the {max_area_ha:,.0f} ha "
            "a field can plausibly have (wrong coordinates or units?)"
        )
