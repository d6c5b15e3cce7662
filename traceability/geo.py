"""Pure geometry for agritrace: projections, field polygons and as-applied spraying maths.

Everything here works on plain numbers and shapely geometries: no database, no web, no I/O.
Coordinates come in and go out as WGS84 lon/lat (EPSG:4326, GeoJSON order), but every
area and length is computed in metres in the geometry's own UTM zone, because degrees are
not a unit of length and a fixed zone drifts badly far from its central meridian.

The central function is :func:`measure_application`, which turns a drone's spray log (fixes
with applicator state, flow rate and swath width) into the sprayed footprint and the area and
amount that landed on each field and in each no-spray zone.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from dataclasses import field as dc_field
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry
from shapely.validation import explain_validity

from traceability.errors import InvalidGeometry

__all__ = [
    "DEFAULT_MAX_GAP_S",
    "DEFAULT_MAX_SPEED_MPS",
    "DEFAULT_SWATH_TOL_M",
    "MAX_FIELD_AREA_HA",
    "WGS84_EPSG",
    "Application",
    "FieldApplication",
    "ZoneHit",
    "area_ha",
    "bbox_wgs84",
    "measure_application",
    "parse_polygon",
    "to_metres",
    "to_wgs84",
    "transformer_to_wgs84",
    "utm_epsg",
]

WGS84_EPSG = 4326
#: A parcel bigger than this is almost surely a unit or coordinate-order mistake.
MAX_FIELD_AREA_HA = 10_000.0
#: A longer silence between fixes is link loss or a refill stop, not spraying.
DEFAULT_MAX_GAP_S = 30.0
#: Spray drones fly at up to ~10 m/s; faster "ground speed" between fixes is a GNSS jump.
DEFAULT_MAX_SPEED_MPS = 30.0
#: Swath jitter below this (an altitude-derived swath wobbles) is not worth a separate polygon.
DEFAULT_SWATH_TOL_M = 0.1

# Below this a stretch is treated as hovering: its direction is noise, so it gets no swath.
_MIN_STRETCH_M = 1e-3
# Swath widths closer than this are the same width, whatever the tolerance.
_SWATH_TOL_M = 1e-6
# Polygons smaller than this (about a fingernail) are degenerate, not fields.
_MIN_AREA_M2 = 1e-6


# --------------------------------------------------------------------------- projections


def utm_epsg(lon: float, lat: float) -> int:
    """Return the EPSG code of the WGS84 UTM zone containing a point.

    Parameters
    ----------
    lon, lat : float
        WGS84 longitude and latitude in degrees.

    Returns
    -------
    int
        ``326zz`` north of the equator, ``327zz`` south of it.

    Raises
    ------
    InvalidGeometry
        If the point is not finite or out of range.

    Examples
    --------
    >>> utm_epsg(105.5, 9.3)  # Bạc Liêu
    32648
    >>> utm_epsg(-70.65, -33.45)  # Santiago de Chile
    32719
    """
    if not (math.isfinite(lon) and math.isfinite(lat)):
        raise InvalidGeometry(f"point ({lon}, {lat}) is not finite")
    if not (-180.0 <= lon <= 180.0 and -90.0 <= lat <= 90.0):
        raise InvalidGeometry(f"point ({lon}, {lat}) is outside lon [-180, 180] / lat [-90, 90]")
    # Plain 6-degree zones. The Norway (32V) and Svalbard (31X-37X) exceptions are ignored:
    # they only move zone borders north of 56N, where nobody grows rice, and the plain zone
    # is still a valid conformal projection there -- only not the "official" one.
    zone = min(int((lon + 180.0) // 6.0) + 1, 60)  # lon == 180 belongs to zone 60
    return (32600 if lat >= 0.0 else 32700) + zone


@lru_cache(maxsize=128)
def _transformer(from_epsg: int, to_epsg: int) -> Transformer:
    # Building a Transformer parses the CRS database (milliseconds); using one is microseconds.
    # pyproj >= 3.1 Transformers are thread-safe, so sharing cached ones is fine.
    return Transformer.from_crs(from_epsg, to_epsg, always_xy=True)


@lru_cache(maxsize=32)
def transformer_to_wgs84(crs: str) -> Callable[[float, float], tuple[float, float]]:
    """Return a cached ``(x, y) -> (lon, lat)`` function from ``crs`` (e.g. "EPSG:3405") to WGS84.

    Raises pyproj's ``CRSError`` for a CRS pyproj does not know.

    Examples
    --------
    >>> lon, lat = transformer_to_wgs84("EPSG:32648")(500000.0, 0.0)
    >>> round(lon, 6), round(lat, 6)
    (105.0, 0.0)
    """
    return Transformer.from_crs(crs, WGS84_EPSG, always_xy=True).transform


def _reproject(geom: Any, from_epsg: int, to_epsg: int) -> Any:
    """Reproject a geometry, or a numpy array of them, with one vectorised pyproj call."""
    transformer = _transformer(from_epsg, to_epsg)

    def _xy(coords: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coords[:, 0], coords[:, 1])
        return np.column_stack((x, y))

    return shapely.transform(geom, _xy)


def _lonlat_anchor(geom: BaseGeometry) -> tuple[float, float]:
    centroid = geom.centroid
    if not centroid.is_empty:
        return centroid.x, centroid.y
    # A degenerate geometry (e.g. a zero-length line) has no centroid but still has a place.
    x, y = shapely.get_coordinates(geom)[0]
    return float(x), float(y)


def to_metres(geom: BaseGeometry, epsg: int | None = None) -> tuple[BaseGeometry, int]:
    """Project a WGS84 geometry into UTM metres.

    Parameters
    ----------
    geom : BaseGeometry
        Geometry in WGS84 lon/lat degrees.
    epsg : int, optional
        Target UTM EPSG code; by default the zone of the geometry's centroid.

    Returns
    -------
    tuple[BaseGeometry, int]
        The projected geometry and the EPSG code it is in.

    Raises
    ------
    InvalidGeometry
        If the geometry is missing or empty.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> p, code = to_metres(Point(105.0, 0.0))
    >>> code, round(p.x, 3), round(p.y, 3)  # 105E is zone 48's central meridian
    (32648, 500000.0, 0.0)
    """
    if geom is None or geom.is_empty:
        raise InvalidGeometry("cannot project an empty geometry")
    if epsg is None:
        epsg = utm_epsg(*_lonlat_anchor(geom))
    return _reproject(geom, WGS84_EPSG, epsg), epsg


def to_wgs84(geom: BaseGeometry, epsg: int) -> BaseGeometry:
    """Project a geometry from a metric CRS (normally UTM) back to WGS84 lon/lat.

    Parameters
    ----------
    geom : BaseGeometry
        Geometry in the coordinates of ``epsg``.
    epsg : int
        EPSG code the geometry is in.

    Returns
    -------
    BaseGeometry
        The geometry in WGS84 degrees.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> p = to_wgs84(Point(500000.0, 0.0), 32648)
    >>> round(p.x, 6), round(p.y, 6)
    (105.0, 0.0)
    """
    return _reproject(geom, epsg, WGS84_EPSG)


def area_ha(geom_wgs84: BaseGeometry) -> float:
    """Return the area of a WGS84 geometry in hectares, measured in its own UTM zone.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> round(area_ha(box(105.5, 9.3, 105.501, 9.301)), 3)  # ~110 m x ~110 m
    1.214
    """
    projected, _ = to_metres(geom_wgs84)
    return projected.area / 10_000.0


def bbox_wgs84(lon: Any, lat: Any, margin_m: float) -> tuple[float, float, float, float]:
    """Return a lon/lat bounding box around points, grown by a margin in metres.

    The margin is applied in the points' UTM zone and the box is mapped back with a densified
    edge, so it really contains everything within ``margin_m`` of the points' envelope.

    Parameters
    ----------
    lon, lat : array_like
        WGS84 coordinates; non-finite values are ignored.
    margin_m : float
        Distance to grow the box by, in metres.

    Returns
    -------
    tuple[float, float, float, float]
        ``(min_lon, min_lat, max_lon, max_lat)``.

    Examples
    --------
    >>> box = bbox_wgs84([105.5], [9.3], 100.0)  # 100 m is about 0.0009 degrees here
    >>> [round(v, 4) for v in box]
    [105.4991, 9.2991, 105.5009, 9.3009]
    """
    lon_a = np.asarray(lon, dtype=float).ravel()
    lat_a = np.asarray(lat, dtype=float).ravel()
    if lon_a.shape != lat_a.shape:
        raise ValueError(f"lon and lat differ in length ({lon_a.size} vs {lat_a.size})")
    ok = np.isfinite(lon_a) & np.isfinite(lat_a)
    if not ok.any():
        raise ValueError("no finite point to build a bounding box around")
    if not (math.isfinite(margin_m) and margin_m >= 0.0):
        raise ValueError(f"margin_m must be a finite number >= 0, got {margin_m}")
    lon_a, lat_a = lon_a[ok], lat_a[ok]
    epsg = utm_epsg(
        (float(lon_a.min()) + float(lon_a.max())) / 2, (float(lat_a.min()) + float(lat_a.max())) / 2
    )
    x, y = _transformer(WGS84_EPSG, epsg).transform(lon_a, lat_a)
    return _transformer(epsg, WGS84_EPSG).transform_bounds(
        float(x.min()) - margin_m,
        float(y.min()) - margin_m,
        float(x.max()) + margin_m,
        float(y.max()) + margin_m,
        densify_pts=21,
    )


# --------------------------------------------------------------------------- GeoJSON parsing


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
    coords = geojson_geometry["coordinates"]

    geom: Polygon | MultiPolygon
    if gtype == "Polygon":
        geom = _polygon(coords, "polygon")
    else:
        if not isinstance(coords, list | tuple):
            raise InvalidGeometry(
                f"MultiPolygon coordinates must be a list of polygons, got {type(coords).__name__}"
            )
        if not coords:
            raise InvalidGeometry("MultiPolygon has no polygons (empty geometry)")
        geom = MultiPolygon([_polygon(p, f"polygon {i}") for i, p in enumerate(coords)])

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
    return geom


# --------------------------------------------------------------------------- results


@dataclass(frozen=True)
class FieldApplication:
    """What one application did to one field.

    ``applied_amount`` is in the unit of the rate (L or kg); ``dose_per_ha`` is that amount
    per treated hectare, or None when no area of the field was covered (e.g. hover only).
    """

    key: Hashable
    field_area_m2: float
    treated_area_m2: float
    coverage_pct: float
    applied_amount: float
    dose_per_ha: float | None

    @property
    def field_area_ha(self) -> float:
        """Field area in hectares."""
        return self.field_area_m2 / 10_000.0

    @property
    def treated_area_ha(self) -> float:
        """Treated area of the field in hectares."""
        return self.treated_area_m2 / 10_000.0


@dataclass(frozen=True)
class ZoneHit:
    """Spray that reached a no-spray zone (grown by its buffer)."""

    key: Hashable
    area_m2: float
    amount: float

    @property
    def area_ha(self) -> float:
        """Sprayed area inside the buffered zone, in hectares."""
        return self.area_m2 / 10_000.0


@dataclass(frozen=True)
class Application:
    """As-applied measurement of one spray mission.

    Areas are in square metres (``*_ha`` properties give hectares), amounts in the unit of the
    rate integrated over minutes (L or kg). ``fields`` lists only fields that received spray,
    ``zones`` only zones that were hit, both in the order they were given.
    ``footprint_wgs84`` is the sprayed area (union of all runs) for maps, or None if nothing
    was sprayed; ``runs_wgs84`` holds the polygon of each contiguous sprayed run.
    ``skipped_stretches`` counts applicator-on stretches dropped as gaps or GNSS jumps
    (their amount is not in ``applied_amount``).
    """

    sprayed_area_m2: float
    treated_area_m2: float
    overspray_area_m2: float
    overlap_area_m2: float
    applied_amount: float
    amount_outside_fields: float
    fields: list[FieldApplication]
    zones: list[ZoneHit]
    footprint_wgs84: BaseGeometry | None = dc_field(compare=False, repr=False)
    epsg: int
    runs_wgs84: tuple[BaseGeometry, ...] = dc_field(default=(), compare=False, repr=False)
    skipped_stretches: int = 0

    @property
    def sprayed_area_ha(self) -> float:
        """Sprayed area (union of all runs) in hectares."""
        return self.sprayed_area_m2 / 10_000.0

    @property
    def treated_area_ha(self) -> float:
        """Sprayed area inside the given fields, in hectares."""
        return self.treated_area_m2 / 10_000.0

    @property
    def overspray_area_ha(self) -> float:
        """Sprayed area outside every field, in hectares."""
        return self.overspray_area_m2 / 10_000.0

    @property
    def overlap_area_ha(self) -> float:
        """Area sprayed by more than one run (counted once per extra pass), in hectares."""
        return self.overlap_area_m2 / 10_000.0


# --------------------------------------------------------------------------- measurement


def _as_1d(name: str, value: Any, n: int, dtype: type) -> np.ndarray:
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:  # a single swath or rate for the whole mission
        return np.full(n, arr.item(), dtype=dtype)
    if arr.ndim != 1 or arr.size != n:
        raise ValueError(f"{name} must be 1-D with one value per fix ({n}), got shape {arr.shape}")
    return arr


def _distribute(
    tree: shapely.STRtree,
    n_targets: int,
    rects: np.ndarray,
    rect_amount: np.ndarray,
    rect_area: np.ndarray,
    points: np.ndarray,
    point_amount: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Share stretch amounts among target polygons in proportion to the overlapping area.

    Returns the amount per target plus the (rect, target) pairs with each pair's fraction and
    the (point, target) pairs, so the caller can work out what fell outside all targets.
    """
    amount = np.zeros(n_targets)
    r_idx, t_idx = tree.query(rects, predicate="intersects")
    frac = np.zeros(r_idx.size)
    if r_idx.size:
        # Most stretches lie wholly inside one field; skip the costly overlay for those.
        inside = shapely.covers(tree.geometries[t_idx], rects[r_idx])
        frac[inside] = 1.0
        cut = ~inside
        if cut.any():
            inter = shapely.intersection(rects[r_idx[cut]], tree.geometries[t_idx[cut]])
            frac[cut] = shapely.area(inter) / rect_area[r_idx[cut]]
        amount += np.bincount(t_idx, weights=rect_amount[r_idx] * frac, minlength=n_targets)
    p_pairs = tree.query(points, predicate="intersects")
    if p_pairs.shape[1]:
        amount += np.bincount(p_pairs[1], weights=point_amount[p_pairs[0]], minlength=n_targets)
    return amount, np.vstack((r_idx, t_idx)), frac, p_pairs


