"""Hectares treated per commune: fields tinted by their commune's class, and a circle at
the centre of each commune's fields whose area is proportional to its hectares.

Pure: WGS84 geometries in, SVG text out, drawn in the fields' UTM zone. The communes
have no boundary polygons in agritrace (their fields stand for them), hence symbols at
the centroid of each commune's fields rather than a choropleth of communes.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from traceability.geo.projection import WGS84_EPSG, reproject, utm_epsg
from traceability.maps.labels import labels
from traceability.maps.svg import (
    Frame,
    LegendItem,
    attrs,
    document,
    legend,
    legend_height,
    nice_ceiling,
    north_arrow,
    scale_bar,
    text,
)

# ColorBrewer's "Blues", light to dark: sequential and safe for colour-blind readers.
CLASS_COLOURS = ("#BDD7E7", "#6BAED6", "#3182BD", "#08519C")
NO_DATA = "#EEEEEE"
#: The radius of a circle at the top of the highest class, px.
MAX_R = 28.0


@dataclass(frozen=True, slots=True)
class Commune:
    """A commune on the map: its fields (WGS84) and the hectares treated there."""

    code: str
    name: str
    fields: Sequence[BaseGeometry]
    hectares: float


def class_breaks(top: float, n: int = len(CLASS_COLOURS)) -> list[float]:
    """Upper bounds of ``n`` equal classes up to ``top``, on round numbers.

    The step is the shortest 1, 2 or 5 × 10ⁿ whose ``n`` classes reach ``top``, found
    in one pass (no search that could fail to end); a top that is not a positive
    finite number gives classes of 1; a top above 1e300 counts as 1e300, one below 1e-300
    as 1e-300.

    >>> class_breaks(37.0)
    [10.0, 20.0, 30.0, 40.0]
    >>> class_breaks(9.0), class_breaks(150.0)
    ([5.0, 10.0, 15.0, 20.0], [50.0, 100.0, 150.0, 200.0])
    >>> class_breaks(0.0)
    [1.0, 2.0, 3.0, 4.0]
    """
    if not (math.isfinite(top) and top > 0):
        return [float(i + 1) for i in range(n)]
    # Anything larger is the last class anyway, and n × top stays finite; below 1e-300
    # (subnormal) the division loses digits, so classes start at 1e-300, still above it.
    top = min(max(top, 1e-300), 1e300)
    step = nice_ceiling(top / n)
    if step * n < top:  # top / n rounded down, or x too large for a round step
        step = top / n * (1 + 1e-12)
    return [step * (i + 1) for i in range(n)]


def class_of(hectares: float, breaks: Sequence[float]) -> int:
    """The index of the class ``hectares`` falls in (the last for anything above)."""
    return next((i for i, b in enumerate(breaks) if hectares <= b), len(breaks) - 1)


def radius(hectares: float, top: float) -> float:
    """A circle's radius, px: its area is proportional to the hectares (at most
    :data:`MAX_R`, for anything at or above ``top``)."""
    return MAX_R * math.sqrt(min(hectares / top, 1.0)) if top > 0 and hectares > 0 else 0.0


def _fmt(ha: float) -> str:
    return f"{ha:,.2f}".rstrip("0").rstrip(".")


def _legend_items(breaks: list[float], top: float, words: dict[str, str]) -> list[LegendItem]:
    items, low = [], 0.0
    for i, b in enumerate(breaks):
        r = max(3.0, radius(b, breaks[-1]))
        items.append(
            LegendItem(
                f"{_fmt(low)} – {_fmt(b)} {words['ha']}",
                CLASS_COLOURS[i],
                "#08306B",
                0.85,
                circle_r=r,
            )
        )
        low = b
    items.append(LegendItem(words["no_data"], NO_DATA, "#999"))
    return items


def _label(c: Commune, x: float, y: float, r: float, placed: list, unit: str = "ha") -> str:
    """The commune's name and hectares under its circle, or over it when that would run
    into a label already placed (neighbouring communes)."""
    below = y + r + 12
    if any(abs(x - px) < 110 and abs(below - py) < 26 for px, py in placed):
        below = y - r - 18
    placed.append((x, below))
    return text(x, below, c.name, 10, text_anchor="middle") + text(
        x, below + 12, f"{_fmt(c.hectares)} {unit}", 10, text_anchor="middle"
    )


#: A field drawn smaller than this (px, both ways) is drawn as the pixels its box covers:
#: a province's 30,000 fields at 400 px are specks a pixel wide, and one path per field
#: made a 3.8 MB drawing that looked like the pixels it now draws.
SPECK_PX = 2.0


def _cells(x0: np.ndarray, y0: np.ndarray, x1: np.ndarray, y1: np.ndarray):
    """The whole pixels (column, row) that boxes in px touch."""
    for a, b, c, d in zip(
        np.floor(x0).astype(int), np.floor(y0).astype(int),
        np.floor(x1).astype(int), np.floor(y1).astype(int), strict=True,
    ):  # fmt: skip
        for i in range(a, c + 1):
            for j in range(b, d + 1):
                yield i, j


def _pixel_paths(painted: dict[tuple[int, int], str]) -> str:
    """One path per colour covering its pixels, row by row in runs."""
    by_fill: dict[str, list[tuple[int, int]]] = {}
    for (i, j), fill in painted.items():
        by_fill.setdefault(fill, []).append((j, i))
    out = []
    for fill, cells in by_fill.items():
        parts, run = [], None
        for j, i in sorted(cells):
            if run and run[0] == j and run[2] == i:
                run[2] += 1
                continue
            if run:
                parts.append(f"M{run[1]},{run[0]}h{run[2] - run[1]}v1h{run[1] - run[2]}z")
            run = [j, i, i + 1]
        parts.append(f"M{run[1]},{run[0]}h{run[2] - run[1]}v1h{run[1] - run[2]}z")
        out.append(f"<path {attrs(class_='specks', d=''.join(parts), fill=fill, stroke='none')}/>")
    return "".join(out)


def _body(communes, metres, breaks, top, frame, unit: str = "ha") -> str:
    fields = ['<g id="fields" class="layer" stroke="#777" stroke-width="0.5">']
    circles = ['<g id="communes" class="layer" stroke="#08306B" fill-opacity="0.7">']
    names = ['<g id="commune-labels">']
    placed: list[tuple[float, float]] = []
    painted: dict[tuple[int, int], str] = {}
    for c, geoms in zip(communes, metres, strict=True):
        cls = class_of(c.hectares, breaks) if c.hectares > 0 else None
        fill = CLASS_COLOURS[cls] if cls is not None else NO_DATA
        if len(geoms):
            minx, miny, maxx, maxy = shapely.bounds(geoms).T
            x0, x1 = (
                frame.pad + (minx - frame.minx) * frame.scale,
                frame.pad + (maxx - frame.minx) * frame.scale,
            )
            y0 = frame.top + frame.pad + (frame.maxy - maxy) * frame.scale
            y1 = frame.top + frame.pad + (frame.maxy - miny) * frame.scale
            speck = ((x1 - x0) < SPECK_PX) & ((y1 - y0) < SPECK_PX)
            for g in geoms[~speck]:
                a = attrs(class_="feature", d=frame.path(g), fill=fill, data_commune=c.code)
                fields.append(f"<path {a}/>")
            # A pixel shows the last commune's colour drawn on it, as paths drawn in turn do.
            for cell in _cells(x0[speck], y0[speck], x1[speck], y1[speck]):
                painted[cell] = fill
        if cls is None or not len(geoms):
            continue
        # The centre of the fields' centres (as a MultiPoint's centroid is).
        cx, cy = shapely.get_coordinates(shapely.centroid(geoms)).mean(axis=0)
        x, y = frame.px(cx, cy)
        r = radius(c.hectares, breaks[-1])
        circles.append(
            f"<circle {attrs(class_='feature', cx=f'{x:.2f}', cy=f'{y:.2f}', r=f'{r:.2f}', fill=CLASS_COLOURS[cls], data_commune=c.code, data_hectares=f'{c.hectares:.4f}', data_class=cls)}/>"  # noqa: E501
        )
        names.append(_label(c, x, y, r, placed, unit))
    fields.insert(1, _pixel_paths(painted))
    return "".join(fields) + "</g>" + "".join(circles) + "</g>" + "".join(names) + "</g>"


def _with_room(bounds: Sequence[float], width: float) -> tuple[float, float, float, float]:
    """``bounds`` grown so the outermost circles and their labels fit inside the map."""
    minx, miny, maxx, maxy = bounds
    margin = max(20.0, 0.12 * max(maxx - minx, maxy - miny))
    # The scale once 90 px are kept each side for labels: exact when the width limits it.
    px_per_m = (width - 32.0 - 180.0) / (maxx - minx + 2 * margin)
    across = margin + 90.0 / px_per_m
    up_down = margin + (MAX_R + 56.0) / px_per_m  # a circle, its label, the scale bar
    return minx - across, miny - up_down, maxx + across, maxy + up_down


# The last projection made, under the identity of the outlines projected (they are held
# here too, so no other object can take their ids): a worker draws the office's map
# again and again from the same outlines (``services.maps`` keeps them), and projecting
# a province's 30,000 fields took 150 ms of each drawing. Geometries never change.
_last: tuple[tuple[int, ...], int, list, np.ndarray] | None = None


def _projected(geoms: list, epsg: int) -> np.ndarray:
    """``geoms`` (WGS84) in ``epsg``, as one array; the last answer again for the same."""
    global _last
    ids = tuple(map(id, geoms))
    last = _last
    if last is not None and last[0] == ids and last[1] == epsg:
        return last[3]
    projected = reproject(np.array(geoms, dtype=object), WGS84_EPSG, epsg)
    _last = (ids, epsg, geoms, projected)
    return projected


def communes_svg(
    communes: Sequence[Commune],
    *,
    subtitle: str = "",
    lang: str = "vi",
    width: float = 640.0,
    title: str | None = None,
    unit: str | None = None,
) -> str:
    """The commune map as an SVG document (Vietnamese; ``lang="en"``). ``title`` and
    ``unit`` draw another figure than hectares (``Commune.hectares`` holds it)."""
    words = labels(lang) | ({"communes": title} if title else {}) | ({"ha": unit} if unit else {})
    title = words["communes"]
    drawn = [c for c in communes if c.fields]
    if not drawn:
        body = text(16, 20, title, 15, font_weight="bold") + text(16, 48, words["no_data"])
        return document(width, 64, body, title=title)
    anchor = drawn[0].fields[0].centroid
    epsg = utm_epsg(anchor.x, anchor.y)
    # Every field projected in one vectorised call, then split back by commune.
    projected = _projected([g for c in drawn for g in c.fields], epsg)
    ends = np.cumsum([len(c.fields) for c in drawn])
    metres = np.split(projected, ends[:-1])
    bounds = tuple(float(v) for v in shapely.total_bounds(projected))
    frame = Frame.around(_with_room(bounds, width), width=width, top=46, margin_m=0.0)
    top = max(c.hectares for c in drawn)
    breaks = class_breaks(top)
    items = _legend_items(breaks, top, words)
    legend_top = frame.top + frame.map_height + 10
    body = (
        text(16, 20, title, 15, font_weight="bold")
        + text(16, 38, subtitle, 12, fill="#444")
        + _body(drawn, metres, breaks, top, frame, words["ha"])
        + scale_bar(frame)
        + north_arrow(frame)
        + legend(items, x=16, y=legend_top)
    )
    height = legend_top + legend_height(items) + 8
    return document(
        width, height, body, title=title, data_epsg=epsg,
        data_metres_per_px=f"{1 / frame.scale:.6f}", data_max_radius=MAX_R,
    )  # fmt: skip
