"""The farmers' app under ``/app/``, its sign-in links and its entry-time check.

Pages are rendered on the server from the farmer's own records, small enough for 3G;
app.js adds what needs the phone: the outbox of entries made without signal
(IndexedDB, sent once each thanks to ``client_id``), warnings while typing and the
service worker that opens the pages offline. The phone holds a device token twice: in
an HttpOnly cookie that opens the pages, and in localStorage for the JSON API, which
only ever reads ``Authorization`` (so no page can be made to write by another site).
"""

import gzip
import hashlib
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Form, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, FileSystemLoader
from sqlmodel import Session

from traceability import qr, reports
from traceability.api.app_i18n import app_translator
from traceability.api.deps import CurrentUser, SessionDep, SettingsDep
from traceability.api.i18n import pick_lang
from traceability.errors import Forbidden, InvalidInput, NotFound
from traceability.models import (
    Activity,
    DevicePublic,
    DevicesPublic,
    DiaryCheckPublic,
    DiaryEntryCreate,
    Farmer,
    InputKind,
    Role,
    SigninLinkCreate,
    SigninLinkPublic,
    StrawHandling,
    User,
)
from traceability.services import access, myfarm, signin, trace, warnings
from traceability.services import fields as seasons
from traceability.services.common import LOCAL_TZ, local_day
from traceability.services.trace.field_map import FieldMap, field_map
from traceability.services.users import user_for_token

router = APIRouter(include_in_schema=False)
api_router = APIRouter()

COOKIE = "agritrace_device"
_HERE = Path(__file__).resolve().parent.parent
STATIC_DIR = _HERE / "static" / "app"
_templates = Environment(
    loader=FileSystemLoader(_HERE / "templates"),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
)
Lang = Annotated[str | None, Query(max_length=10)]
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
_STATIC_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
    "icon-192.png": "image/png",
    "icon-512.png": "image/png",
}


# ---------------------------------------------------------------- plumbing


def _gzip(request: Request, body: bytes, media_type: str, headers: dict[str, str]) -> Response:
    """``body``, gzipped when the phone accepts it: on 3G every kilobyte is a tenth of a second."""
    headers = dict(headers)
    if len(body) > 512 and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, 6)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=media_type, headers=headers)


@lru_cache(maxsize=16)
def _static(name: str) -> tuple[bytes, bytes, str]:
    """A static file's bytes, its gzip and its version (a hash of its content)."""
    body = (STATIC_DIR / name).read_bytes()
    return body, gzip.compress(body, 9), hashlib.blake2b(body, digest_size=6).hexdigest()


def static_url(name: str) -> str:
    """The versioned URL of a static file: a new version is a new URL, cached forever."""
    return f"/app/static/{name}?v={_static(name)[2]}"


def app_version() -> str:
    """One version for everything the service worker caches."""
    return hashlib.blake2b(
        "".join(_static(n)[2] for n in _STATIC_TYPES).encode(), digest_size=6
    ).hexdigest()


def _lang_url(lang: str):
    def u(path: str, **params: Any) -> str:
        query = [f"{k}={v}" for k, v in params.items() if v is not None]
        if lang != "vi":
            query.append(f"lang={lang}")
        return path + ("?" + "&".join(query) if query else "")

    return u


