"""The GS1-conformant resolver: every path under ``/01`` and ``/.well-known/gs1resolver``.

The rules live in :mod:`traceability.resolver`; this module turns them into HTTP
answers: GET and HEAD, CORS (any origin may read the answer and its ``Link`` header),
OPTIONS for preflight requests, the linkset as ``application/linkset+json``, a 307 to
the link a ``linkType`` asks for — or, without one or when the lot has no link of that
type, to the default link (the trace page in the reader's language) — and friendly
400/404 pages in the reader's language. A serial number (AI 21) under the lot resolves
to the lot's links: agritrace traces lots, and every bag of a lot shares its trace. The
path is read as the client sent it (``raw_path``), so that an encoded ``/`` stays inside
its value; any path under ``/01`` that no documented route names still gets the
resolver's own answer, never the API's JSON 404.
"""

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from traceability import gs1, resolver
from traceability.api import pages
from traceability.api.deps import ReadSessionDep, SettingsDep
from traceability.models import Lot
from traceability.words import N_, gettext

router = APIRouter()

PATH = "/01/{gtin}/10/{lot}"
SERIAL_PATH = PATH + "/21/{serial}"
ITEM_PATH = "/01/{gtin}/21/{serial}"
# Everything else under the resolver's prefix, so that no path there meets the API's JSON 404.
ANY_PATH = "/01{rest:path}"
METHODS = "GET, HEAD, OPTIONS"
CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Methods": METHODS,
    "Access-Control-Allow-Headers": "Accept, Accept-Language, If-None-Match",
    "Access-Control-Expose-Headers": "Link, Location, ETag, Content-Language",
    "Access-Control-Max-Age": "86400",
}
# The same URI answers differently by these request headers: caches must keep them apart.
VARY = {"Vary": "Accept, Accept-Language"}
# No length limits here: a URI the resolver cannot take answers its own 400 page, never
# the API's JSON 422.
#: The words of each way a Digital Link can be wrong (``resolver.BadLink.key``).
BAD_LINK_IDS = (
    N_("gtin_not_digits"), N_("gtin_length"), N_("gtin_missing"), N_("bad_check_digit"),
    N_("bad_ai"), N_("bad_ai_check"), N_("bad_ai_format"), N_("path_shape"),
    N_("qualifier_in_query"), N_("qualifier_order"), N_("repeated_ai"), N_("unknown_ai"),
    N_("bad_value"), N_("bad_lot"), N_("bad_serial"), N_("bad_link_type"),
)  # fmt: skip
LinkType = Annotated[
    str | None,
    Query(
        alias="linkType",
        description="all or linkset (every link, RFC 9264), or a link type such as gs1:epcis",
    ),
]
ResolverLang = Annotated[str | None, Query(description="page language: vi (default) or en")]


def _with(response: Response, headers: dict[str, str]) -> Response:
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _head_aware(request: Request, response: Response) -> Response:
    """The answer without its body for HEAD (its headers, Content-Length included, kept)."""
    if request.method != "HEAD":
        return response
    return Response(b"", status_code=response.status_code, headers=dict(response.headers))


def _bad_link(lang: str, exc: resolver.BadLink) -> Response:
    detail = gettext(lang, exc.key, **exc.details)
    return _with(pages.not_found(lang, None, detail, status_code=400), CORS | VARY)


def _dl_path(request: Request) -> str:
    """The request's path as sent (still percent-encoded), from ``/01`` on."""
    raw = request.scope.get("raw_path") or request.scope["path"].encode()
    path = raw.decode("latin-1")
    root = request.scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _resolve(request: Request, session, settings, lang, link_type) -> Response:
    """Every request under ``/01``: 400 if it is no valid Digital Link, 404 if the
    record has no links for it, else the lot's links (a serial under the lot shares them)."""
    chosen = pages.request_lang(request, lang)
    try:
        if link_type and len(link_type) > resolver.LINK_TYPE_MAX_LENGTH:
            raise resolver.BadLink("bad_link_type", max=str(resolver.LINK_TYPE_MAX_LENGTH))
        found = resolver.parse_uri(_dl_path(request), request.query_params.multi_items())
    except resolver.BadLink as exc:
        return _head_aware(request, _bad_link(chosen, exc))
    row = None
    if found.lot is not None and found.cpv is None:
        row = session.execute(
            select(Lot.gtin, Lot.product_name).where(Lot.code == found.lot)
        ).first()
    # The same answer for "no such lot", "another product's lot" and an item (a serial
    # without a lot, a variant) the record does not know: a GTIN is no way in.
    if row is None or row.gtin is None or row.gtin.zfill(14) != found.gtin:
        return _head_aware(request, _with(pages.not_found(chosen, None, found.hri()), CORS | VARY))
    answer = _links(request, settings, found, row.product_name, chosen, link_type)
    return _head_aware(request, answer)


