"""The farmers' app under ``/app/``: its pages and its sign-in links.

Pages are rendered on the server from the farmer's own records, small enough for 3G;
app.js adds what needs the phone: the outbox of entries made without signal
(IndexedDB, sent once each thanks to ``client_id``), warnings while typing and the
service worker that opens the pages offline (:mod:`.app_shell`). The phone holds a device
token twice: in an HttpOnly cookie that opens the pages, and in localStorage for the JSON
API, which only ever reads ``Authorization`` (so no page can be made to write by another
site).
"""

from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any, get_args

from fastapi import APIRouter, Depends, Form, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from sqlmodel import Session

from traceability import qr, reports
from traceability.api import pages
from traceability.api.deps import SessionDep, SettingsDep
from traceability.api.pages import Lang
from traceability.errors import InvalidInput, NotFound
from traceability.models import (
    Activity,
    Farmer,
    InputKind,
    PreSeasonWater,
    Role,
    StrawHandling,
    User,
)
from traceability.services import applications, myfarm, signin, trace, warnings
from traceability.services import fields as seasons
from traceability.services.common import LOCAL_TZ, local_day
from traceability.services.trace.field_map import FieldMap, field_map
from traceability.services.users import user_for_token

router = APIRouter(include_in_schema=False)

COOKIE = "agritrace_device"
# Pages carry the farmer's own records: phones may keep them (the service worker does,
# for offline use), shared caches may not.
_PRIVATE = {"Cache-Control": "private, no-cache", "Vary": "Accept-Encoding, Cookie"}
# The order activities are offered in: the daily work first, the paperwork last.
ACTIVITIES = [
    Activity.spray,
    Activity.fertilize,
    Activity.irrigate,
    Activity.drain,
    Activity.observe,
    Activity.seed,
    Activity.land_prep,
    Activity.harvest,
    Activity.straw,
    Activity.purchase,
    Activity.sale,
    Activity.other,
]
# Which product kinds each activity lists (the diary service refuses the others).
KINDS_OF_ACTIVITY = {
    Activity.spray: [InputKind.pesticide, InputKind.fertilizer],
    Activity.fertilize: [InputKind.fertilizer],
    Activity.seed: [InputKind.seed],
}
# The form's VietGAP controls and the work each belongs to (the API takes them on any
# entry): the supplier of a purchase or the buyer of a sale, and who sprayed or fertilised.
CONTROLS_OF_ACTIVITY = {
    "counterparty": [Activity.purchase, Activity.sale],
    "applied_by": [Activity.spray, Activity.fertilize],
}


def _render(
    request: Request, name: str, lang: str, status_code: int = 200, **context: Any
) -> Response:
    return pages.page(
        f"app/{name}", lang, status_code, headers=_PRIVATE, request=request, compress=True,
        **context,
    )  # fmt: skip


def _device(request: Request, session: Session) -> User | None:
    """The farmer whose phone this is, from the device cookie."""
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    user = user_for_token(session, token=token)
    if user is None or user.role is not Role.farmer or user.farmer_id is None:
        return None
    return user


def _signin_needed(request: Request, lang: str) -> Response:
    # 401, so the service worker never keeps this page in place of the farmer's own.
    return _render(request, "signin_needed.html", lang, status.HTTP_401_UNAUTHORIZED)


class _SignInNeeded(Exception):
    """A page of the app opened on a phone that is not signed in."""

    def __init__(self, lang: str) -> None:
        super().__init__(lang)
        self.lang = lang


@dataclass(frozen=True, slots=True)
class Visit:
    """A signed-in farmer's phone opening a page, and the page's language."""

    user: User
    lang: str


def _visit(request: Request, session: SessionDep, lang: Lang = None) -> Visit:
    """The farmer behind this page's request; a phone not signed in gets the sign-in page."""
    lang = pages.request_lang(request, lang)
    user = _device(request, session)
    if user is None:
        raise _SignInNeeded(lang)
    return Visit(user, lang)