def _stretch_rectangles(
    x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, width: np.ndarray
) -> np.ndarray:
    """Rectangles ``width`` wide centred on segments, with flat ends exactly at the endpoints.

    Examples
    --------
    >>> r = _stretch_rectangles(*(np.array([v]) for v in (0.0, 0.0, 10.0, 0.0, 4.0)))
    >>> r[0].bounds, r[0].area
    ((0.0, -2.0, 10.0, 2.0), 40.0)
    """
    length = np.hypot(x1 - x0, y1 - y0)
    # Unit normal scaled to half the swath.
    nx = -(y1 - y0) / length * width / 2.0
    ny = (x1 - x0) / length * width / 2.0
    coords = np.stack(
        (
            np.column_stack((x0 + nx, y0 + ny)),
            np.column_stack((x1 + nx, y1 + ny)),
            np.column_stack((x1 - nx, y1 - ny)),
            np.column_stack((x0 - nx, y0 - ny)),
            np.column_stack((x0 + nx, y0 + ny)),
        ),
        axis=1,
    )
    return shapely.polygons(coords)


def _swath_cuts(
    width: np.ndarray, in_run: np.ndarray, run_start: np.ndarray, tol: float
) -> np.ndarray:
    """Mark stretches that start a new constant-width piece inside a run.

    Consecutive stretches stay in one piece while their widths span at most ``tol`` metres.

    Examples
    --------
    >>> w = np.array([6.0, 6.02, 5.99, 7.0, 7.0, 6.0])
    >>> on = np.ones(6, dtype=bool)
    >>> start = np.array([True, False, False, False, False, False])
    >>> _swath_cuts(w, on, start, 0.05).nonzero()[0].tolist()
    [3, 5]
    """
    cuts = np.zeros(in_run.size, dtype=bool)
    changed = np.zeros(in_run.size, dtype=bool)
    changed[1:] = np.abs(np.diff(width)) > _SWATH_TOL_M
    if not (changed & in_run & ~run_start).any():
        return cuts  # constant swath within every run: the usual case, no loop
    lo = hi = 0.0
    # A scalar scan (not geometry) because the grouping is greedy; only reached when the
    # swath actually varies.
    for i, w, first in zip(
        np.flatnonzero(in_run).tolist(),
        width[in_run].tolist(),
        run_start[in_run].tolist(),
        strict=True,
    ):
        if first or max(hi, w) - min(lo, w) > tol:
            cuts[i] = not first
            lo = hi = w
        else:
            lo, hi = min(lo, w), max(hi, w)
    return cuts


