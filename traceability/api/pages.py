"""The presentation layer: one template environment, one language choice, one renderer.

Every HTML page of the house goes through here: the buyer's trace and label sheet, the
resolver's 400/404 pages, the landing page, the farmers' app and the staff pages. A
route module picks its data, names a template and calls :func:`page`; it never builds
an environment, a language link or a not-found page of its own. The trace renderings a
scan can ask for (:data:`RENDERINGS`) live here too, so the command line that warms the
trace store needs no route module.
"""

import gzip
import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import orjson
from fastapi import Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader

from traceability import words
from traceability.api import trace_cache
from traceability.config import Settings
from traceability.services import lot_identity
from traceability.services import trace as trace_svc
from traceability.services.emissions import methane, water
from traceability.timezone import VN_TZ
from traceability.words import LANGS, N_, gettext

_HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = _HERE / "templates"
STATIC_DIR = _HERE / "static" / "app"

# What ``getattr`` finds on a plain dict: only these names are attributes rather than keys.
_DICT_ATTRS = frozenset(dir(dict))


class _Environment(Environment):
    """Jinja's environment, reading ``x.name`` of a plain dict without raising first.

    Jinja tries ``getattr(x, name)`` and only then ``x[name]``: on the dicts a trace is
    made of that is an ``AttributeError`` raised and caught for each of the ~400 look-ups
    of a page. A dict has no attribute but its class's, so looking the key up first for
    any other name gives what Jinja gives.
    """

    def getattr(self, obj: Any, attribute: str) -> Any:
        """``obj.attribute`` in a template, as :meth:`jinja2.Environment.getattr` reads it."""
        if type(obj) is dict and attribute not in _DICT_ATTRS:
            try:
                return obj[attribute]
            except KeyError:
                return self.undefined(obj=obj, name=attribute)
        return super().getattr(obj, attribute)


#: The one template environment. ``jinja2.ext.i18n`` gives templates ``{% trans %}``; the
#: catalogue of the page's language is handed to each rendering (:func:`helpers`), never
#: installed on the shared environment, so pages in two languages render side by side.
templates = _Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=True,
    trim_blocks=True,
    lstrip_blocks=True,
    extensions=["jinja2.ext.i18n"],
    # Templates are part of the release (a new one is a new process): no stat of each
    # template file on every rendering.
    auto_reload=False,
)

#: The ``?lang=`` of every page: ``vi`` (the default) or ``en``.
Lang = Annotated[str | None, Query(description="page language: vi (default) or en", max_length=10)]
#: The trace page and the label sheet may sit in shared caches for a minute.
PUBLIC_CACHE = trace_cache.CACHE_HEADERS
# A lot without a photo of its own shows this drawing, inline: the page loads nothing else.
DEFAULT_IMAGE_SVG = lot_identity.DEFAULT_IMAGE.read_text(encoding="utf-8")


# ---------------------------------------------------------------- the language


def choose_lang(query: str | None, accept_language: str | None = None) -> str:
    """The page language: ``?lang=`` if given, else ``Accept-Language``, else ``vi``.

    >>> choose_lang("en", "vi"), choose_lang(None, "en-GB,en;q=0.8"), choose_lang(None, None)
    ('en', 'en', 'vi')
    """
    return words.negotiate(query, accept_language)


def request_lang(request: Request, query: str | None) -> str:
    """:func:`choose_lang` for ``request`` (its ``Accept-Language``) and a ``?lang=`` value."""
    return choose_lang(query, request.headers.get("accept-language"))


def lang_url(lang: str):
    """``u(path, **params)``: a URL-encoded link that keeps the page's language.

    >>> u = lang_url("en")
    >>> u("/operator/", day="2026-03-01", offset=None), u("/app/fields/A B", q="x&y")
    ('/operator/?day=2026-03-01&lang=en', '/app/fields/A%20B?q=x%26y&lang=en')
    >>> lang_url("vi")("/app/")
    '/app/'
    """

    def u(path: str, **params: Any) -> str:
        query = {k: v for k, v in params.items() if v is not None}
        if lang != "vi":
            query["lang"] = lang
        path = quote(path, safe="/%")
        return path + ("?" + urlencode(query) if query else "")

    return u


