"""The as-applied map of one mission: fields, swath, overlap, overspray, no-spray zones.

Pure: WGS84 geometries in, SVG text out. Everything is projected to the mission's UTM
zone (48N in the Mekong) so the drawing is in metres, then scaled to pixels.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from traceability.geo.projection import to_metres, utm_epsg
from traceability.maps.labels import labels
from traceability.maps.svg import (
    OKABE_ITO,
    Frame,
    LegendItem,
    document,
    layer,
    legend,
    legend_height,
    north_arrow,
    polygonal,
    scale_bar,
    text,
)

# Each layer's colour, from the Okabe-Ito palette (told apart with any colour vision).
STYLE = {
    "fields": LegendItem("", "#E8F4EE", OKABE_ITO["bluish_green"]),
    "swath": LegendItem("", OKABE_ITO["sky_blue"], opacity=0.7),
    "overlap": LegendItem("", OKABE_ITO["blue"], opacity=0.85),
    "overspray": LegendItem("", OKABE_ITO["orange"], opacity=0.9),
    "zones": LegendItem("", OKABE_ITO["yellow"], OKABE_ITO["black"], 0.55, dash="4 3"),
    "zone_spray": LegendItem("", OKABE_ITO["vermillion"]),
}
LAYER_IDS = {
    "fields": "fields",
    "swath": "swath",
    "overlap": "overlap",
    "overspray": "overspray",
    "zones": "nospray-zones",
    "zone_spray": "nospray-spray",
}


@dataclass(frozen=True, slots=True)
class MissionShapes:
    """What a mission's map shows, in WGS84: its candidate fields ``(code, polygon)``,
    its sprayed runs (one polygon per run of the applicator) and the no-spray zones near
    it ``(code, polygon, buffer_m)``."""

    mission_id: str
    subtitle: str
    fields: Sequence[tuple[str, BaseGeometry]]
    runs: Sequence[BaseGeometry]
    zones: Sequence[tuple[str, BaseGeometry, float]]


@dataclass(frozen=True, slots=True)
class MissionLayers:
    """The layers in metres (one UTM zone, ``epsg``)."""

    epsg: int
    fields: list[tuple[str, BaseGeometry]]
    swath: BaseGeometry
    overlap: BaseGeometry
    overspray: BaseGeometry
    zones: list[tuple[str, BaseGeometry]]
    zone_spray: list[tuple[str, BaseGeometry]]


def _anchor(shapes: MissionShapes) -> BaseGeometry | None:
    for geom in (*shapes.runs, *(g for _, g in shapes.fields), *(g for _, g, _ in shapes.zones)):
        if geom is not None and not geom.is_empty:
            return geom
    return None


def twice(runs: Sequence[BaseGeometry]) -> BaseGeometry:
    """Where two or more runs overlap (a run crossing itself is one run)."""
    if len(runs) < 2:
        return shapely.Polygon()
    arr = np.asarray(runs, dtype=object)
    a, b = shapely.STRtree(arr).query(arr, predicate="intersects")
    keep = a < b
    pieces = [polygonal(p) for p in shapely.intersection(arr[a[keep]], arr[b[keep]])]
    pieces = [p for p in pieces if not p.is_empty]
    return polygonal(shapely.union_all(pieces)) if pieces else shapely.Polygon()


def mission_layers(shapes: MissionShapes) -> MissionLayers | None:
    """The layers of the map in metres, or None when the mission has nothing to draw."""
    anchor = _anchor(shapes)
    if anchor is None:
        return None
    epsg = utm_epsg(anchor.centroid.x, anchor.centroid.y)
    fields = [(code, to_metres(g, epsg)[0]) for code, g in shapes.fields]
    runs = [to_metres(r, epsg)[0] for r in shapes.runs if r is not None and not r.is_empty]
    swath = polygonal(shapely.union_all(runs)) if runs else shapely.Polygon()
    on_fields = shapely.union_all([g for _, g in fields]) if fields else shapely.Polygon()
    zones = [(code, to_metres(g, epsg)[0].buffer(buf)) for code, g, buf in shapes.zones]
    return MissionLayers(
        epsg=epsg,
        fields=fields,
        swath=swath,
        overlap=twice(runs),
        overspray=polygonal(swath.difference(on_fields)),
        zones=zones,
        zone_spray=[(code, polygonal(swath.intersection(z))) for code, z in zones],
    )


def _bounds(ly: MissionLayers) -> tuple[float, float, float, float]:
    geoms = [g for _, g in ly.fields] + [ly.swath] + [g for _, g in ly.zones]
    return shapely.GeometryCollection([g for g in geoms if not g.is_empty]).bounds


def _ha(geom: BaseGeometry) -> str:
    return f"{geom.area / 10_000:.2f} ha"


def _legend_items(ly: MissionLayers, words: dict[str, str]) -> list[LegendItem]:
    zone_spray = shapely.union_all([g for _, g in ly.zone_spray] or [shapely.Polygon()])
    texts = {
        "fields": f"{words['fields']} ({len(ly.fields)})",
        "swath": f"{words['swath']} — {_ha(ly.swath)}",
        "overlap": f"{words['overlap']} — {_ha(ly.overlap)}",
        "overspray": f"{words['overspray']} — {_ha(ly.overspray)}",
        "zones": f"{words['zones']} ({len(ly.zones)})",
        "zone_spray": f"{words['zone_spray']} — {zone_spray.area:,.0f} m²",
    }
    out = []
    for key, label in texts.items():
        s = STYLE[key]
        out.append(LegendItem(label, s.fill, s.stroke, s.opacity, s.dash))
    return out


def _layers_svg(ly: MissionLayers, frame: Frame) -> str:
    def style(key: str, **more) -> dict:
        s = STYLE[key]
        return {"fill": s.fill, "fill_opacity": s.opacity, "stroke": s.stroke, **more}

    return "".join(
        [
            layer(
                "fields",
                [(g, {"code": c}) for c, g in ly.fields],
                frame,
                **style("fields", stroke_width=1.5),
            ),
            layer("swath", [(ly.swath, {})], frame, **style("swath")),
            layer("overlap", [(ly.overlap, {})], frame, **style("overlap")),
            layer("overspray", [(ly.overspray, {})], frame, **style("overspray")),
            layer(
                "nospray-zones",
                [(g, {"code": c}) for c, g in ly.zones],
                frame,
                **style("zones", stroke_dasharray="4 3"),
            ),
            layer(
                "nospray-spray",
                [(g, {"code": c}) for c, g in ly.zone_spray],
                frame,
                **style("zone_spray"),
            ),
        ]
    )


def _labels(ly: MissionLayers, frame: Frame) -> str:
    out = ['<g id="field-labels">']
    for code, g in ly.fields:
        p = g.representative_point()
        x, y = frame.px(p.x, p.y)
        out.append(text(x, y, code, 10, text_anchor="middle", fill="#1b3d2f"))
    return "".join(out) + "</g>"


def mission_svg(shapes: MissionShapes, *, lang: str = "vi", width: float = 640.0) -> str:
    """The as-applied map of a mission as an SVG document (Vietnamese; ``lang="en"``)."""
    words = labels(lang)
    title = f"{words['mission']} · {shapes.mission_id}"
    ly = mission_layers(shapes)
    if ly is None:
        body = text(16, 20, title, 15, font_weight="bold") + text(16, 48, words["no_data"])
        return document(width, 64, body, title=title, data_mission=shapes.mission_id)
    frame = Frame.around(_bounds(ly), width=width, top=46)
    items = _legend_items(ly, words)
    legend_top = frame.top + frame.map_height + 10
    height = legend_top + legend_height(items) + 8
    body = (
        text(16, 20, title, 15, font_weight="bold")
        + text(16, 38, shapes.subtitle, 12, fill="#444")
        + _layers_svg(ly, frame)
        + _labels(ly, frame)
        + scale_bar(frame)
        + north_arrow(frame)
        + legend(items, x=16, y=legend_top)
    )
    return document(
        width,
        height,
        body,
        title=title,
        data_mission=shapes.mission_id,
        data_epsg=ly.epsg,
        data_metres_per_px=f"{1 / frame.scale:.6f}",
    )
