"""Swath geometry: the rectangle under each sprayed stretch and the polygon of each run.

A *stretch* runs from one fix to the next; contiguous sprayed stretches form a *run*.
A run is buffered as one flat-capped line so straight stretches tile exactly and turns
are joined; where the swath width changes mid-run it is cut into pieces of (nearly)
constant width that are buffered separately, joined, and unioned back into one polygon.
"""

from __future__ import annotations

import numpy as np
import shapely

# Swath widths closer than this are the same width, whatever the tolerance.
_SWATH_TOL_M = 1e-6


def stretch_rectangles(
    x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray, width: np.ndarray
) -> np.ndarray:
    """Rectangles ``width`` wide centred on segments, with flat ends exactly at the endpoints.

    Examples
    --------
    >>> r = stretch_rectangles(*(np.array([v]) for v in (0.0, 0.0, 10.0, 0.0, 4.0)))
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


def swath_cuts(
    width: np.ndarray, in_run: np.ndarray, run_start: np.ndarray, tol: float
) -> np.ndarray:
    """Mark stretches that start a new constant-width piece inside a run.

    Consecutive stretches stay in one piece while their widths span at most ``tol`` metres.

    Examples
    --------
    >>> w = np.array([6.0, 6.02, 5.99, 7.0, 7.0, 6.0])
    >>> on = np.ones(6, dtype=bool)
    >>> start = np.array([True, False, False, False, False, False])
    >>> swath_cuts(w, on, start, 0.05).nonzero()[0].tolist()
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


def run_polygons(
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
    cut = swath_cuts(width, in_run, run_start, swath_tol_m)
    sub_start = run_start | cut

    s_idx = np.flatnonzero(in_run)
    if s_idx.size == 0:
        return np.empty(0, dtype=object)
    run_of = np.cumsum(run_start)[s_idx] - 1
    sub_of = np.cumsum(sub_start)[s_idx] - 1
    n_run = int(run_of[-1]) + 1

    pieces, sub_width = _piece_polygons(x, y, s_idx, sub_of, width, length, join_style)
    first = np.flatnonzero(np.diff(np.concatenate(([-1], sub_of))))
    piece_run = run_of[first]

    k = np.flatnonzero(cut)  # fix k joins stretch k-1 and stretch k of different widths
    if k.size:
        sub_at_k = np.cumsum(sub_start)[k] - 1  # the piece starting at stretch k
        narrower = np.minimum(sub_width[sub_at_k - 1], sub_width[sub_at_k])
        pieces = np.concatenate((pieces, _joint_polygons(x, y, k, narrower, join_style)))
        piece_run = np.concatenate((piece_run, np.cumsum(run_start)[k] - 1))
    return _union_by_run(pieces, piece_run, n_run)


def _piece_polygons(
    x: np.ndarray,
    y: np.ndarray,
    s_idx: np.ndarray,
    sub_of: np.ndarray,
    width: np.ndarray,
    length: np.ndarray,
    join_style: str,
) -> tuple[np.ndarray, np.ndarray]:
    """Buffer each constant-width piece (stretches ``s_idx``, piece ``sub_of``) of the runs.

    Returns the pieces and their widths: each piece's length-weighted mean width, or the
    plain mean for a piece of zero length.
    """
    n_sub = int(sub_of[-1]) + 1
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
    return pieces, sub_width


def _joint_polygons(
    x: np.ndarray, y: np.ndarray, k: np.ndarray, width: np.ndarray, join_style: str
) -> np.ndarray:
    """Buffer a joint ``width`` wide at each fix ``k`` where the swath changes mid-run.

    A joint runs from the middle of the stretch before the fix to the middle of the one
    after, so a turn at a width change is joined like any other turn.
    """
    mid_before = np.column_stack(((x[k - 1] + x[k]) / 2, (y[k - 1] + y[k]) / 2))
    mid_after = np.column_stack(((x[k] + x[k + 1]) / 2, (y[k] + y[k + 1]) / 2))
    joint_lines = shapely.linestrings(
        np.stack((mid_before, np.column_stack((x[k], y[k])), mid_after), axis=1)
    )
    return shapely.buffer(joint_lines, width / 2.0, cap_style="flat", join_style=join_style)


def _union_by_run(pieces: np.ndarray, piece_run: np.ndarray, n_run: int) -> np.ndarray:
    """One polygon per run: its piece, or the union of its pieces; empty runs are dropped."""
    counts = np.bincount(piece_run, minlength=n_run)
    runs = np.empty(n_run, dtype=object)
    single = counts == 1
    single_piece = np.zeros(n_run, dtype=np.intp)
    single_piece[piece_run] = np.arange(piece_run.size)  # valid where the run has one piece
    runs[single] = pieces[single_piece[single]]
    for r in np.flatnonzero(~single):  # only runs whose swath changed; rare
        runs[r] = shapely.union_all(pieces[piece_run == r])
    return runs[~shapely.is_empty(runs)]