VisitDep = Annotated[Visit, Depends(_visit)]


def _now_local() -> datetime:
    return datetime.now(LOCAL_TZ)


def _page_data(session: Session, user: User) -> dict[str, Any]:
    """What every signed-in page knows: the farmer, their fields and seasons."""
    today = local_day(_now_local())
    fields = myfarm.my_fields(session, farmer_id=user.farmer_id, today=today)
    return {
        "farmer": session.get(Farmer, user.farmer_id),
        "fields": fields,
        "today": today,
    }


def _field_map_of(fields: list[myfarm.MyField]) -> FieldMap | None:
    return field_map([(f.field.code, f.field.geometry) for f in fields])


# ---------------------------------------------------------------- pages


@router.get("/app", response_class=HTMLResponse)
@router.get("/app/", response_class=HTMLResponse)
def home(request: Request, session: SessionDep, visit: VisitDep) -> Response:
    """My fields on a small map, with the season under way on each."""
    lang, user = visit.lang, visit.user
    data = _page_data(session, user)
    return _render(
        request, "home.html", lang, field_map=_field_map_of(data["fields"]), nav="home", **data
    )


@router.get("/app/fields/{code}", response_class=HTMLResponse)
def field_page(code: str, request: Request, session: SessionDep, visit: VisitDep) -> Response:
    """One of my fields: its map, season and diary."""
    return _field_page(request, session, visit, code)


def _field_page(
    request: Request,
    session: Session,
    visit: Visit,
    code: str,
    status_code: int = 200,
    plan_error: str | None = None,
) -> Response:
    lang, user = visit.lang, visit.user
    data = _page_data(session, user)
    mine = next((f for f in data["fields"] if f.field.code == code), None)
    if mine is None:
        return _render(request, "not_yours.html", lang, status.HTTP_404_NOT_FOUND, **data)
    products = {p.code: p for p in myfarm.catalogue(session)}
    return _render(
        request,
        "field.html",
        lang,
        status_code,
        nav="home",
        mine=mine,
        field_map=_field_map_of([mine]),
        items=myfarm.timeline(session, field_ids=[mine.field.id]),
        products=products,
        plan_error=plan_error,
        emissions=_season_emissions(session, mine),
        pre_season_states=_PRE_SEASON_STATES,
        **data,
    )


def _season_emissions(session: Session, mine: Any) -> dict[str, Any] | None:
    """The season's row of the low-emission rice report: its water, methane and targets."""
    if mine.season is None:
        return None
    filters = reports.Filters(field=mine.field.code, season=mine.season.id)
    frame = reports.low_emission_rice_report(session.connection(), filters)
    if frame.empty:
        return None
    return {k: (None if v is None or v != v else v) for k, v in frame.iloc[0].items()}