def switch_urls(request: Request) -> dict[str, str]:
    """The query strings of this page in each language, other parameters kept."""
    params = {k: v for k, v in request.query_params.items() if k != "lang"}
    return {
        "query_vi": "?" + urlencode(params) if params else "",
        "query_en": "?" + urlencode(params | {"lang": "en"}),
    }


# ---------------------------------------------------------------- the app's static files

#: The farmers' app's script, stylesheet and icons, and their media types.
STATIC_TYPES = {
    "app.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
    "icon-192.png": "image/png",
    "icon-512.png": "image/png",
}


@lru_cache(maxsize=16)
def static_file(name: str) -> tuple[bytes, bytes, str]:
    """A static file's bytes, its gzip and its version (a hash of its content)."""
    body = (STATIC_DIR / name).read_bytes()
    return body, gzip.compress(body, 9), hashlib.blake2b(body, digest_size=6).hexdigest()


def static_url(name: str) -> str:
    """The versioned URL of a static file: a new version is a new URL, cached forever."""
    return f"/app/static/{name}?v={static_file(name)[2]}"


def app_version() -> str:
    """One version for everything the service worker caches."""
    return hashlib.blake2b(
        "".join(static_file(n)[2] for n in STATIC_TYPES).encode(), digest_size=6
    ).hexdigest()


# ---------------------------------------------------------------- rendering

#: The strings app.js needs, written into the app's pages (offline it has no other source).
JS_WORDS = {
    "waiting": N_("app.waiting"),
    "waiting_hint": N_("app.waiting_hint"),
    "failed": N_("app.failed"),
    "discard": N_("app.discard"),
    "offline": N_("app.offline"),
    "saved": N_("app.saved"),
    "save": N_("app.save"),
    "save_anyway": N_("app.save_anyway"),
    "w_dose_above_max": N_("app.w_dose_above_max"),
    "w_phi_after_planned_harvest": N_("app.w_phi_after_planned_harvest"),
    "w_banned": N_("app.w_banned"),
    "w_not_registered_for_crop": N_("app.w_not_registered_for_crop"),
    "w_registration_unknown": N_("app.w_registration_unknown"),
    "w_changes_harvested_lot": N_("app.w_changes_harvested_lot"),
}
#: Ids the templates build from a value (``activity.spray``, ``role_farmer``,
#: ``staff.flag_gaps``): listed so that ``./run words`` keeps them in the catalogue.
BUILT_IDS = (
    N_("activity.land_prep"),
    N_("activity.seed"),
    N_("activity.fertilize"),
    N_("activity.spray"),
    N_("activity.irrigate"),
    N_("activity.observe"),
    N_("activity.harvest"),
    N_("activity.process"),
    N_("activity.other"),
    N_("activity.purchase"),
    N_("activity.drain"),
    N_("activity.straw"),
    N_("activity.sale"),
    N_("staff.flag_dose_above_max"),
    N_("staff.flag_overspray"),
    N_("staff.flag_nospray_zone"),
    N_("staff.flag_no_end_event"),
    N_("staff.flag_sprayer_state_unknown"),
    N_("staff.flag_unknown_product"),
    N_("staff.flag_product_dose_unknown"),
    N_("staff.flag_no_fields"),
    N_("staff.flag_gaps"),
    N_("staff.flag_reported_area_mismatch"),
    N_("staff.flag_reported_amount_mismatch"),
    N_("staff.flag_measure_failed"),
    N_("staff.flag_event_time_mismatch"),
    N_("staff.flag_banned_product"),
    N_("staff.flag_application_method"),
    N_("staff.flag_far_from_field"),
    N_("staff.pass"),
    N_("staff.fail"),
    N_("staff.unknown"),
    N_("staff.source_contract"),
    N_("staff.source_mavlink"),
    N_("staff.source_isoxml"),
    N_("staff.source_csv"),
    N_("staff.source_track"),
    N_("app.verdict_true"),
    N_("app.verdict_false"),
    N_("app.verdict_none"),
    N_("staff.regime_continuously_flooded"),
    N_("staff.regime_single_drainage"),
    N_("staff.regime_multiple_drainage"),
    N_("staff.pre_non_flooded_lt_180d"),
    N_("staff.pre_non_flooded_gt_180d"),
    N_("staff.pre_non_flooded_gt_365d"),
    N_("staff.pre_flooded_gt_30d"),
    N_("staff.pre_not_known"),
    N_("staff.pre_basis_diary"),
    N_("staff.pre_basis_farmer"),
    N_("staff.pre_basis_ipcc_aggregated"),
    N_("app.pre_non_flooded_lt_180d"),
    N_("app.pre_non_flooded_gt_180d"),
    N_("app.pre_non_flooded_gt_365d"),
    N_("app.pre_flooded_gt_30d"),
    N_("staff.straw_removed"),
    N_("staff.straw_incorporated"),
    N_("staff.straw_composted"),
    N_("staff.straw_burnt"),
    N_("app.le_regime_continuously_flooded"),
    N_("app.le_regime_single_drainage"),
    N_("app.le_regime_multiple_drainage"),
    N_("app.le_pass"),
    N_("app.le_fail"),
    N_("app.le_seed"),
    N_("app.le_n"),
    N_("app.le_sprays"),
    N_("app.le_straw"),
    N_("app.le_awd"),
    N_("phi_true"),
    N_("phi_false"),
    N_("phi_none"),
    N_("cert_valid_true"),
    N_("cert_valid_false"),
    N_("cert_valid_none"),
    N_("role_admin"),
    N_("role_farmer"),
    N_("role_cooperative"),
    N_("role_operator"),
    N_("role_office"),
    N_("role_drone"),
    N_("role_unknown"),
    N_("report_missions"),
    N_("report_field-applications"),
    N_("report_pesticide-records"),
    N_("report_province"),
    N_("report_fleet"),
    N_("report_field-season"),
    N_("report_low-emission-rice"),
    N_("mw_before_season"),
    N_("mw_after_harvest"),
    N_("mw_no_time"),
    N_("mw_far_from_field"),
    N_("what_phi_days"),
    N_("what_max_dose_per_ha"),
    N_("what_started_at"),
    N_("what_ended_at"),
    N_("what_treated_area_ha"),
    N_("what_product_code"),
    N_("what_mission"),
    N_("app.straw_removed"),
    N_("app.straw_incorporated"),
    N_("app.straw_composted"),
    N_("app.straw_burnt"),
)


