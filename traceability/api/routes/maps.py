"""Maps as SVG and PNG: a mission's as-applied map, a field's season, the communes."""

from typing import Annotated

from fastapi import APIRouter, Query, Response

from traceability.api.deps import CurrentUser, SessionDep
from traceability.api.i18n import pick_lang
from traceability.maps.mission import mission_svg
from traceability.maps.png import svg_to_png
from traceability.services import access
from traceability.services import maps as svc

router = APIRouter()
Lang = Annotated[str | None, Query(max_length=10, description="vi (default) or en")]
SVG = "image/svg+xml"
# Maps show records only some callers read: browsers may keep them, shared caches not.
PRIVATE = {"Cache-Control": "private, max-age=60"}


def mission_map_svg(session, user, mission_id: str, lang: str | None) -> str:
    """The as-applied map of a mission the caller reads (404/403 as the mission's route)."""
    access.ensure_reads_mission(session, user, mission_id)
    lang = pick_lang(lang)
    return mission_svg(svc.mission_shapes(session, mission_id=mission_id, lang=lang), lang=lang)


@router.get("/missions/{mission_id}/map.svg", tags=["missions"], response_class=Response)
def mission_map(mission_id: str, session: SessionDep, user: CurrentUser, lang: Lang = None):
    """The as-applied map: fields, swath, overlap, overspray, no-spray zones, as SVG."""
    svg = mission_map_svg(session, user, mission_id, lang)
    return Response(svg, media_type=SVG, headers=PRIVATE)


@router.get("/missions/{mission_id}/map.png", tags=["missions"], response_class=Response)
def mission_map_png(mission_id: str, session: SessionDep, user: CurrentUser, lang: Lang = None):
    """The as-applied map as PNG (twice the SVG's pixel size)."""
    png = svg_to_png(mission_map_svg(session, user, mission_id, lang))
    return Response(png, media_type="image/png", headers=PRIVATE)
