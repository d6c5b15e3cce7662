"""The GS1-conformant resolver: ``/01/{gtin}/10/{lot}`` and ``/.well-known/gs1resolver``.

The rules live in :mod:`traceability.resolver`; this module turns them into HTTP
answers: GET and HEAD, CORS (any origin may read the answer and its ``Link`` header),
OPTIONS for preflight requests, the linkset as ``application/linkset+json``, a 307 to
the link a ``linkType`` asks for — or, without one or when the lot has no link of that
type, to the default link (the trace page in the reader's language) — and friendly
400/404 pages in the reader's language. A serial number (AI 21) under the lot resolves
to the lot's links: agritrace traces lots, and every bag of a lot shares its trace.
"""

from typing import Annotated

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from traceability import gs1, resolver
from traceability.api import pages
from traceability.api.deps import SessionDep, SettingsDep
from traceability.api.pages import Lang
from traceability.models import Lot
from traceability.words import N_, gettext

router = APIRouter()

PATH = "/01/{gtin}/10/{lot}"
SERIAL_PATH = PATH + "/21/{serial}"
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
#: The words of each way a Digital Link can be wrong (``resolver.BadLink.key``).
BAD_LINK_IDS = (
    N_("gtin_not_digits"), N_("gtin_length"), N_("bad_check_digit"), N_("bad_ai"),
    N_("bad_serial"), N_("bad_lot"),
)  # fmt: skip
LinkType = Annotated[
    str | None,
    Query(
        alias="linkType",
        max_length=200,
        description="all or linkset (every link, RFC 9264), or a link type such as gs1:epcis",
    ),
]


def _with(response: Response, headers: dict[str, str]) -> Response:
    for name, value in headers.items():
        response.headers[name] = value
    return response


def _head_aware(request: Request, response: Response) -> Response:
    """The answer without its body for HEAD (its headers, Content-Length included, kept)."""
    if request.method != "HEAD":
        return response
    return Response(b"", status_code=response.status_code, headers=dict(response.headers))


def _bad_link(lang: str, exc: resolver.BadLink, lot: str) -> Response:
    detail = gettext(lang, exc.key, **exc.details)
    return _with(pages.not_found(lang, lot, detail, status_code=400), CORS | VARY)


def _answer(request: Request, session, settings, gtin: str, lot: str, lang, link_type, serial=None):
    chosen = pages.request_lang(request, lang)
    try:
        gtin14, code = resolver.parse(gtin, "10", lot)
        if serial is not None:
            resolver.check_serial(serial)
    except resolver.BadLink as exc:
        return _bad_link(chosen, exc, lot)
    row = session.execute(select(Lot.gtin, Lot.product_name).where(Lot.code == code)).first()
    if row is None or row.gtin is None or row.gtin.zfill(14) != gtin14:
        # The same answer for "no such lot" and "another product's lot": a GTIN is no way in.
        return _with(pages.not_found(chosen, code, f"GTIN {gtin14}"), CORS | VARY)
    base = settings.public_base_url.rstrip("/")
    anchor = gs1.digital_link(base, gtin14, code)
    links = resolver.lot_links(base, code, row.product_name)
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
        400: {"description": "Not a valid Digital Link of a lot (page in the reader's language)"},
        404: {"description": "No such lot for this GTIN"},
    },
}


@router.get(PATH, summary="GS1 Digital Link resolver: the lot's trace and links", **_RESOLVER_DOC)
@router.head(PATH, summary="The resolver's answer without its body", operation_id="resolve_head",
             **_RESOLVER_DOC)  # fmt: skip
def digital_link(
    gtin: str,
    lot: str,
    session: SessionDep,
    request: Request,
    settings: SettingsDep,
    lang: Lang = None,
    link_type: LinkType = None,
) -> Response:
    """GTIN-8/12/13/14 (check digit verified) and lot → a 307 to the ``linkType`` asked
    for (default: the trace page), or every link as an RFC 9264 linkset."""
    answer = _answer(request, session, settings, gtin, lot, lang, link_type)
    return _head_aware(request, answer)


@router.get(SERIAL_PATH, summary="GS1 Digital Link of one item of a lot: the lot's links",
            **_RESOLVER_DOC)  # fmt: skip
@router.head(SERIAL_PATH, summary="The same without its body", operation_id="resolve_serial_head",
             **_RESOLVER_DOC)  # fmt: skip
def digital_link_serial(
    gtin: str,
    lot: str,
    serial: str,
    session: SessionDep,
    request: Request,
    settings: SettingsDep,
    lang: Lang = None,
    link_type: LinkType = None,
) -> Response:
    """A serial number (AI 21) under the lot: answered with the lot's links, as the lot is."""
    answer = _answer(request, session, settings, gtin, lot, lang, link_type, serial=serial)
    return _head_aware(request, answer)


@router.options(PATH, tags=["trace"], summary="CORS preflight of the resolver")
@router.options(SERIAL_PATH, tags=["trace"], summary="CORS preflight of the resolver",
                operation_id="resolve_serial_options")  # fmt: skip
def digital_link_options(gtin: str, lot: str, serial: str | None = None) -> Response:
    """What a browser on another site may ask of the resolver."""
    return Response(status_code=204, headers=CORS | {"Allow": METHODS})


_QUALIFIER = "/01/{gtin}/{ai}/{value}"
_QUALIFIER_SUMMARY = "A Digital Link with a qualifier other than a lot: 400"


@router.get(_QUALIFIER, tags=["trace"], summary=_QUALIFIER_SUMMARY, response_class=Response)
@router.head(_QUALIFIER, tags=["trace"], summary=_QUALIFIER_SUMMARY, response_class=Response,
             operation_id="unsupported_qualifier_head")  # fmt: skip
def unsupported_qualifier(
    gtin: str, ai: str, value: str, request: Request, lang: Lang = None
) -> Response:
    """This resolver answers a GTIN with a batch/lot (AI 10) only."""
    chosen = pages.request_lang(request, lang)
    try:
        resolver.parse(gtin, ai, value)
    except resolver.BadLink as exc:
        return _head_aware(request, _bad_link(chosen, exc, value))
    raise AssertionError("AI 10 is routed to the resolver itself")  # pragma: no cover


@router.get(
    "/01/{gtin}",
    tags=["trace"],
    summary="A GTIN alone: 400 if malformed, else 404",
    response_class=Response,
)
@router.head("/01/{gtin}", tags=["trace"], summary="A GTIN alone, without a body",
             response_class=Response, operation_id="gtin_only_head")  # fmt: skip
def gtin_only(gtin: str, request: Request, lang: Lang = None) -> Response:
    """This resolver has links for lots only: a valid GTIN without a lot is not found."""
    chosen = pages.request_lang(request, lang)
    try:
        gtin14, _lot = resolver.parse(gtin, "10", "-")
    except resolver.BadLink as exc:
        return _head_aware(request, _bad_link(chosen, exc, ""))
    page = pages.not_found(chosen, None, f"GTIN {gtin14}")
    return _head_aware(request, _with(page, CORS | VARY))


@router.get("/.well-known/gs1resolver", tags=["trace"], summary="The resolver's description")
def well_known(settings: SettingsDep) -> Response:
    """The GS1 resolver description file: name, root, primary keys and link types."""
    body = orjson.dumps(resolver.description(settings.public_base_url))
    return Response(body, media_type="application/json", headers=CORS)
