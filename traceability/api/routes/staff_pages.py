"""The operator's day (``/operator/``), the cooperative's page (``/coop/``) and the
low-emission rice MRV pack (``/mrv/``)."""

from datetime import date, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse

from traceability import qr, reports
from traceability.api import pages
from traceability.api.deps import SessionDep, SettingsDep
from traceability.api.pages import Lang
from traceability.api.staff_auth import PRIVATE, gate
from traceability.maps.communes import Commune, communes_svg
from traceability.models import Farmer, Organisation, Role, SigninLinkCreate, User
from traceability.services import access, signin
from traceability.services import maps as map_data
from traceability.services import pages as page_data
from traceability.services.common import LOCAL_TZ, local_day
from traceability.words import gettext

router = APIRouter(include_in_schema=False)
#: Missions on one page of the operator's day (each with its map).
DAY_PAGE = 20
#: Maps in a page are drawn this wide, so their words stay legible on a phone. The
#: operator's day shows each mission's map as an image the browser asks for once it is
#: scrolled near (``loading="lazy"``): a day's page then carries no map in its HTML and
#: measures no track before it answers (a map measures its mission's fixes again).
INLINE_MAP_PX = 360.0


@router.get("/operator/", response_class=HTMLResponse)
def operator_day(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    day: Annotated[date | None, Query(description="Vietnam day, YYYY-MM-DD")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    lang: Lang = None,
) -> Response:
    """A day's missions (Vietnam time) per drone, with flags, maps, hectares, amounts and
    durations: an operator's own organisation's drones (operator, admin)."""
    lang = pages.request_lang(request, lang)
    user = gate(request, session, settings, lang, Role.operator)
    if not isinstance(user, User):
        return user
    day = day or local_day(datetime.now(LOCAL_TZ))
    drones, total = page_data.operator_day(session, user, day, offset=offset, limit=DAY_PAGE)
    return pages.page(
        "staff/operator.html",
        lang,
        headers=PRIVATE,
        request=request,
        user=user,
        shown=day,
        one_day=timedelta(days=1),
        drones=drones,
        total=total,
        offset=offset,
        limit=DAY_PAGE,
        map_width=int(INLINE_MAP_PX),
        duration=page_data.duration_min,
    )


@router.get("/coop/", response_class=HTMLResponse)
def coop(request: Request, session: SessionDep, settings: SettingsDep, lang: Lang = None):
    """The cooperative's members, their fields, seasons and lots, the fields still within
    a pesticide's PHI today, and a sign-in link button per member (cooperative, admin)."""
    lang = pages.request_lang(request, lang)
    user = gate(request, session, settings, lang, Role.cooperative)
    if not isinstance(user, User):
        return user
    today = local_day(datetime.now(LOCAL_TZ))
    members = page_data.members(session, user, today)
    fields = [f for m in members for f in m.fields]
    org = session.get(Organisation, user.organisation_id) if user.organisation_id else None
    return pages.page(
        "staff/coop.html",
        lang,
        headers=PRIVATE,
        request=request,
        user=user,
        members=members,
        org=org,
        pending=page_data.pending_phi(session, fields, today),
    )


@router.post("/coop/signin-link", response_class=HTMLResponse)
def coop_signin_link(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    farmer_id: Annotated[int, Form()],
    lang: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Issue a member's one-time sign-in link (the API's rule: their cooperative, admin)
    and show it with its QR code."""
    lang = pages.request_lang(request, lang)
    user = gate(request, session, settings, lang, Role.cooperative)
    if not isinstance(user, User):
        return user
    link, token = signin.issue_link(
        session, farmer_id=farmer_id, user=user, valid_hours=SigninLinkCreate().valid_hours
    )
    url = signin.link_url(settings.public_base_url, token)
    return pages.page(
        "staff/link.html",
        lang,
        headers=PRIVATE,
        request=request,
        user=user,
        farmer=session.get(Farmer, farmer_id),
        url=url,
        qr=qr.qr_svg_inline(url),
        expires=link.expires_at,
    )


@router.get("/mrv/", response_class=HTMLResponse)
def mrv(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lang: Lang = None,
    field: Annotated[str | None, Query(max_length=64)] = None,
    season: Annotated[int | None, Query(ge=1)] = None,
    commune: Annotated[str | None, Query(max_length=16)] = None,
):
    """The low-emission rice MRV pack, printable: a plot's season with the records it
    rests on (``field``), a commune's plots (``commune``) or a cooperative's members', and
    the commune and province totals (office, cooperative, admin)."""
    lang = pages.request_lang(request, lang)
    user = gate(request, session, settings, lang, Role.office, Role.cooperative)
    if not isinstance(user, User):
        return user
    access.ensure_reads_field_report(session, user, field)
    codes = access.report_field_codes(session, user)
    filters = reports.Filters(field=field, season=season, commune=commune, field_codes=codes)
    if field:  # one plot, with every record its figures rest on
        frame = reports.low_emission_mrv_report(session.connection(), filters)
        part = {name: _records(frame[frame["section"] == name]) for name in _MRV_PARTS}
    else:
        # The plots and their totals, without the evidence (a province's is 800,000 rows,
        # which this view does not show); the province's own list of plots is not shown
        # either, only its communes.
        plots = reports.low_emission_rice_report(session.connection(), filters)
        whole = commune is None and codes is None
        part = {
            "plot": [] if whole else _records(plots),
            "evidence": [],
            "commune": _records(reports.mrv_totals(plots, ["commune_code"])),
            "province": _records(reports.mrv_totals(plots, [])),
        }
    if codes is not None:  # a cooperative sees its members' plots, not others' totals
        part["commune"] = part["province"] = []
    drawn = _reduction_map(session, part["commune"], lang) if part["commune"] and not field else ""
    return pages.page(
        "staff/mrv.html",
        lang,
        headers=PRIVATE,
        request=request,
        user=user,
        field=field,
        commune=commune,
        communes=part.pop("commune"),
        reduction_map=drawn,
        **part,
    )


def _reduction_map(session: SessionDep, communes: list[dict], lang: str) -> str:
    """The communes' estimated reduction (t CO2e) on the commune map of their fields."""
    value = {c["commune_code"]: float(c["co2e_reduction_t"] or 0.0) for c in communes}
    shapes = map_data.commune_fields(session, sorted(k for k in value if k))
    drawn = [Commune(code, code, geoms, value[code]) for code, geoms in sorted(shapes.items())]
    title = gettext(lang, "staff.reduction_map")
    return communes_svg(drawn, lang=lang, width=360.0, title=title, unit="t CO2e")


_MRV_PARTS = ("plot", "evidence", "commune", "province")


def _records(frame: Any) -> list[dict[str, Any]]:
    """A frame's rows as dicts, with None where a value is missing."""
    return frame.astype(object).where(frame.notna(), None).to_dict("records")
