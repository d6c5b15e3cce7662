"""Where the spray landed: sharing a mission's stretches among fields and no-spray zones.

A target (a field, or a no-spray zone grown by its buffer) receives the amount of each
stretch times the share of the stretch's rectangle lying in it, plus the whole amount of
each point release inside it; its treated area is the mission's footprint cut by it.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from traceability.geo.projection import WGS84_EPSG, reproject
from traceability.geo.results import FieldApplication, ZoneHit
from traceability.geo.stretches import Stretches


@dataclass(frozen=True)
class FieldsMeasured:
    """What a mission did to its candidate fields."""

    #: Fields that received spray, in the order given.
    results: list[FieldApplication]
    #: Footprint inside any field, each square metre once (not yet capped by the footprint).
    treated_total: float
    #: Amount released outside every field.
    outside: float


def measure_fields(
    fields: Sequence[tuple[Hashable, BaseGeometry]],
    st: Stretches,
    footprint: BaseGeometry,
    epsg: int,
) -> FieldsMeasured:
    """Share the stretches among the fields (WGS84) and measure each field's treated area."""
    field_keys = [f[0] for f in fields]
    fields_m = reproject(np.array([f[1] for f in fields], dtype=object), WGS84_EPSG, epsg)
    tree = shapely.STRtree(fields_m)
    field_amount, r_pairs, r_frac, p_pairs = distribute(tree, len(field_keys), st)
    treated, touched = _covered(tree, fields_m, footprint)
    return FieldsMeasured(
        results=_field_rows(field_keys, shapely.area(fields_m), treated, field_amount),
        treated_total=_treated_total(footprint, fields_m, treated, touched),
        outside=_amount_outside(st, fields_m, r_pairs, r_frac, p_pairs),
    )


def zone_hits(
    zones: Sequence[tuple[Any, ...]],
    zone_buffers: Mapping[Hashable, float] | None,
    st: Stretches,
    footprint: BaseGeometry,
    epsg: int,
) -> list[ZoneHit]:
    """The no-spray zones (WGS84, grown by their buffers) that the spray reached."""
    zone_keys, zone_polys, zone_buf = _zone_buffers(zones, zone_buffers)
    if not zone_keys:
        return []
    zones_m = shapely.buffer(
        reproject(np.array(zone_polys, dtype=object), WGS84_EPSG, epsg), zone_buf
    )
    ztree = shapely.STRtree(zones_m)
    zone_amount, _, _, _ = distribute(ztree, len(zone_keys), st)
    zone_area, _ = _covered(ztree, zones_m, footprint)
    return [
        ZoneHit(key=zone_keys[i], area_m2=float(zone_area[i]), amount=float(zone_amount[i]))
        for i in np.flatnonzero((zone_area > 0.0) | (zone_amount > 0.0))
    ]