def _links(request: Request, settings, found, product_name: str, chosen: str, link_type):
    """The lot's links: its linkset, or a 307 to the one the request asks for."""
    base = settings.public_base_url.rstrip("/")
    anchor = gs1.digital_link(base, found.gtin, found.lot)
    links = resolver.lot_links(base, found.lot, product_name)
    headers = CORS | VARY | {"Link": resolver.link_header(anchor, links)}
    want = resolver.link_type(link_type)
    accept = request.headers.get("accept", "")
    if want == "linkset" or (want is None and resolver.LINKSET_TYPE in accept):
        body = orjson.dumps(resolver.linkset(anchor, links))
        return Response(body, media_type=resolver.LINKSET_TYPE, headers=headers)
    # No linkType, or one the lot has no link of: the default link, in the reader's language.
    target = (want and resolver.choose(links, want, chosen, accept)) or resolver.default_link(
        links, chosen
    )
    return RedirectResponse(target.href, status_code=307, headers=headers)


_RESOLVER_DOC = {
    "tags": ["trace"],
    "response_class": Response,
    "responses": {
        200: {"description": "The lot's linkset (application/linkset+json)"},
        307: {
            "description": "To the link the linkType asks for; without one, or when the lot "
            "has no link of that type, to the default link (the trace page)"
        },
        400: {"description": "Not a valid GS1 Digital Link URI (page in the reader's language)"},
        404: {"description": "A valid identifier the record has no links for"},
    },
}


def preflight() -> Response:
    """What a browser on another site may ask of the resolver."""
    return Response(status_code=204, headers=CORS | {"Allow": METHODS})


def _route(path: str, summary: str, name: str):
    """GET and HEAD of one resolver path; its OPTIONS answers a CORS preflight."""

    def register(handler):
        router.add_api_route(path, handler, methods=["GET"], summary=summary,
                             operation_id=f"{name}_get", **_RESOLVER_DOC)  # fmt: skip
        router.add_api_route(path, handler, methods=["HEAD"], summary=f"{summary} (no body)",
                             operation_id=f"{name}_head", **_RESOLVER_DOC)  # fmt: skip
        router.add_api_route(path, preflight, methods=["OPTIONS"], include_in_schema=False)
        return handler

    return register


# Each path names its parts for the API's documentation; all are answered alike.


@_route(PATH, "GS1 Digital Link resolver: the lot's trace and links", "resolve")
def digital_link(gtin: str, lot: str, session: ReadSessionDep, request: Request,
                 settings: SettingsDep, lang: ResolverLang = None,
                 link_type: LinkType = None) -> Response:  # fmt: skip
    """GTIN-8/12/13/14 (check digit verified) and lot → a 307 to the ``linkType`` asked
    for (default: the trace page), or every link as an RFC 9264 linkset."""
    return _resolve(request, session, settings, lang, link_type)


@_route(SERIAL_PATH, "One item of a lot (AI 21 under AI 10): the lot's links", "resolve_serial")
def digital_link_serial(gtin: str, lot: str, serial: str, session: ReadSessionDep,
                        request: Request, settings: SettingsDep, lang: ResolverLang = None,
                        link_type: LinkType = None) -> Response:  # fmt: skip
    """A serial number (AI 21) under the lot: answered with the lot's links, as the lot is."""
    return _resolve(request, session, settings, lang, link_type)


@_route(ITEM_PATH, "A serialised item (AI 21 under AI 01): 404 unless the record knows it",
        "resolve_item")  # fmt: skip
def digital_link_item(gtin: str, serial: str, session: ReadSessionDep, request: Request,
                      settings: SettingsDep, lang: ResolverLang = None,
                      link_type: LinkType = None) -> Response:  # fmt: skip
    """A valid Digital Link of one item; the record keeps lots, not serials: 404 for now."""
    return _resolve(request, session, settings, lang, link_type)


@_route("/01/{gtin}", "A GTIN alone: 400 if malformed, else 404", "gtin_only")
def gtin_only(gtin: str, session: ReadSessionDep, request: Request, settings: SettingsDep,
              lang: ResolverLang = None, link_type: LinkType = None) -> Response:  # fmt: skip
    """This resolver has links for lots only: a valid GTIN without a lot is not found."""
    return _resolve(request, session, settings, lang, link_type)


@_route(ANY_PATH, "Any other path under /01: 400 if no valid Digital Link, else 404",
        "resolve_any")  # fmt: skip
def any_path(rest: str, session: ReadSessionDep, request: Request, settings: SettingsDep,
             lang: ResolverLang = None, link_type: LinkType = None) -> Response:  # fmt: skip
    """Qualifiers out of order, unknown AIs, empty values, a variant (AI 22) ...: the
    resolver's own 400 or 404 page, never the API's JSON."""
    return _resolve(request, session, settings, lang, link_type)


@router.get("/.well-known/gs1resolver", tags=["trace"], summary="The resolver's description")
def well_known(settings: SettingsDep) -> Response:
    """The GS1 resolver description file: name, root, primary keys and link types."""
    body = orjson.dumps(resolver.description(settings.public_base_url))
    return Response(body, media_type="application/json", headers=CORS)
