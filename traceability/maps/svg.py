"""Plain SVG written by hand: a metre frame, paths from shapely geometries, scale bar,
north arrow and legend.

No matplotlib: a map here is a few polygons, and hand-written SVG keeps each layer a
``<g id=...>`` of one ``<path class="feature">`` per feature, which tests and browsers
can read back. Geometries come in UTM metres; the frame turns them into pixels with
one scale for x and y (``data-metres-per-px`` on the root), north up.
"""

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

import shapely
from shapely.geometry.base import BaseGeometry

# Okabe & Ito's palette: told apart by people with any common colour-vision deficiency.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
}
FONT = "DejaVu Sans, Arial, sans-serif"


@dataclass(frozen=True, slots=True)
class Frame:
    """A window in metres ``(minx, miny, maxx, maxy)`` drawn ``width`` px wide, north up."""

    minx: float
    miny: float
    maxx: float
    maxy: float
    width: float
    pad: float
    scale: float  # px per metre
    top: float  # px above the map (title)

    @classmethod
    def around(
        cls, bounds: Sequence[float], *, width: float = 640.0, max_height: float = 480.0,
        pad: float = 16.0, top: float = 28.0, margin_m: float = 10.0,
    ) -> "Frame":  # fmt: skip
        """The frame fitting ``bounds`` (metres, grown by ``margin_m``) into the size given."""
        minx, miny, maxx, maxy = bounds
        minx, miny, maxx, maxy = minx - margin_m, miny - margin_m, maxx + margin_m, maxy + margin_m
        span_x, span_y = max(maxx - minx, 1.0), max(maxy - miny, 1.0)
        scale = min((width - 2 * pad) / span_x, (max_height - 2 * pad) / span_y)
        # Centre the window horizontally in the width.
        extra = (width - 2 * pad) / scale - span_x
        return cls(minx - extra / 2, miny, maxx + extra / 2, maxy, width, pad, scale, top)

    @property
    def map_height(self) -> float:
        """Pixels the map itself takes (below the title)."""
        return (self.maxy - self.miny) * self.scale + 2 * self.pad

    def px(self, x: float, y: float) -> tuple[float, float]:
        """The pixel of the point ``(x, y)`` in metres."""
        return (
            self.pad + (x - self.minx) * self.scale,
            self.top + self.pad + (self.maxy - y) * self.scale,
        )

    def path(self, geom: BaseGeometry) -> str:
        """An SVG path ``d`` for a polygonal geometry (rings closed, holes kept)."""
        parts = []
        for poly in _polygons(geom):
            for ring in (poly.exterior, *poly.interiors):
                pts = [self.px(x, y) for x, y in ring.coords[:-1]]
                if len(pts) >= 3:
                    parts.append("M" + " L".join(f"{x:.2f},{y:.2f}" for x, y in pts) + " Z")
        return " ".join(parts)


def _polygons(geom: BaseGeometry) -> Iterable[BaseGeometry]:
    if geom is None or geom.is_empty:
        return []
    if geom.geom_type == "Polygon":
        return [geom]
    if hasattr(geom, "geoms"):
        return [p for g in geom.geoms for p in _polygons(g)]
    return []


def polygonal(geom: BaseGeometry | None) -> BaseGeometry:
    """The polygons of ``geom`` (lines and points an intersection left dropped)."""
    if geom is None or geom.is_empty:
        return shapely.Polygon()
    return shapely.MultiPolygon(list(_polygons(geom))) if geom.geom_type != "Polygon" else geom


def attrs(**values: object) -> str:
    """``key="value"`` pairs, escaped; ``_`` in a key becomes ``-``, None is left out."""
    return " ".join(
        f"{k.rstrip('_').replace('_', '-')}={quoteattr(str(v))}"
        for k, v in values.items()
        if v is not None
    )


def text(x: float, y: float, content: str, size: float = 12, **more: object) -> str:
    """A ``<text>`` element."""
    return (
        f"<text {attrs(x=f'{x:.1f}', y=f'{y:.1f}', font_size=size, font_family=FONT, **more)}>"
        f"{escape(content)}</text>"
    )


def nice_length(max_m: float) -> float:
    """The longest 1, 2 or 5 × 10ⁿ metres not above ``max_m``.

    Anything not a positive finite number (a degenerate frame) gives 1.

    >>> nice_length(137.0), nice_length(9.9), nice_length(2600)
    (100.0, 5.0, 2000.0)
    """
    if not (math.isfinite(max_m) and max_m > 0):
        return 1.0
    if max_m < 1e-300:  # 10ⁿ would underflow to zero
        return max_m
    exp = math.floor(math.log10(max_m))
    for step in (5.0, 2.0, 1.0):
        if step * 10.0**exp <= max_m:
            return step * 10.0**exp
    return 10.0 ** (exp - 1) * 5.0  # log10 rounded up just under a power of ten


def nice_ceiling(x: float) -> float:
    """The shortest 1, 2 or 5 × 10ⁿ not below ``x`` (positive and finite, else 1).

    A single pass over at most four candidates: it cannot loop, whatever ``x`` is.

    >>> nice_ceiling(2.25), nice_ceiling(3.75), nice_ceiling(20.0), nice_ceiling(0.3)
    (5.0, 5.0, 20.0, 0.5)
    """
    if not (math.isfinite(x) and x > 0):
        return 1.0
    if x < 1e-300:  # 10ⁿ would underflow to zero
        return x
    exp = math.floor(math.log10(x))
    for step in (1.0, 2.0, 5.0, 10.0):
        try:
            value = step * 10.0**exp
        except OverflowError:  # x within a factor of 10 of the largest float
            return x
        if value >= x:
            return value if math.isfinite(value) else x
    return x