def distribute(
    tree: shapely.STRtree, n_targets: int, st: Stretches
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Share stretch amounts among target polygons in proportion to the overlapping area.

    Returns the amount per target plus the (rect, target) pairs with each pair's fraction and
    the (point, target) pairs, so the caller can work out what fell outside all targets.
    """
    amount = np.zeros(n_targets)
    r_idx, t_idx = tree.query(st.rects, predicate="intersects")
    frac = np.zeros(r_idx.size)
    if r_idx.size:
        # Most stretches lie wholly inside one field; skip the costly overlay for those.
        inside = shapely.covers(tree.geometries[t_idx], st.rects[r_idx])
        frac[inside] = 1.0
        cut = ~inside
        if cut.any():
            inter = shapely.intersection(st.rects[r_idx[cut]], tree.geometries[t_idx[cut]])
            frac[cut] = shapely.area(inter) / st.rect_area[r_idx[cut]]
        amount += np.bincount(t_idx, weights=st.rect_amount[r_idx] * frac, minlength=n_targets)
    p_pairs = tree.query(st.points, predicate="intersects")
    if p_pairs.shape[1]:
        amount += np.bincount(p_pairs[1], weights=st.point_amount[p_pairs[0]], minlength=n_targets)
    return amount, np.vstack((r_idx, t_idx)), frac, p_pairs


def _covered(
    tree: shapely.STRtree, polys: np.ndarray, footprint: BaseGeometry
) -> tuple[np.ndarray, Any]:
    """Area of the footprint in each polygon, and the indices of the polygons it touches."""
    area = np.zeros(len(polys))
    hit = np.unique(tree.query(footprint, predicate="intersects")) if not footprint.is_empty else []
    if len(hit):
        area[hit] = shapely.area(shapely.intersection(footprint, polys[hit]))
    return area, hit


def _amount_outside(
    st: Stretches,
    fields_m: np.ndarray,
    r_pairs: np.ndarray,
    r_frac: np.ndarray,
    p_pairs: np.ndarray,
) -> float:
    """Amount released outside every field, given :func:`distribute`'s pairs for the fields.

    A stretch inside a single field keeps its fraction; one spanning several fields is cut
    against their union, so overlapping field polygons (a data error, but it happens) never
    count the same spray twice.
    """
    in_frac = np.zeros(st.rects.size)
    n_hits = np.bincount(r_pairs[0], minlength=st.rects.size)
    one = n_hits[r_pairs[0]] == 1
    in_frac[r_pairs[0][one]] = r_frac[one]
    multi = np.flatnonzero(n_hits > 1)
    multi_fields = np.unique(r_pairs[1][~one])
    if multi.size:
        union_multi = shapely.union_all(fields_m[multi_fields])
        in_frac[multi] = (
            shapely.area(shapely.intersection(st.rects[multi], union_multi)) / st.rect_area[multi]
        )
    point_in = np.zeros(st.points.size, dtype=bool)
    point_in[p_pairs[0]] = True
    outside = float((st.rect_amount * (1.0 - np.clip(in_frac, 0.0, 1.0))).sum())
    return outside + float(st.point_amount[~point_in].sum())


def _treated_total(
    footprint: BaseGeometry, fields_m: np.ndarray, treated: np.ndarray, touched: Any
) -> float:
    """Footprint inside any field: the sum per field, unless the touched fields overlap."""
    if len(touched) == 0:
        return 0.0
    if len(touched) == 1 or _disjoint(fields_m[touched]):
        return float(treated[touched].sum())
    return float(
        shapely.area(shapely.intersection(footprint, shapely.union_all(fields_m[touched])))
    )


def _field_rows(
    keys: list[Hashable], field_area: np.ndarray, treated: np.ndarray, amount: np.ndarray
) -> list[FieldApplication]:
    """One result per field that received spray (area or amount), in the order given."""
    rows = []
    for i in np.flatnonzero((treated > 0.0) | (amount > 0.0)):
        fa = float(field_area[i])
        tr = float(treated[i])
        am = float(amount[i])
        rows.append(
            FieldApplication(
                key=keys[i],
                field_area_m2=fa,
                treated_area_m2=tr,
                coverage_pct=100.0 * tr / fa if fa > 0.0 else 0.0,
                applied_amount=am,
                dose_per_ha=am / (tr / 10_000.0) if tr > 0.0 else None,
            )
        )
    return rows


def _zone_buffers(
    zones: Sequence[tuple[Any, ...]], zone_buffers: Mapping[Hashable, float] | None
) -> tuple[list[Hashable], list[BaseGeometry], np.ndarray]:
    """Keys, polygons and buffers (metres) of the zones; ``zone_buffers`` overrides."""
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


def _disjoint(polys: np.ndarray) -> bool:
    """Whether polygons share no interior (touching edges is fine)."""
    tree = shapely.STRtree(polys)
    if tree.query(polys, predicate="overlaps").size:
        return False
    # "overlaps" misses a polygon lying wholly inside (or equal to) another.
    a, b = tree.query(polys, predicate="contains")
    return bool(np.all(a == b))