# What the low-emission records lack (``ch4_reason``, "; "-joined), by its catalogue id.
EMISSION_REASONS = {
    water.NO_FLOOD: N_("emission.no_flood"),
    water.NO_HARVEST_DRAINAGE: N_("emission.no_harvest_drainage"),
    water.NO_PRE_SEASON: N_("emission.no_pre_season"),
    methane.RICE_SHRIMP: N_("emission.rice_shrimp"),
    methane.NO_STRAW_ENTRY: N_("emission.no_straw_entry"),
    methane.NO_STRAW_AMOUNT: N_("emission.no_straw_amount"),
    methane.NO_STRAW_WHEN: N_("emission.no_straw_when"),
    methane.NO_BASELINE_STRAW: N_("emission.no_baseline_straw"),
    methane.NO_HARVEST_DAYS: N_("emission.no_harvest_days"),
}


@lru_cache(maxsize=len(LANGS))
def helpers(lang: str) -> dict[str, Any]:
    """What every template is given in ``lang``: words, numbers, days, times and links.

    ``_("id", name=value)`` is the words of a catalogue id with its ``{name}`` filled.
    """
    catalogue = words.translations(lang)
    # A trace page asks for about a hundred words: read them from the catalogue's own table,
    # as ``words.gettext`` would give them (an id it lacks through the catalogue itself).
    held = catalogue._catalog

    def _(msgid: str, **params: Any) -> str:
        text = held.get(msgid)
        if text is None:
            return gettext(lang, msgid, **params)
        return text.format(**params) if params else text

    def activity(name: str | None) -> str:
        msgid = f"activity.{name or 'other'}"
        return _(msgid if words.has_words(lang, msgid) else "activity.other")

    def flag(code: str) -> str:
        msgid = f"staff.flag_{code}"
        return _(msgid) if words.has_words(lang, msgid) else code.replace("_", " ")

    def why(reason: str | None) -> str:
        """A ``ch4_reason`` in the reader's words (a part with no id stays as written)."""
        parts = (reason or "").split("; ")
        return "; ".join(_(EMISSION_REASONS[p]) if p in EMISSION_REASONS else p for p in parts)

    def verdict(value: bool | None) -> str:
        return _({True: "phi_true", False: "phi_false"}.get(value, "phi_none"))

    return {
        "_": _,
        "gettext": catalogue.gettext,
        "ngettext": catalogue.ngettext,
        "activity": activity,
        "flag": flag,
        "verdict": verdict,
        "why": why,
        "day": lambda value: words.day(value, lang) or _("unknown"),
        "number": lambda value, digits=2: words.number(value, digits, lang),
        "when": lambda value: words.local_time(value, lang),
        "clock": words.clock,
        "crop": lambda name: words.crop_name(name, lang),
        "js_strings": {key: _(msgid) for key, msgid in JS_WORDS.items()},
        "lang": lang,
        "u": lang_url(lang),
        "static_url": static_url,
        "tz": VN_TZ,
    }