def _run_polygons(
    x: np.ndarray,
    y: np.ndarray,
    in_run: np.ndarray,
    width: np.ndarray,
    length: np.ndarray,
    *,
    join_style: str,
    swath_tol_m: float,
) -> np.ndarray:
    """Buffer each contiguous run of sprayed stretches into one polygon.

    A run whose swath is constant is buffered as one flat-capped LineString, so straight
    stretches tile exactly and turns are joined. Where the swath changes by more than
    ``swath_tol_m`` mid-run, the run is cut into pieces of (nearly) constant width, each
    buffered the same way at its length-weighted mean width (which keeps a straight piece's
    area equal to the sum of its stretch rectangles), plus a joint buffered with the narrower
    width at every cut so turns there are still joined; the pieces are then unioned.
    """
    prev = np.concatenate(([False], in_run[:-1]))
    run_start = in_run & ~prev
    cut = _swath_cuts(width, in_run, run_start, swath_tol_m)
    sub_start = run_start | cut

    s_idx = np.flatnonzero(in_run)
    if s_idx.size == 0:
        return np.empty(0, dtype=object)
    run_of = np.cumsum(run_start)[s_idx] - 1
    sub_of = np.cumsum(sub_start)[s_idx] - 1
    n_sub = int(sub_of[-1]) + 1
    n_run = int(run_of[-1]) + 1

    # A sub-run over stretches s..e-1 is the polyline through fixes s..e: each stretch's
    # start fix plus the end fix of the sub-run's last stretch.
    last = np.flatnonzero(np.diff(np.append(sub_of, n_sub)))  # last stretch of each sub-run
    fix_idx = np.concatenate((s_idx, s_idx[last] + 1))
    line_of = np.concatenate((sub_of, np.arange(n_sub)))
    order = np.lexsort((fix_idx, line_of))
    lines = shapely.linestrings(
        np.column_stack((x[fix_idx[order]], y[fix_idx[order]])), indices=line_of[order]
    )
    w_s, len_s = width[s_idx], length[s_idx]
    sub_len = np.bincount(sub_of, weights=len_s, minlength=n_sub)
    sub_width = np.where(
        sub_len > 0.0,
        np.bincount(sub_of, weights=w_s * len_s, minlength=n_sub)
        / np.where(sub_len > 0, sub_len, 1),
        np.bincount(sub_of, weights=w_s, minlength=n_sub) / np.bincount(sub_of, minlength=n_sub),
    )
    pieces = shapely.buffer(lines, sub_width / 2.0, cap_style="flat", join_style=join_style)
    first = np.flatnonzero(np.diff(np.concatenate(([-1], sub_of))))
    piece_run = run_of[first]

    k = np.flatnonzero(cut)  # fix k joins stretch k-1 and stretch k of different widths
    if k.size:
        mid_before = np.column_stack(((x[k - 1] + x[k]) / 2, (y[k - 1] + y[k]) / 2))
        mid_after = np.column_stack(((x[k] + x[k + 1]) / 2, (y[k] + y[k + 1]) / 2))
        joint_lines = shapely.linestrings(
            np.stack((mid_before, np.column_stack((x[k], y[k])), mid_after), axis=1)
        )
        sub_at_k = np.cumsum(sub_start)[k] - 1  # the piece starting at stretch k
        joints = shapely.buffer(
            joint_lines,
            np.minimum(sub_width[sub_at_k - 1], sub_width[sub_at_k]) / 2.0,
            cap_style="flat",
            join_style=join_style,
        )
        pieces = np.concatenate((pieces, joints))
        piece_run = np.concatenate((piece_run, np.cumsum(run_start)[k] - 1))

    counts = np.bincount(piece_run, minlength=n_run)
    runs = np.empty(n_run, dtype=object)
    single = counts == 1
    single_piece = np.zeros(n_run, dtype=np.intp)
    single_piece[piece_run] = np.arange(piece_run.size)  # valid where the run has one piece
    runs[single] = pieces[single_piece[single]]
    for r in np.flatnonzero(~single):  # only runs whose swath changed; rare
        runs[r] = shapely.union_all(pieces[piece_run == r])
    return runs[~shapely.is_empty(runs)]