def _render(
    request: Request, name: str, lang: str, status_code: int = 200, **context: Any
) -> Response:
    html = _templates.get_template(f"app/{name}").render(
        **app_translator(lang),
        u=_lang_url(lang),
        static_url=static_url,
        path=request.url.path,
        tz=LOCAL_TZ,
        **context,
    )
    response = _gzip(request, html.encode(), "text/html; charset=utf-8", _PRIVATE)
    response.status_code = status_code
    return response


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
    lang = pick_lang(lang)
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
    return RedirectResponse(_lang_url(visit.lang)(f"/app/fields/{code}"), status.HTTP_303_SEE_OTHER)


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
    rules = {
        "products": warnings.offline_rules(products),
        "fields": {
            f.field.code: {"area_ha": f.field.area_ha, "season": warnings.season_rules(f.season)}
            for f in data["fields"]
        },
        "kinds": {str(a): [str(k) for k in ks] for a, ks in KINDS_OF_ACTIVITY.items()},
        "applying": sorted(str(a) for a in warnings.APPLYING),
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
    lang = pick_lang(lang)
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
    lang = pick_lang(lang)
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
    response = RedirectResponse(_lang_url(pick_lang(lang))("/app/"), status.HTTP_303_SEE_OTHER)
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


# ---------------------------------------------------------------- what makes it an app


@router.get("/app/static/{name}")
def static_file(name: str, request: Request) -> Response:
    """The app's script, stylesheet and icons; versioned URLs are cached for a year."""
    media_type = _STATIC_TYPES.get(name)
    if media_type is None:
        raise NotFound(f"no static file '{name}'")
    body, gz, version = _static(name)
    headers = {"Vary": "Accept-Encoding", "ETag": f'"{version}"'}
    headers["Cache-Control"] = (
        "public, max-age=31536000, immutable"
        if request.query_params.get("v") == version
        else "public, max-age=300"
    )
    if "gzip" in request.headers.get("accept-encoding", "") and not name.endswith(".png"):
        return Response(gz, media_type=media_type, headers=headers | {"Content-Encoding": "gzip"})
    return Response(body, media_type=media_type, headers=headers)


@router.get("/app/manifest.webmanifest")
def manifest(lang: Lang = None) -> Response:
    """The web app manifest: installable on the home screen, opening full screen."""
    lang = pick_lang(lang)
    t = app_translator(lang)["t"]
    data = {
        "name": t("app_name"),
        "short_name": t("app_name"),
        "lang": lang,
        "start_url": "/app/" + ("?lang=en" if lang == "en" else ""),
        "scope": "/app/",
        "display": "standalone",
        "background_color": "#f6f8f6",
        "theme_color": "#1b5e20",
        "icons": [
            {"src": static_url("icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static_url("icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": static_url("icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return Response(orjson.dumps(data), media_type="application/manifest+json")


@router.get("/app/sw.js")
def service_worker() -> Response:
    """The service worker, with the version of the files it caches written in."""
    body = _templates.get_template("app/sw.js").render(
        version=app_version(),
        precache=[static_url(n) for n in _STATIC_TYPES if not n.endswith("512.png")],
    )
    # Browsers check for a new worker on navigation; it must never come from a cache.
    return Response(
        body, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )


# ---------------------------------------------------------------- API: links, devices, check


def _link_public(base: str, token: str, expires_at: datetime) -> SigninLinkPublic:
    url = signin.link_url(base, token)
    return SigninLinkPublic(
        url=url, expires_at=expires_at, qr_png_url=f"{url}/qr.png", qr_svg_url=f"{url}/qr.svg"
    )


@api_router.post(
    "/farmers/{farmer_id}/signin-link",
    status_code=201,
    response_model=SigninLinkPublic,
    tags=["farmers"],
)
def issue_signin_link(
    farmer_id: int,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    data: SigninLinkCreate | None = None,
):
    """A one-time link (and QR code) that signs the farmer's phone in to the app (admin, or
    the farmer's cooperative)."""
    data = data or SigninLinkCreate()
    link, token = signin.issue_link(
        session, farmer_id=farmer_id, user=user, valid_hours=data.valid_hours
    )
    return _link_public(settings.public_base_url, token, link.expires_at)


def _may_manage(session: Session, user: User, farmer_id: int, *, reading: bool = False) -> None:
    farmer = session.get(Farmer, farmer_id)
    if farmer is None:
        raise NotFound(f"farmer {farmer_id} does not exist")
    allowed = access.reads_devices if reading else access.issues_signin_links
    if not allowed(user, farmer):
        raise Forbidden(f"you may not manage the phones of farmer {farmer_id}")


@api_router.get("/farmers/{farmer_id}/devices", response_model=DevicesPublic, tags=["farmers"])
def list_devices(farmer_id: int, session: SessionDep, user: CurrentUser):
    """The phones signed in for a farmer (whoever may issue their sign-in links, the office)."""
    _may_manage(session, user, farmer_id, reading=True)
    rows = signin.list_devices(session, farmer_id=farmer_id)
    return DevicesPublic(
        data=[DevicePublic.model_validate(r.model_dump()) for r in rows], count=len(rows)
    )


@api_router.delete("/farmers/{farmer_id}/devices/{device_id}", status_code=204, tags=["farmers"])
def revoke_device(farmer_id: int, device_id: int, session: SessionDep, user: CurrentUser):
    """Sign one phone out: its device token stops working at once."""
    _may_manage(session, user, farmer_id)
    signin.revoke_device(session, farmer_id=farmer_id, device_id=device_id)
    return Response(status_code=204)


@api_router.post("/diary/check", response_model=DiaryCheckPublic, tags=["diary"])
def check_entry(data: DiaryEntryCreate, session: SessionDep, user: CurrentUser):
    """The warnings an entry would raise (dose, PHI, registration); nothing is written."""
    if user.role is Role.operator:
        raise Forbidden("operators' work reaches diaries through missions")
    return DiaryCheckPublic(
        warnings=warnings.check_entry(session, data=data, user=user if user.id else None)
    )


def install(app, api_prefix: str) -> None:
    """Add the farmers' app and its API routes to ``app``."""
    app.include_router(api_router, prefix=api_prefix)
    app.include_router(router)
    app.add_exception_handler(_SignInNeeded, lambda request, exc: _signin_needed(request, exc.lang))
