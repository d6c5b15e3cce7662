"""As-applied spraying maths: what a mission's log of fixes put where.

:func:`measure_application` runs the steps, each in its own module: the fixes are
checked and projected and cut into stretches (:mod:`.stretches`), contiguous sprayed
stretches are buffered into runs whose union is the footprint (:mod:`.swaths`), and the
stretches and footprint are shared among the fields and no-spray zones (:mod:`.targets`).
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

from traceability.geo.projection import WGS84_EPSG, reproject, to_wgs84
from traceability.geo.results import Application
from traceability.geo.stretches import project_fixes, stretches
from traceability.geo.swaths import run_polygons
from traceability.geo.targets import measure_fields, zone_hits

#: A longer silence between fixes is link loss or a refill stop, not spraying.
DEFAULT_MAX_GAP_S = 30.0
#: Spray drones fly at up to ~10 m/s; faster "ground speed" between fixes is a GNSS jump.
DEFAULT_MAX_SPEED_MPS = 30.0
#: Swath jitter below this (an altitude-derived swath wobbles) is not worth a separate polygon.
DEFAULT_SWATH_TOL_M = 0.1


# Long only for its signature and documentation: each step of the body is a function of
# its own (stretches, swaths, targets), so the body reads as the list of steps.
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
    _check_options(
        join_style=join_style,
        max_gap_s=max_gap_s,
        max_speed_mps=max_speed_mps,
        swath_tol_m=swath_tol_m,
    )
    fixes = project_fixes(
        lon=lon, lat=lat, t=t, spraying=spraying, rate=rate, swath_m=swath_m, epsg=epsg
    )
    epsg = fixes.epsg
    st = stretches(fixes, max_gap_s=max_gap_s, max_speed_mps=max_speed_mps)

    runs = run_polygons(
        fixes.x,
        fixes.y,
        st.has_swath,
        np.where(st.has_swath, st.width, 0.0),
        np.where(st.has_swath, st.length, 0.0),
        join_style=join_style,
        swath_tol_m=swath_tol_m,
    )
    footprint = shapely.union_all(runs) if runs.size else Polygon()
    sprayed_area = float(footprint.area)
    overlap = max(0.0, float(shapely.area(runs).sum()) - sprayed_area)

    on_fields = measure_fields(fields, st, footprint, epsg)
    treated_total = min(on_fields.treated_total, sprayed_area)
    return Application(
        sprayed_area_m2=sprayed_area,
        treated_area_m2=treated_total,
        overspray_area_m2=max(0.0, sprayed_area - treated_total),
        overlap_area_m2=overlap,
        applied_amount=st.applied,
        amount_outside_fields=max(0.0, on_fields.outside),
        fields=on_fields.results,
        zones=zone_hits(zones, zone_buffers, st, footprint, epsg),
        footprint_wgs84=None if footprint.is_empty else to_wgs84(footprint, epsg),
        epsg=epsg,
        runs_wgs84=tuple(reproject(runs, epsg, WGS84_EPSG)) if runs.size else (),
        skipped_stretches=st.skipped,
    )


def _check_options(
    *, join_style: str, max_gap_s: float, max_speed_mps: float, swath_tol_m: float
) -> None:
    """Refuse an option out of range, naming it."""
    if join_style not in ("round", "mitre", "bevel"):
        raise ValueError(f"join_style must be 'round', 'mitre' or 'bevel', got {join_style!r}")
    for name, value in (
        ("max_gap_s", max_gap_s),
        ("max_speed_mps", max_speed_mps),
        ("swath_tol_m", swath_tol_m),
    ):
        if not value >= 0.0:  # also catches NaN
            raise ValueError(f"{name} must be >= 0, got {value}")