@router.post("/app/fields/{code}/planned-harvest", response_class=HTMLResponse)
def plan_harvest(
    code: str,
    request: Request,
    session: SessionDep,
    visit: VisitDep,
    planned_harvest_on: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Set (or clear, when empty) the planned harvest day of my field's current season.

    The device cookie is SameSite=Strict: another site's form cannot post here as me.
    """
    fields_now = _page_data(session, visit.user)["fields"]
    mine = next((f for f in fields_now if f.field.code == code), None)
    if mine is None or mine.season is None:
        return _field_page(request, session, visit, code, status.HTTP_404_NOT_FOUND)
    try:
        day = date.fromisoformat(planned_harvest_on) if planned_harvest_on else None
        seasons.plan_harvest(session, season_id=mine.season.id, day=day, user=visit.user)
    except ValueError:
        message = f"planned_harvest_on '{planned_harvest_on}' is not a day (YYYY-MM-DD)"
        return _field_page(request, session, visit, code, 422, message)
    except InvalidInput as exc:
        session.rollback()
        return _field_page(request, session, visit, code, 422, str(exc))
    return RedirectResponse(
        pages.lang_url(visit.lang)(f"/app/fields/{code}"), status.HTTP_303_SEE_OTHER
    )


_PRE_SEASON_STATES = get_args(PreSeasonWater)


@router.post("/app/fields/{code}/pre-season", response_class=HTMLResponse)
def state_pre_season(
    code: str,
    request: Request,
    session: SessionDep,
    visit: VisitDep,
    pre_season_water: Annotated[str, Form(max_length=24)] = "",
) -> Response:
    """State (or clear, when empty) my field's water before the current season's sowing:
    the low-emission rice estimate's pre-season where the diary shows no earlier crop."""
    fields_now = _page_data(session, visit.user)["fields"]
    mine = next((f for f in fields_now if f.field.code == code), None)
    if mine is None or mine.season is None:
        return _field_page(request, session, visit, code, status.HTTP_404_NOT_FOUND)
    if pre_season_water and pre_season_water not in _PRE_SEASON_STATES:
        message = (
            f"pre_season_water '{pre_season_water}' is none of {', '.join(_PRE_SEASON_STATES)}"
        )
        return _field_page(request, session, visit, code, 422, message)
    seasons.state_pre_season(
        session, season_id=mine.season.id, state=pre_season_water or None, user=visit.user
    )
    return RedirectResponse(
        pages.lang_url(visit.lang)(f"/app/fields/{code}") + "#low-emission",
        status.HTTP_303_SEE_OTHER,
    )


@router.get("/app/new", response_class=HTMLResponse)
def new_entry(
    request: Request,
    session: SessionDep,
    visit: VisitDep,
    field: str | None = None,
    corrects: int | None = None,
) -> Response:
    """The diary form: field, work, product, quantity, area, supplier or buyer, who applied,
    time, note."""
    lang, user = visit.lang, visit.user
    data = _page_data(session, user)
    products = myfarm.catalogue(session)
    original = None
    if corrects is not None:
        try:
            original = myfarm.entry_of_farmer(
                session, entry_id=corrects, field_ids=[f.field.id for f in data["fields"]]
            )
        except NotFound:
            return _render(request, "not_yours.html", lang, status.HTTP_404_NOT_FOUND, **data)
    # What app.js needs to warn without a signal, and to fill in the unit and area.
    lots = warnings.offline_lots(session, field_ids=[f.field.id for f in data["fields"]])
    rules = {
        "products": warnings.offline_rules(products),
        "fields": {
            f.field.code: {
                "area_ha": f.field.area_ha,
                "season": warnings.season_rules(f.season),
                "lots": lots.get(f.field.id, []),
            }
            for f in data["fields"]
        },
        "kinds": {str(a): [str(k) for k in ks] for a, ks in KINDS_OF_ACTIVITY.items()},
        "applying": sorted(str(a) for a in warnings.APPLYING),
        "not_applied": sorted(str(a) for a in applications.NOT_APPLIED),
    }
    return _render(
        request,
        "new.html",
        lang,
        nav="new",
        products=products,
        activities=ACTIVITIES,
        controls=CONTROLS_OF_ACTIVITY,
        straw_options=[str(s) for s in StrawHandling],
        activity_now=original.activity if original else ACTIVITIES[0],
        original=original,
        chosen_field=original.field_code if original else field,
        now_local=_now_local().strftime("%Y-%m-%dT%H:%M"),
        rules=rules,
        **data,
    )


@router.get("/app/diary", response_class=HTMLResponse)
def diary_page(request: Request, session: SessionDep, visit: VisitDep) -> Response:
    """My diary as a timeline, with what the drones did on my fields."""
    lang, user = visit.lang, visit.user
    data = _page_data(session, user)
    items = myfarm.timeline(session, field_ids=[f.field.id for f in data["fields"]])
    products = {p.code: p for p in myfarm.catalogue(session)}
    return _render(request, "diary.html", lang, nav="diary", items=items, products=products, **data)


def _verdict_key(value: bool | None) -> str:
    return "none" if value is None else str(value).lower()


@router.get("/app/lots", response_class=HTMLResponse)
def lots_page(
    request: Request, session: SessionDep, settings: SettingsDep, visit: VisitDep
) -> Response:
    """My lots, each with its QR code and a link to its public trace."""
    lang, user = visit.lang, visit.user
    data = _page_data(session, user)
    base = settings.public_base_url
    lots = [
        (
            lot,
            qr.qr_svg_inline(qr.lot_url(base, lot.code, lot.gtin)),
            _verdict_key(trace.phi_verdict(session, code=lot.code)),
        )
        for lot in myfarm.my_lots(session, farmer_id=user.farmer_id)
    ]
    return _render(request, "lots.html", lang, nav="lots", lots=lots, **data)


# ---------------------------------------------------------------- signing in


@router.get("/app/signin/{token}", response_class=HTMLResponse)
def signin_page(token: str, request: Request, session: SessionDep, lang: Lang = None) -> Response:
    """The page a sign-in link opens: app.js signs in at once; without it, one tap does.

    Opening the link does not spend it: the POST does. Chat apps fetch links to show a
    preview, and a preview must not use up a farmer's link.
    """
    lang = pages.request_lang(request, lang)
    valid = signin.valid_link(session, token=token) is not None
    return _render(
        request,
        "signin.html",
        lang,
        status.HTTP_200_OK if valid else status.HTTP_410_GONE,
        token=token if valid else None,
    )


@router.post("/app/signin", response_class=HTMLResponse)
def signin_submit(
    request: Request,
    session: SessionDep,
    token: Annotated[str, Form(max_length=100)],
    lang: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Spend the link: the phone gets its device token (cookie and localStorage)."""
    lang = pages.request_lang(request, lang)
    try:
        _user, device_token = signin.redeem(session, token=token)
    except InvalidInput:
        return _render(request, "signin.html", lang, status.HTTP_410_GONE, token=None)
    response = _render(request, "signed_in.html", lang, device_token=device_token)
    response.headers["Cache-Control"] = "no-store"
    response.set_cookie(
        COOKIE,
        device_token,
        max_age=400 * 24 * 3600,
        path="/app",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/app/signout")
def signout(request: Request, session: SessionDep, lang: Annotated[str | None, Form()] = None):
    """Sign this phone out for good: its device token stops working."""
    user = _device(request, session)
    if user is not None:
        user.active = False
        session.add(user)
        session.commit()
    response = RedirectResponse(
        pages.lang_url(pages.request_lang(request, lang))("/app/"), status.HTTP_303_SEE_OTHER
    )
    response.delete_cookie(COOKIE, path="/app")
    return response


@router.get("/app/signin/{token}/qr.png")
def signin_qr_png(token: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The sign-in link as a QR code to print or show on a screen."""
    if signin.valid_link(session, token=token) is None:
        raise NotFound("this sign-in link was already used or has expired")
    url = signin.link_url(settings.public_base_url, token)
    return Response(qr.qr_png(url), media_type="image/png", headers={"Cache-Control": "no-store"})


@router.get("/app/signin/{token}/qr.svg")
def signin_qr_svg(token: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The sign-in link as an SVG QR code."""
    if signin.valid_link(session, token=token) is None:
        raise NotFound("this sign-in link was already used or has expired")
    url = signin.link_url(settings.public_base_url, token)
    return Response(
        qr.qr_svg(url), media_type="image/svg+xml", headers={"Cache-Control": "no-store"}
    )


def install(app) -> None:
    """Add the farmers' app's pages to ``app``, with the sign-in page for a phone that
    is not signed in."""
    app.include_router(router)
    app.add_exception_handler(_SignInNeeded, lambda request, exc: _signin_needed(request, exc.lang))