def render(name: str, lang: str, **context: Any) -> str:
    """The template ``name`` in ``lang`` as text."""
    # The helpers of a language are built once: a trace page renders in about a millisecond.
    return templates.get_template(name).render(**helpers(lang), **context)


def _gzip(request: Request, body: bytes, media_type: str, headers: dict[str, str]) -> Response:
    """``body``, gzipped when the phone accepts it: on 3G every kilobyte is a tenth of a second."""
    headers = dict(headers)
    if len(body) > 512 and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, 6)
        headers["Content-Encoding"] = "gzip"
    return Response(body, media_type=media_type, headers=headers)


def page(
    name: str,
    lang: str,
    status_code: int = 200,
    *,
    headers: dict[str, str] | None = None,
    request: Request | None = None,
    compress: bool = False,
    **context: Any,
) -> Response:
    """The page ``name`` in ``lang``: the one renderer of every HTML answer.

    Given the ``request``, the page knows its path and its other-language links; with
    ``compress`` it is gzipped for a phone that accepts it.
    """
    if request is not None:
        context = {"path": request.url.path, **switch_urls(request), **context}
    html = render(name, lang, **context)
    if compress and request is not None:
        response = _gzip(request, html.encode(), "text/html; charset=utf-8", headers or {})
        response.status_code = status_code
        return response
    return HTMLResponse(html, status_code=status_code, headers=headers)


def not_found(
    lang: str, code: str | None, detail: str | None = None, status_code: int = 404
) -> HTMLResponse:
    """The friendly 404 (or 400) page of a lot; ``detail`` must already be in ``lang``."""
    title = N_("not_found_title") if status_code == 404 else N_("bad_request_title")
    text = N_("not_found_text") if status_code == 404 else N_("bad_request_text")
    return page(
        "not_found.html", lang, status_code, code=code, detail=detail, title_key=title,
        text_key=text,
    )  # fmt: skip


# ---------------------------------------------------------------- the trace renderings


def base_url(settings: Settings) -> str:
    """What QR codes and links point at, without a trailing slash."""
    return settings.public_base_url.rstrip("/")


def _trace_page_renderer(lang: str) -> trace_cache.Rendering:
    def render_trace(data: dict) -> bytes:
        html = render(
            "trace.html",
            lang,
            trace=data,
            field_map=data.pop("field_map"),
            locator=data.pop("locator"),
            default_image=DEFAULT_IMAGE_SVG,
            default_window_days=trace_svc.DEFAULT_WINDOW_DAYS,
        )
        return html.encode()

    return trace_cache.Rendering(render_trace, with_map=True)


#: Every rendering of a trace a scan can ask for, by the name it is stored under.
RENDERINGS: dict[str, trace_cache.Rendering] = {"json": trace_cache.Rendering(orjson.dumps)} | {
    f"page:{lang}": _trace_page_renderer(lang) for lang in LANGS
}
