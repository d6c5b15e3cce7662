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
from jinja2 import Environment, FileSystemLoader
from sqlmodel import Session

from traceability import reports
from traceability.api.deps import SessionDep, SettingsDep
from traceability.api.i18n import pick_lang
from traceability.api.routes.trace import TEMPLATES_DIR
from traceability.api.staff_auth import COOKIE, HOME, page_user, token_user
from traceability.api.staff_i18n import staff_translator
from traceability.config import Settings
from traceability.errors import InvalidInput, NotFound
from traceability.maps.charts import bar_chart
from traceability.maps.communes import communes_svg
from traceability.models import Role, User
from traceability.reports import report_files
from traceability.services import access, pages
from traceability.services import maps as map_data

router = APIRouter(include_in_schema=False)
_templates = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR), autoescape=True, trim_blocks=True, lstrip_blocks=True
)
Lang = Annotated[str | None, Query(max_length=10)]
# Staff pages hold records not everyone reads: never in a shared cache.
_PRIVATE = {"Cache-Control": "private, no-store", "Vary": "Cookie, Authorization"}
_COOKIE_AGE = 30 * 24 * 3600


def lang_url(lang: str):
    """``u(path, **params)``: a link keeping the page's language."""

    def u(path: str, **params: Any) -> str:
        query = {k: v for k, v in params.items() if v is not None}
        if lang != "vi":
            query["lang"] = lang
        return path + ("?" + urlencode(query) if query else "")

    return u


def render(
    request: Request, name: str, lang: str, user: User | None, code: int = 200, **context: Any
) -> HTMLResponse:
    """A staff page from ``templates/staff/``."""
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    html = _templates.get_template(f"staff/{name}").render(
        **staff_translator(lang),
        u=lang_url(lang),
        user=user,
        path=request.url.path,
        query_vi="?" + urlencode(params) if params else "",
        query_en="?" + urlencode(params | {"lang": "en"}),
        **context,
    )
    return HTMLResponse(html, status_code=code, headers=_PRIVATE)


def gate(
    request: Request, session: Session, settings: Settings, lang: str, *roles: Role
) -> User | HTMLResponse:
    """The signed-in user if their role is one of ``roles`` (admin always), else the page
    to show instead: sign-in (401) or refusal (403)."""
    user = page_user(request, session, settings)
    if user is None:
        return render(request, "signin.html", lang, None, 401, needed=True, next=request.url.path)
    if user.role is not Role.admin and user.role not in roles:
        allowed = ", ".join(["admin", *(str(r) for r in roles)])
        reason = f"this page needs the role {allowed}; you are {user.role}"
        return render(request, "denied.html", lang, user, 403, reason=reason)
    return user


# ---------------------------------------------------------------- signing in


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, lang: Lang = None, next: str | None = None) -> Response:
    """The staff sign-in form: paste an API token once."""
    return render(request, "signin.html", pick_lang(lang), None, next=next)


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
    lang = pick_lang(lang)
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
def signout(lang: Annotated[str | None, Form(max_length=10)] = None) -> Response:
    """Forget the token in this browser (the token itself stays valid: revoke it in the API)."""
    response = RedirectResponse(
        lang_url(pick_lang(lang))("/signin"), status_code=status.HTTP_303_SEE_OTHER
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


def _charts(figures: pages.ProvinceFigures, t) -> dict[str, str]:
    return {
        "week": bar_chart(figures.by_week, chart_id="chart-week", title=t("by_week")),
        "product": bar_chart(
            figures.by_product, chart_id="chart-product", title=t("by_product"), colour="#009E73"
        ),
        "commune": bar_chart(
            figures.by_commune, chart_id="chart-commune", title=t("by_commune"), colour="#CC79A7"
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
    lang = pick_lang(lang)
    user = gate(request, session, settings, lang, Role.office)
    if not isinstance(user, User):
        return user
    figures = pages.province_figures(session, filters)
    t = staff_translator(lang)["t"]
    communes = map_data.commune_map(session, filters=filters, province=figures.province)
    return render(
        request,
        "office.html",
        lang,
        user,
        figures=figures,
        charts=_charts(figures, t),
        commune_map=communes_svg(communes, lang=lang, width=400.0),
        map_url="/api/v1/maps/communes.svg?" + _query(filters, lang=lang if lang == "en" else ""),
        since=filters.since,
        until=filters.until,
        product=filters.product,
        report_names=list(reports.REPORTS),
        report_url=lambda name, fmt: f"/office/reports/{name}?" + _query(filters, format=fmt),
    )


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
        headers={"Content-Disposition": f'attachment; filename="{name}.{format}"', **_PRIVATE},
    )
