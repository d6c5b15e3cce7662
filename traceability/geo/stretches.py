"""From a drone's log of fixes to its *stretches*: what was released between two fixes.

A stretch runs from fix ``i`` to fix ``i+1`` and carries the state of fix ``i``: it is
sprayed if ``spraying[i]``, releases ``rate[i] * (t[i+1] - t[i]) / 60`` and covers a
rectangle ``swath_m[i]`` wide centred on it. A stretch that is not believable (a time gap,
a GNSS jump) releases nothing; one too short or without a swath releases its amount at a
point (its midpoint) instead of over a rectangle.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely

from traceability.geo.projection import WGS84_EPSG, transformer, utm_epsg
from traceability.geo.swaths import stretch_rectangles

# Below this a stretch is treated as hovering: its direction is noise, so it gets no swath.
_MIN_STRETCH_M = 1e-3


@dataclass(frozen=True)
class Fixes:
    """A log of fixes as checked arrays, projected into one UTM zone (``x``, ``y`` metres)."""

    x: np.ndarray
    y: np.ndarray
    t: np.ndarray
    spraying: np.ndarray
    rate: np.ndarray
    width: np.ndarray
    #: Fixes with a finite lon, lat and t.
    good: np.ndarray
    epsg: int


@dataclass(frozen=True)
class Stretches:
    """The sprayed stretches of a mission and what each released, in metres.

    Arrays named after the stretch (``has_swath``, ``width``, ``length``) have one value per
    stretch; ``rect*`` describe the stretches long enough to cover a rectangle, ``point*``
    the sprayed ones that release their amount at their midpoint (hovering, no swath).
    """

    has_swath: np.ndarray
    width: np.ndarray
    length: np.ndarray
    rects: np.ndarray
    rect_area: np.ndarray
    rect_amount: np.ndarray
    points: np.ndarray
    point_amount: np.ndarray
    #: Everything released by believable sprayed stretches.
    applied: float
    #: Applicator-on stretches dropped as gaps or GNSS jumps.
    skipped: int


def as_1d(name: str, value: Any, n: int, dtype: type) -> np.ndarray:
    """``value`` as one value per fix: a scalar is repeated, an array must have ``n`` items."""
    arr = np.asarray(value, dtype=dtype)
    if arr.ndim == 0:  # a single swath or rate for the whole mission
        return np.full(n, arr.item(), dtype=dtype)
    if arr.ndim != 1 or arr.size != n:
        raise ValueError(f"{name} must be 1-D with one value per fix ({n}), got shape {arr.shape}")
    return arr


def project_fixes(
    *, lon: Any, lat: Any, t: Any, spraying: Any, rate: Any, swath_m: Any, epsg: int | None
) -> Fixes:
    """Check the log's arrays and project it into ``epsg`` (default: the fixes' own zone)."""
    lon_a = np.asarray(lon, dtype=float)
    if lon_a.ndim != 1:
        raise ValueError(f"lon must be 1-D, got shape {lon_a.shape}")
    n = lon_a.size
    lat_a = as_1d("lat", lat, n, float)
    t_a = as_1d("t", t, n, float)
    spray_a = as_1d("spraying", spraying, n, bool)
    rate_a = as_1d("rate", rate, n, float)
    width_a = as_1d("swath_m", swath_m, n, float)
    rate_a = np.where(np.isfinite(rate_a) & (rate_a > 0.0), rate_a, 0.0)

    good = np.isfinite(lon_a) & np.isfinite(lat_a) & np.isfinite(t_a)
    if epsg is None:
        if not good.any():
            raise ValueError("no fix has a finite lon, lat and t")
        epsg = utm_epsg(
            (lon_a[good].min() + lon_a[good].max()) / 2, (lat_a[good].min() + lat_a[good].max()) / 2
        )
    x, y = transformer(WGS84_EPSG, epsg).transform(lon_a, lat_a)
    return Fixes(
        x=np.asarray(x, dtype=float),
        y=np.asarray(y, dtype=float),
        t=t_a,
        spraying=spray_a,
        rate=rate_a,
        width=width_a,
        good=good,
        epsg=epsg,
    )


def stretches(fixes: Fixes, *, max_gap_s: float, max_speed_mps: float) -> Stretches:
    """Cut the log into stretches, drop the unbelievable ones and say what each released.

    Examples
    --------
    Two fixes 10 m apart, 2 L/min for 6 s over a 4 m swath: one 40 m2 rectangle, 0.2 L.

    >>> f = Fixes(x=np.array([0.0, 10.0]), y=np.zeros(2), t=np.array([0.0, 6.0]),
    ...           spraying=np.array([True, False]), rate=np.array([2.0, 0.0]),
    ...           width=np.array([4.0, 4.0]), good=np.ones(2, dtype=bool), epsg=32648)
    >>> s = stretches(f, max_gap_s=30.0, max_speed_mps=30.0)
    >>> s.rect_area.tolist(), round(s.applied, 6), s.points.size, s.skipped
    ([40.0], 0.2, 0, 0)
    """
    x, y, good = fixes.x, fixes.y, fixes.good
    dt = np.diff(fixes.t)
    length = np.hypot(np.diff(x), np.diff(y))
    with np.errstate(divide="ignore", invalid="ignore"):
        believable = (
            good[:-1]
            & good[1:]
            & (dt > 0.0)
            & (dt <= max_gap_s)
            & (length <= max_speed_mps * np.where(dt > 0.0, dt, 0.0))
        )
    sprayed = fixes.spraying[:-1] & believable
    skipped = int(np.count_nonzero(fixes.spraying[:-1] & ~believable))
    amount = np.where(sprayed, fixes.rate[:-1] * dt, 0.0) / 60.0
    width = fixes.width[:-1]
    has_swath = sprayed & np.isfinite(width) & (width > 0.0)
    is_rect = has_swath & (length >= _MIN_STRETCH_M)
    is_point = sprayed & ~is_rect & (amount > 0.0)

    ri = np.flatnonzero(is_rect)
    pi = np.flatnonzero(is_point)
    return Stretches(
        has_swath=has_swath,
        width=width,
        length=length,
        rects=stretch_rectangles(x[ri], y[ri], x[ri + 1], y[ri + 1], width[ri]),
        rect_area=length[ri] * width[ri],
        rect_amount=amount[ri],
        points=shapely.points((x[pi] + x[pi + 1]) / 2.0, (y[pi] + y[pi + 1]) / 2.0),
        point_amount=amount[pi],
        applied=float(amount.sum()),
        skipped=skipped,
    )