def _zone_buffers(
    zones: Sequence[tuple[Any, ...]], zone_buffers: Mapping[Hashable, float] | None
) -> tuple[list[Hashable], list[BaseGeometry], np.ndarray]:
    keys: list[Hashable] = []
    polys: list[BaseGeometry] = []
    bufs: list[float] = []
    for zone in zones:
        if len(zone) not in (2, 3):
            raise ValueError(f"a zone must be (key, polygon[, buffer_m]), got {len(zone)} items")
        key, poly = zone[0], zone[1]
        buf = float(zone[2]) if len(zone) == 3 and zone[2] is not None else 0.0
        if zone_buffers is not None and key in zone_buffers:
            buf = float(zone_buffers[key])
        if not (math.isfinite(buf) and buf >= 0.0):
            raise ValueError(f"buffer for zone {key!r} must be a finite number >= 0, got {buf}")
        keys.append(key)
        polys.append(poly)
        bufs.append(buf)
    return keys, polys, np.asarray(bufs, dtype=float)


def measure_application(
    *,
    lon: Any,
    lat: Any,
    t: Any,
    spraying: Any,
    rate: Any,
    swath_m: Any,
    fields: Sequence[tuple[Hashable, BaseGeometry]],
    zones: Sequence[tuple[Any, ...]] = (),
    zone_buffers: Mapping[Hashable, float] | None = None,
    max_gap_s: float = DEFAULT_MAX_GAP_S,
    max_speed_mps: float = DEFAULT_MAX_SPEED_MPS,
    epsg: int | None = None,
    join_style: str = "round",
    swath_tol_m: float = DEFAULT_SWATH_TOL_M,
) -> Application:
    """Measure what a spray mission put where, from its log of fixes.

    A *stretch* runs from fix ``i`` to fix ``i+1`` and carries the state of fix ``i``: it is
    sprayed if ``spraying[i]``, releases ``rate[i] * (t[i+1] - t[i]) / 60`` and covers a
    rectangle ``swath_m[i]`` wide centred on it, with flat ends exactly at the two fixes.
    Contiguous sprayed stretches form a *run*, buffered as one polygon (straight stretches
    tile exactly, turns are joined); runs separated by applicator-off stretches are separate.

    Stretches with ``dt <= 0``, ``dt > max_gap_s`` or ground speed ``> max_speed_mps`` are
    dropped (link loss, refill stop, GNSS jump) and break runs. A stretch shorter than a
    millimetre (hovering) or without a usable swath keeps its amount but has no area; that
    amount goes to the field(s) containing its midpoint.

    Parameters
    ----------
    lon, lat : array_like
        WGS84 fixes in time order, degrees. Fixes with non-finite lon/lat/t are ignored.
    t : array_like
        Fix times in seconds (e.g. epoch seconds).
    spraying : array_like of bool
        Applicator on at the fix.
    rate : array_like
        Amount per minute leaving the nozzles (L/min or kg/min). NaN/None and negative
        values count as 0. A scalar applies to every fix.
    swath_m : array_like
        Effective swath width per fix, metres. A scalar applies to every fix.
    fields : sequence of (key, Polygon)
        Candidate fields in WGS84 (pre-selected by the caller, e.g. with :func:`bbox_wgs84`).
    zones : sequence of (key, Polygon, buffer_m) or (key, Polygon)
        No-spray zones in WGS84 and the distance (metres) to keep from them.
    zone_buffers : mapping of key to metres, optional
        Buffer per zone key; overrides the buffer in ``zones`` (e.g. distances set by rule).
    max_gap_s, max_speed_mps : float
        Limits beyond which a stretch is not believed.
    epsg : int, optional
        UTM zone to measure in; by default the zone of the centre of the fixes. Fields and
        zones are projected into the same zone so everything shares one plane.
    join_style : {"round", "mitre", "bevel"}
        How turns within a run are joined.
    swath_tol_m : float
        Swath changes within a run smaller than this are smoothed for the footprint:
        stretches whose widths span at most this much are buffered together at their
        length-weighted mean width. Straight runs keep their exact area and edges move by at
        most half this; amounts always use each stretch's own width. ``0`` buffers every
        width change separately (exact, but slow when the swath changes at every fix).

    Returns
    -------
    Application
        Sprayed, treated, overspray and overlap areas; applied amount total and outside
        fields; per-field and per-zone results; the footprint in WGS84.

    Raises
    ------
    ValueError
        If the arrays differ in length or are not 1-D, an option is out of range, or no fix
        is usable to choose a UTM zone (and ``epsg`` is not given).

    Notes
    -----
    ``overlap_area_m2`` is the sum of run areas minus the area of their union, so it counts
    overlap between runs (and triple passes twice), but not a run crossing itself.
    A field's amount is the sum over stretches of the stretch amount times the share of the
    stretch rectangle lying in the field.
    """
    if join_style not in ("round", "mitre", "bevel"):
        raise ValueError(f"join_style must be 'round', 'mitre' or 'bevel', got {join_style!r}")
    for name, value in (
        ("max_gap_s", max_gap_s),
        ("max_speed_mps", max_speed_mps),
        ("swath_tol_m", swath_tol_m),
    ):
        if not value >= 0.0:  # also catches NaN
            raise ValueError(f"{name} must be >= 0, got {value}")
    lon_a = np.asarray(lon, dtype=float)
    if lon_a.ndim != 1:
        raise ValueError(f"lon must be 1-D, got shape {lon_a.shape}")
    n = lon_a.size
    lat_a = _as_1d("lat", lat, n, float)
    t_a = _as_1d("t", t, n, float)
    spray_a = _as_1d("spraying", spraying, n, bool)
    rate_a = _as_1d("rate", rate, n, float)
    width_a = _as_1d("swath_m", swath_m, n, float)
    rate_a = np.where(np.isfinite(rate_a) & (rate_a > 0.0), rate_a, 0.0)

    good = np.isfinite(lon_a) & np.isfinite(lat_a) & np.isfinite(t_a)
    if epsg is None:
        if not good.any():
            raise ValueError("no fix has a finite lon, lat and t")
        epsg = utm_epsg(
            (lon_a[good].min() + lon_a[good].max()) / 2, (lat_a[good].min() + lat_a[good].max()) / 2
        )
    x, y = _transformer(WGS84_EPSG, epsg).transform(lon_a, lat_a)
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)

    # ---- stretches
    dt = np.diff(t_a)
    length = np.hypot(np.diff(x), np.diff(y))
    with np.errstate(divide="ignore", invalid="ignore"):
        believable = (
            good[:-1]
            & good[1:]
            & (dt > 0.0)
            & (dt <= max_gap_s)
            & (length <= max_speed_mps * np.where(dt > 0.0, dt, 0.0))
        )
    sprayed = spray_a[:-1] & believable
    skipped = int(np.count_nonzero(spray_a[:-1] & ~believable))
    amount = np.where(sprayed, rate_a[:-1] * dt, 0.0) / 60.0
    width = width_a[:-1]
    has_swath = sprayed & np.isfinite(width) & (width > 0.0)
    is_rect = has_swath & (length >= _MIN_STRETCH_M)
    is_point = sprayed & ~is_rect & (amount > 0.0)

    ri = np.flatnonzero(is_rect)
    rects = _stretch_rectangles(x[ri], y[ri], x[ri + 1], y[ri + 1], width[ri])
    rect_area = length[ri] * width[ri]
    rect_amount = amount[ri]
    pi = np.flatnonzero(is_point)
    points = shapely.points((x[pi] + x[pi + 1]) / 2.0, (y[pi] + y[pi + 1]) / 2.0)
    point_amount = amount[pi]
    applied = float(amount.sum())

    # ---- runs and footprint
    runs = _run_polygons(
        x,
        y,
        has_swath,
        np.where(has_swath, width, 0.0),
        np.where(has_swath, length, 0.0),
        join_style=join_style,
        swath_tol_m=swath_tol_m,
    )
    run_areas = shapely.area(runs)
    footprint = shapely.union_all(runs) if runs.size else Polygon()
    sprayed_area = float(footprint.area)
    overlap = max(0.0, float(run_areas.sum()) - sprayed_area)

    # ---- fields
    field_keys = [f[0] for f in fields]
    fields_m = _reproject(np.array([f[1] for f in fields], dtype=object), WGS84_EPSG, epsg)
    field_area = shapely.area(fields_m)
    tree = shapely.STRtree(fields_m)
    field_amount, r_pairs, r_frac, p_pairs = _distribute(
        tree, len(field_keys), rects, rect_amount, rect_area, points, point_amount
    )
    treated = np.zeros(len(field_keys))
    touched = np.unique(tree.query(footprint, predicate="intersects")) if runs.size else []
    if len(touched):
        treated[touched] = shapely.area(shapely.intersection(footprint, fields_m[touched]))

    # What fell inside any field: a stretch inside a single field keeps its fraction; one
    # spanning several fields is cut against their union, so overlapping field polygons
    # (a data error, but it happens) never count the same spray twice.
    in_frac = np.zeros(ri.size)
    n_hits = np.bincount(r_pairs[0], minlength=ri.size)
    one = n_hits[r_pairs[0]] == 1
    in_frac[r_pairs[0][one]] = r_frac[one]
    multi = np.flatnonzero(n_hits > 1)
    multi_fields = np.unique(r_pairs[1][~one])
    if multi.size:
        union_multi = shapely.union_all(fields_m[multi_fields])
        in_frac[multi] = (
            shapely.area(shapely.intersection(rects[multi], union_multi)) / rect_area[multi]
        )
    point_in = np.zeros(pi.size, dtype=bool)
    point_in[p_pairs[0]] = True
    outside = float((rect_amount * (1.0 - np.clip(in_frac, 0.0, 1.0))).sum())
    outside += float(point_amount[~point_in].sum())

    if len(touched) == 0:
        treated_total = 0.0
    elif len(touched) == 1 or _disjoint(fields_m[touched]):
        treated_total = float(treated[touched].sum())
    else:
        treated_total = float(
            shapely.area(shapely.intersection(footprint, shapely.union_all(fields_m[touched])))
        )
    treated_total = min(treated_total, sprayed_area)

    field_results = []
    for i in np.flatnonzero((treated > 0.0) | (field_amount > 0.0)):
        fa = float(field_area[i])
        tr = float(treated[i])
        am = float(field_amount[i])
        field_results.append(
            FieldApplication(
                key=field_keys[i],
                field_area_m2=fa,
                treated_area_m2=tr,
                coverage_pct=100.0 * tr / fa if fa > 0.0 else 0.0,
                applied_amount=am,
                dose_per_ha=am / (tr / 10_000.0) if tr > 0.0 else None,
            )
        )

    # ---- no-spray zones
    zone_results = []
    zone_keys, zone_polys, zone_buf = _zone_buffers(zones, zone_buffers)
    if zone_keys:
        zones_m = shapely.buffer(
            _reproject(np.array(zone_polys, dtype=object), WGS84_EPSG, epsg), zone_buf
        )
        ztree = shapely.STRtree(zones_m)
        zone_amount, _, _, _ = _distribute(
            ztree, len(zone_keys), rects, rect_amount, rect_area, points, point_amount
        )
        zone_area = np.zeros(len(zone_keys))
        hit = np.unique(ztree.query(footprint, predicate="intersects")) if runs.size else []
        if len(hit):
            zone_area[hit] = shapely.area(shapely.intersection(footprint, zones_m[hit]))
        for i in np.flatnonzero((zone_area > 0.0) | (zone_amount > 0.0)):
            zone_results.append(
                ZoneHit(key=zone_keys[i], area_m2=float(zone_area[i]), amount=float(zone_amount[i]))
            )

    return Application(
        sprayed_area_m2=sprayed_area,
        treated_area_m2=treated_total,
        overspray_area_m2=max(0.0, sprayed_area - treated_total),
        overlap_area_m2=overlap,
        applied_amount=applied,
        amount_outside_fields=max(0.0, outside),
        fields=field_results,
        zones=zone_results,
        footprint_wgs84=None if footprint.is_empty else to_wgs84(footprint, epsg),
        epsg=epsg,
        runs_wgs84=tuple(_reproject(runs, epsg, WGS84_EPSG)) if runs.size else (),
        skipped_stretches=skipped,
    )


def _disjoint(polys: np.ndarray) -> bool:
    """Whether polygons share no interior (touching edges is fine)."""
    tree = shapely.STRtree(polys)
    if tree.query(polys, predicate="overlaps").size:
        return False
    # "overlaps" misses a polygon lying wholly inside (or equal to) another.
    a, b = tree.query(polys, predicate="contains")
    return bool(np.all(a == b))