def metres_label(m: float) -> str:
    """``500 m`` or ``2 km``.

    >>> metres_label(500.0), metres_label(2000.0)
    ('500 m', '2 km')
    """
    return f"{m / 1000:g} km" if m >= 1000 else f"{m:g} m"


def scale_bar(frame: Frame) -> str:
    """A scale bar in metres, bottom left of the map, about a quarter of its width."""
    length_m = nice_length((frame.width - 2 * frame.pad) / 4 / frame.scale)
    px = length_m * frame.scale
    x0 = frame.pad + 8
    y0 = frame.top + frame.map_height - frame.pad - 6
    half = px / 2
    return (
        f'<g id="scale-bar" {attrs(data_metres=f"{length_m:g}", data_px=f"{px:.2f}")}>'
        f"<rect {attrs(x=f'{x0 - 4:.1f}', y=f'{y0 - 18:.1f}', width=f'{px + 8:.1f}', height=26, fill='#ffffff', fill_opacity=0.8)}/>"  # noqa: E501
        f"<rect {attrs(x=f'{x0:.1f}', y=f'{y0:.1f}', width=f'{half:.2f}', height=5, fill='#000')}/>"
        f"<rect {attrs(x=f'{x0 + half:.2f}', y=f'{y0:.1f}', width=f'{half:.2f}', height=5, fill='#fff', stroke='#000', stroke_width=0.8)}/>"  # noqa: E501
        + text(x0, y0 - 4, metres_label(length_m), 11)
        + "</g>"
    )


def north_arrow(frame: Frame) -> str:
    """An arrow pointing up (north: the frame is UTM, north up) with an N, top right."""
    x = frame.width - frame.pad - 14
    y = frame.top + frame.pad + 4
    return (
        '<g id="north-arrow">'
        f"<path {attrs(d=f'M{x:.1f},{y:.1f} l8,22 l-8,-6 l-8,6 Z', fill='#000')}/>"
        + text(x - 4, y + 36, "N", 12, font_weight="bold")
        + "</g>"
    )


@dataclass(frozen=True, slots=True)
class LegendItem:
    """One line of a legend: a swatch (``fill``, ``stroke``, ``dash``) and a label."""

    label: str
    fill: str
    stroke: str = "none"
    opacity: float = 1.0
    dash: str | None = None
    circle_r: float | None = None


def legend(items: Sequence[LegendItem], *, x: float, y: float, row: float = 22.0) -> str:
    """The legend as a ``<g id="legend">``, one row per item, from ``(x, y)`` down."""
    out = ['<g id="legend">']
    top = y
    for item in items:
        if item.circle_r is not None:
            r = item.circle_r
            swatch = f"<circle {attrs(cx=f'{x + r:.1f}', cy=f'{top + r:.1f}', r=f'{r:.1f}', fill=item.fill, fill_opacity=item.opacity, stroke=item.stroke)}/>"  # noqa: E501
            label_y, label_x = top + r + 4, x + 2 * r + 10
        else:
            swatch = f"<rect {attrs(x=f'{x:.1f}', y=f'{top:.1f}', width=18, height=14, fill=item.fill, fill_opacity=item.opacity, stroke=item.stroke, stroke_dasharray=item.dash)}/>"  # noqa: E501
            label_y, label_x = top + 12, x + 26
        out.append(swatch + text(label_x, label_y, item.label, 12, class_="legend-label"))
        top += row if item.circle_r is None else max(row, 2 * item.circle_r + 6)
    out.append("</g>")
    return "".join(out)


def legend_height(items: Sequence[LegendItem], row: float = 22.0) -> float:
    """Pixels a legend of ``items`` takes."""
    circles = [2 * i.circle_r + 6 for i in items if i.circle_r is not None]
    return sum(max(row, c) for c in circles) + row * (len(items) - len(circles))


def document(width: float, height: float, body: str, *, title: str, **data: object) -> str:
    """The ``<svg>`` root: a white page ``width`` × ``height`` px holding ``body``."""
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" '
        + attrs(
            width=f"{width:.0f}",
            height=f"{height:.0f}",
            viewBox=f"0 0 {width:.0f} {height:.0f}",
            role="img",
            **data,
        )
        + f"><title>{escape(title)}</title>"
        + f"<rect {attrs(width='100%', height='100%', fill='#ffffff')}/>"
        + body
        + "</svg>"
    )


def layer(layer_id: str, features: Sequence[tuple[BaseGeometry, dict]], frame: Frame, **style):
    """``<g id=layer_id class="layer">`` of one ``<path class="feature">`` per non-empty
    geometry, each with its ``data-*`` attributes."""
    out = [f"<g {attrs(id=layer_id, class_='layer', **style)}>"]
    for geom, data in features:
        d = frame.path(geom)
        if d:
            extra = {f"data_{k}": v for k, v in data.items()}
            out.append(f"<path {attrs(class_='feature', d=d, fill_rule='evenodd', **extra)}/>")
    out.append("</g>")
    return "".join(out)
