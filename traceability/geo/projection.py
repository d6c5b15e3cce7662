"""Projections: which UTM zone a place is in, and moving geometries between it and WGS84.

Every area and length in agritrace is computed in metres in the geometry's own UTM zone,
because degrees are not a unit of length and a fixed zone drifts badly far from its
central meridian. Transformers are cached: building one parses the CRS database.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import numpy as np
import shapely
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from traceability.errors import InvalidGeometry

WGS84_EPSG = 4326


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
def transformer(from_epsg: int, to_epsg: int) -> Transformer:
    """Return a cached lon/lat-ordered (``always_xy``) Transformer between two EPSG codes."""
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


def reproject(geom: Any, from_epsg: int, to_epsg: int) -> Any:
    """Reproject a geometry, or a numpy array of them, with one vectorised pyproj call."""
    proj = transformer(from_epsg, to_epsg)

    def _xy(coords: np.ndarray) -> np.ndarray:
        x, y = proj.transform(coords[:, 0], coords[:, 1])
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
    return reproject(geom, WGS84_EPSG, epsg), epsg


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
    return reproject(geom, epsg, WGS84_EPSG)


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
    x, y = transformer(WGS84_EPSG, epsg).transform(lon_a, lat_a)
    return transformer(epsg, WGS84_EPSG).transform_bounds(
        float(x.min()) - margin_m,
        float(y.min()) - margin_m,
        float(x.max()) + margin_m,
        float(y.max()) + margin_m,
        densify_pts=21,
    )
