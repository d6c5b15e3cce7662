"""Maps as SVG and PNG: a mission's as-applied map, a field's season, the communes.

They answer a bearer token like the rest of the API, and also the staff pages' cookie
(``staff_auth``), so the pages can show and link them.
"""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from traceability import reports
from traceability.api import pages
from traceability.api.deps import SessionDep
from traceability.api.pages import Lang
from traceability.api.staff_auth import MAP_CACHE, ReaderUser
from traceability.errors import Forbidden, InvalidInput
from traceability.maps.communes import communes_svg
from traceability.maps.labels import labels
from traceability.maps.mission import mission_svg
from traceability.maps.png import svg_to_png
from traceability.services import access
from traceability.services import maps as svc

router = APIRouter()

#: The maps' width in px unless asked: their words are drawn at a fixed size, so a map
#: drawn at the width it is shown at (a phone's 360 px) keeps them legible.
MAP_WIDTH = 640.0
MapWidth = Annotated[
    float, Query(ge=240, le=1600, description="drawn this many px wide (240-1600)")
]


def mission_map_svg(
    session, user, mission_id: str, lang: str | None, width: float = MAP_WIDTH
) -> str:
    """The as-applied map of a mission the caller reads (404/403 as the mission's route)."""
    access.ensure_reads_mission(session, user, mission_id)
    lang = pages.choose_lang(lang)
    shapes = svc.mission_shapes(session, mission_id=mission_id, lang=lang)
    return mission_svg(shapes, lang=lang, width=width)


@router.get("/missions/{mission_id}/map.svg", tags=["missions"], response_class=Response)
def mission_map(
    mission_id: str,
    session: SessionDep,
    user: ReaderUser,
    lang: Lang = None,
    width: MapWidth = MAP_WIDTH,
):
    """The as-applied map: fields, swath, overlap, overspray, no-spray zones, as SVG."""
    svg = mission_map_svg(session, user, mission_id, lang, width)
    return Response(svg, media_type="image/svg+xml", headers=MAP_CACHE)


@router.get("/missions/{mission_id}/map.png", tags=["missions"], response_class=Response)
def mission_map_png(mission_id: str, session: SessionDep, user: ReaderUser, lang: Lang = None):
    """The as-applied map as PNG (twice the SVG's pixel size)."""
    png = svg_to_png(mission_map_svg(session, user, mission_id, lang))
    return Response(png, media_type="image/png", headers=MAP_CACHE)


@router.get("/maps/communes.svg", tags=["reports"], response_class=Response)
def communes_map(
    session: SessionDep,
    user: ReaderUser,
    from_: Annotated[
        date | None, Query(alias="from", description="first Vietnam day (YYYY-MM-DD)")
    ] = None,
    to: Annotated[date | None, Query(description="last Vietnam day, included")] = None,
    product: Annotated[str | None, Query(max_length=64, description="product code")] = None,
    lang: Lang = None,
):
    """Hectares treated per commune, as circles over the fields (admin, office)."""
    if user.role not in access.SEES_ALL:
        raise Forbidden(f"the commune map is for admins and the office; you are {user.role}")
    if from_ and to and from_ > to:
        raise InvalidInput(f"'from' ({from_}) is after 'to' ({to})")
    lang = pages.choose_lang(lang)
    communes = svc.commune_map(
        session, filters=reports.Filters(since=from_, until=to, product=product)
    )
    return Response(
        communes_svg(communes, subtitle=period_label(from_, to, product, lang), lang=lang),
        media_type="image/svg+xml",
        headers=MAP_CACHE,
    )


def period_label(since: date | None, until: date | None, product: str | None, lang: str) -> str:
    """``01/03/2026 – 31/03/2026 · P1``: what the figures cover."""
    words = labels(lang)
    if since or until:
        days = (f"{since:%d/%m/%Y}" if since else "…") + " – "
        days += f"{until:%d/%m/%Y}" if until else "…"
    else:
        days = words["all_days"]
    return f"{days} · {product or words['all_products']}"
