"""Bar charts for the office's dashboard, as plain SVG written by hand (no matplotlib).

Horizontal bars, each label above its bar and the value at its end: readable on a
360 px phone, where column labels would collide. The chart is drawn :data:`WIDTH` px
wide and scales with the page (``viewBox``).
"""

from collections.abc import Sequence
from xml.sax.saxutils import escape

from traceability.maps.svg import OKABE_ITO, attrs, text
from traceability.words import number

WIDTH = 340.0
ROW = 34.0


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    chart_id: str,
    title: str,
    unit: str = "ha",
    colour: str = OKABE_ITO["blue"],
    empty: str = "—",
    lang: str = "vi",
) -> str:
    """A horizontal bar chart of ``(label, value)`` as an inline ``<svg>``; each bar is a
    ``<rect class="bar">`` with its value in ``data-value`` and, at its end, as ``lang``
    writes numbers."""
    top = max((v for _, v in items), default=0.0)
    height = 8 + ROW * max(1, len(items))
    out = [
        "<svg "
        + attrs(
            xmlns="http://www.w3.org/2000/svg",
            id=chart_id,
            class_="chart",
            viewBox=f"0 0 {WIDTH:.0f} {height:.0f}",
            role="img",
            width="100%",
            preserveAspectRatio="xMinYMin meet",
        )
        + f"><title>{escape(title)}</title>"
    ]
    if not items:
        out.append(text(4, 24, empty, 13, fill="#555"))
    room = WIDTH - 70.0  # the value's text after the longest bar
    for i, (label, value) in enumerate(items):
        y = 4 + i * ROW
        length = room * value / top if top > 0 else 0.0
        out.append(text(2, y + 12, label, 12, fill="#222"))
        rect = attrs(
            class_="bar", x=2, y=f"{y + 16:.1f}", width=f"{max(length, 1.0):.2f}", height=12,
            fill=colour, data_label=label, data_value=f"{value:.4f}",
        )  # fmt: skip
        out.append(f"<rect {rect}/>")
        out.append(text(length + 8, y + 26, f"{number(value, 2, lang)} {unit}", 11, fill="#222"))
    out.append("</svg>")
    return "".join(out)
