"""A field's season map: the field, every drone mission's swath over it, the hand work.

Pure: WGS84 geometries in, SVG text out, drawn in the field's UTM zone. Each mission's
swath is clipped to the field grown by :data:`VIEW_M` metres, so a neighbour's spraying
does not stretch the map; hand applications have no geometry and are listed under it.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import shapely
from shapely.geometry.base import BaseGeometry

from traceability.geo.projection import to_metres
from traceability.maps.labels import labels
from traceability.maps.mission import STYLE
from traceability.maps.svg import (
    OKABE_ITO,
    Frame,
    LegendItem,
    attrs,
    document,
    layer,
    legend,
    legend_height,
    north_arrow,
    polygonal,
    scale_bar,
    text,
)

#: How far around the field the map looks, metres.
VIEW_M = 20.0
# One colour per mission, in this order (Okabe-Ito; green is the field's).
MISSION_COLOURS = ("sky_blue", "orange", "reddish_purple", "blue", "vermillion", "yellow")


@dataclass(frozen=True, slots=True)
class SeasonMission:
    """A drone mission over the field: its id, a one-line summary and its footprint."""

    mission_id: str
    summary: str
    footprint: BaseGeometry | None


@dataclass(frozen=True, slots=True)
class FieldSeason:
    """A field, its season's drone missions and its hand applications (one line each)."""

    field_code: str
    season: str
    geometry: BaseGeometry
    missions: Sequence[SeasonMission]
    hand: Sequence[str]


def _colour(i: int) -> str:
    return OKABE_ITO[MISSION_COLOURS[i % len(MISSION_COLOURS)]]


def season_layers(season: FieldSeason) -> tuple[int, BaseGeometry, list[tuple[str, BaseGeometry]]]:
    """The UTM zone, the field in metres and each mission's swath over it, in metres."""
    field, epsg = to_metres(season.geometry)
    view = field.buffer(VIEW_M)
    swaths = []
    for m in season.missions:
        if m.footprint is None or m.footprint.is_empty:
            swaths.append((m.mission_id, shapely.Polygon()))
            continue
        swaths.append((m.mission_id, polygonal(to_metres(m.footprint, epsg)[0].intersection(view))))
    return epsg, field, swaths


def _missions_layer(swaths: list[tuple[str, BaseGeometry]], frame: Frame) -> str:
    """One ``<path class="feature">`` per mission that sprayed over the view, each its colour."""
    out = [f"<g {attrs(id='missions', class_='layer', fill_opacity=0.55)}>"]
    for i, (mission_id, geom) in enumerate(swaths):
        d = frame.path(geom)
        if d:
            out.append(
                f"<path {attrs(class_='feature', d=d, fill=_colour(i), fill_rule='evenodd', data_mission=mission_id)}/>"  # noqa: E501
            )
    return "".join(out) + "</g>"


def _hand_lines(season: FieldSeason, words: dict[str, str], x: float, y: float) -> str:
    out = ['<g id="hand-applications" class="layer">']
    out.append(text(x, y + 12, words["hand"], 13, font_weight="bold"))
    lines = list(season.hand) or [words["no_hand"]]
    for i, line in enumerate(lines):
        cls = "feature" if season.hand else "empty"
        out.append(text(x, y + 32 + i * 18, line, 12, class_=cls))
    return "".join(out) + "</g>"


def season_svg(season: FieldSeason, *, lang: str = "vi", width: float = 640.0) -> str:
    """The season map of a field as an SVG document (Vietnamese; ``lang="en"``)."""
    words = labels(lang)
    title = f"{words['season_map']} · {season.field_code}"
    epsg, field, swaths = season_layers(season)
    frame = Frame.around(field.buffer(VIEW_M).bounds, width=width, top=46, margin_m=0.0)
    fs = STYLE["fields"]
    items = [LegendItem(f"{words['fields']} {season.field_code}", fs.fill, fs.stroke)]
    items += [
        LegendItem(m.summary, _colour(i), opacity=0.55) for i, m in enumerate(season.missions)
    ]
    legend_top = frame.top + frame.map_height + 10
    hand_top = legend_top + legend_height(items) + 6
    height = hand_top + 32 + 18 * max(1, len(season.hand)) + 8
    body = (
        text(16, 20, title, 15, font_weight="bold")
        + text(16, 38, season.season, 12, fill="#444")
        + layer(
            "fields",
            [(field, {"code": season.field_code})],
            frame,
            fill=fs.fill,
            stroke=fs.stroke,
            stroke_width=2,
        )
        + _missions_layer(swaths, frame)
        + f'<g id="field-outline"><path {attrs(d=frame.path(field), fill="none", stroke=fs.stroke, stroke_width=2)}/></g>'  # noqa: E501
        + scale_bar(frame)
        + north_arrow(frame)
        + legend(items, x=16, y=legend_top)
        + _hand_lines(season, words, 16, hand_top)
    )
    return document(
        width, height, body, title=title, data_field=season.field_code, data_epsg=epsg,
        data_metres_per_px=f"{1 / frame.scale:.6f}",
    )  # fmt: skip
