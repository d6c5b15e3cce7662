"""The staff pages: sign-in, the office's dashboard and its report downloads.

Server-rendered (Vietnamese first, ``?lang=en``), self-contained (charts and maps are
inline SVG), readable at 360 px. How a browser signs in: :mod:`..staff_auth`. The
operator's day and the cooperative's page are in :mod:`.staff_pages`.
"""

from datetime import date
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request, Response, status
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import ValidationError

from traceability import reports
from traceability.api import pages
from traceability.api.deps import SessionDep, SettingsDep
from traceability.api.pages import Lang
from traceability.api.staff_auth import COOKIE, HOME, PRIVATE, gate, token_user
from traceability.errors import InvalidInput, NotFound
from traceability.maps.charts import bar_chart
from traceability.maps.communes import communes_svg
from traceability.models import InputKind, InputRegistration, Role, User
from traceability.reports import report_files
from traceability.services import access, catalog
from traceability.services import maps as map_data
from traceability.services import pages as page_data
from traceability.words import gettext

router = APIRouter(include_in_schema=False)
_COOKIE_AGE = 30 * 24 * 3600


def render(
    request: Request, name: str, lang: str, user: User | None, code: int = 200, **context: Any
) -> Response:
    """A staff page from ``templates/staff/``."""
    return pages.page(
        f"staff/{name}", lang, code, headers=PRIVATE, request=request, user=user, **context
    )


# ---------------------------------------------------------------- signing in


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, lang: Lang = None, next: str | None = None) -> Response:
    """The staff sign-in form: paste an API token once."""
    return render(request, "signin.html", pages.request_lang(request, lang), None, next=next)


def _safe_next(next_: str | None, role: Role) -> str:
    # Only a path on this site: never an open redirect to another one.
    if next_ and next_.startswith("/") and not next_.startswith("//"):
        return next_
    return HOME.get(role, "/")


@router.post("/signin", response_class=HTMLResponse)
def signin(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    token: Annotated[str, Form(max_length=200)],
    lang: Annotated[str | None, Form(max_length=10)] = None,
    next: Annotated[str | None, Form(max_length=300)] = None,
) -> Response:
    """Check the token and keep it in an HttpOnly cookie; then the user's page."""
    lang = pages.request_lang(request, lang)
    user = token_user(session, settings, token.strip())
    if user is None or user.role is Role.farmer:
        return render(request, "signin.html", lang, None, 401, error=True, next=next)
    target = _safe_next(next, user.role) + ("?lang=en" if lang == "en" else "")
    response = RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        token.strip(),
        max_age=_COOKIE_AGE,
        path="/",
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    return response


@router.post("/signout")
def signout(request: Request, lang: Annotated[str | None, Form(max_length=10)] = None) -> Response:
    """Forget the token in this browser (the token itself stays valid: revoke it in the API)."""
    response = RedirectResponse(
        pages.lang_url(pages.request_lang(request, lang))("/signin"),
        status_code=status.HTTP_303_SEE_OTHER,
    )
    response.delete_cookie(COOKIE, path="/")
    return response


# ---------------------------------------------------------------- the office


def office_filters(
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
    product: Annotated[str | None, Query(max_length=64)] = None,
) -> reports.Filters:
    """The dashboard's period and product, checked."""
    if from_ and to and from_ > to:
        raise InvalidInput(f"'from' ({from_}) is after 'to' ({to})")
    return reports.Filters(since=from_, until=to, product=product or None)


OfficeFilters = Annotated[reports.Filters, Depends(office_filters)]


def _charts(figures: page_data.ProvinceFigures, lang: str) -> dict[str, str]:
    by_week, by_product, by_commune = (
        gettext(lang, "staff.by_week"),
        gettext(lang, "staff.by_product"),
        gettext(lang, "staff.by_commune"),
    )
    return {
        "week": bar_chart(figures.by_week, chart_id="chart-week", title=by_week, lang=lang),
        "product": bar_chart(
            figures.by_product,
            chart_id="chart-product",
            title=by_product,
            colour="#009E73",
            lang=lang,
        ),
        "commune": bar_chart(
            figures.by_commune,
            chart_id="chart-commune",
            title=by_commune,
            colour="#CC79A7",
            lang=lang,
        ),
    }


def _query(filters: reports.Filters, **more: Any) -> str:
    params = {"from": filters.since, "to": filters.until, "product": filters.product} | more
    return urlencode({k: v for k, v in params.items() if v})


@router.get("/office/", response_class=HTMLResponse)
def office(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    filters: OfficeFilters,
    lang: Lang = None,
) -> Response:
    """The office's dashboard: hectares per week, product and commune, the commune map,
    flagged missions and the reports to download (office, admin)."""
    lang = pages.request_lang(request, lang)
    user = gate(request, session, settings, lang, Role.office)
    if not isinstance(user, User):
        return user
    figures = page_data.province_figures(session, filters)
    communes = map_data.commune_map(session, filters=filters, province=figures.province)
    return render(
        request,
        "office.html",
        lang,
        user,
        figures=figures,
        charts=_charts(figures, lang),
        commune_map=communes_svg(communes, lang=lang, width=400.0),
        map_url="/api/v1/maps/communes.svg?" + _query(filters, lang=lang if lang == "en" else ""),
        since=filters.since,
        until=filters.until,
        product=filters.product,
        report_names=list(reports.REPORTS),
        report_url=lambda name, fmt: f"/office/reports/{name}?" + _query(filters, format=fmt),
        pesticides=_pesticides(session),
    )


def _pesticides(session) -> list:
    """The catalogue's pesticides, for the office to record their registration numbers."""
    rows, _count = catalog.list_inputs(session, kind=InputKind.pesticide, offset=0, limit=500)
    return rows


@router.post("/office/products/{code}/registration")
def office_registration(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    registration_no: Annotated[str, Form(max_length=64)] = "",
    lang: Annotated[str | None, Form(max_length=10)] = None,
) -> Response:
    """Record a product's registration number from the office's page (office, admin), by
    the API's own rule (``PATCH /api/v1/inputs/{code}``); an empty box clears it."""
    lang = pages.request_lang(request, lang)
    user = gate(request, session, settings, lang, Role.office)
    if not isinstance(user, User):
        return user
    try:
        data = InputRegistration(registration_no=registration_no.strip() or None)
    except ValidationError as exc:
        raise InvalidInput(f"registration_no: {exc.errors()[0]['msg']}") from None
    catalog.record_registration(session, code=code, registration_no=data.registration_no)
    back = pages.lang_url(lang)("/office/") + "#products"
    return RedirectResponse(back, status.HTTP_303_SEE_OTHER)


@router.get("/office/reports/{name}")
def office_report(
    name: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    filters: OfficeFilters,
    format: Literal["csv", "xlsx", "json"] = "csv",
) -> Response:
    """A report downloaded from the dashboard, with its period and product (office, admin)."""
    user = gate(request, session, settings, "vi", Role.office)
    if not isinstance(user, User):
        return user
    build = reports.REPORTS.get(name)
    if build is None:
        raise NotFound(f"report '{name}' does not exist; there are: {', '.join(reports.REPORTS)}")
    frame = access.report_rows(session, user, name, build(session.connection(), filters))
    return Response(
        report_files.render(frame, format, name=name),
        media_type=report_files.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}.{format}"', **PRIVATE},
    )
