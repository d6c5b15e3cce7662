"""The buyer's side: trace pages and JSON, QR codes, labels, GS1 Digital Link and EPCIS.

Everything here is public (no token) and reads one lot's public trace only.
Responses are serialised with orjson straight from the trace's plain data:
the trace page is the hottest path of the system, and a pydantic round trip
per request would cost more than the database reads.
"""

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlalchemy.engine import Engine

from traceability import epcis, qr
from traceability.api import pages, trace_cache
from traceability.api.deps import (
    EngineDep,
    FastSettingsDep,
    ReplicaDep,
    SessionDep,
    SettingsDep,
)
from traceability.api.pages import RENDERINGS, Lang
from traceability.config import Settings
from traceability.errors import NotFound
from traceability.models import Lot, LotParent
from traceability.services import lot_identity
from traceability.services import trace as svc
from traceability.services.trace.schema import TracePublic

router = APIRouter()
_CACHE = pages.PUBLIC_CACHE


def _json(data: Any, status_code: int = 200, media_type: str = "application/json") -> Response:
    return Response(
        orjson.dumps(data),
        status_code=status_code,
        media_type=media_type,
        headers=_CACHE if status_code == 200 else None,
    )


def _stored_trace(
    engine: Engine, code: str, variant: str, settings: Settings, replica: Engine | None = None
) -> bytes:
    """The ``variant`` rendering of the trace of ``code``; ``NotFound`` if there is no such lot."""
    return trace_cache.render_trace(
        engine,
        replica=replica,
        code=code,
        base_url=pages.base_url(settings),
        variant=variant,
        rendering=RENDERINGS[variant],
    )


@router.get(
    "/api/v1/trace/{code}",
    tags=["trace"],
    summary="The public trace of a lot as JSON",
    # Documented, not enforced: the answer is a cached body of bytes with an ETag, and
    # validating a trace against the model costs ~1 ms, a third of building it. Tests
    # check real traces against the model instead.
    responses={200: {"model": TracePublic, "description": "The lot's public trace"}},
)
@router.head(
    "/api/v1/trace/{code}",
    tags=["trace"],
    summary="The headers of the trace JSON, without its body",
    operation_id="trace_json_head",
)
async def trace_json(
    code: str, engine: EngineDep, replica: ReplicaDep, request: Request, settings: FastSettingsDep
) -> Response:
    """Lot, fields, seasons, events (oldest first), lineage, diary checks, ``phi_compliant``."""
    # The scan's one query (or a build) in one worker thread; the rest on the event loop.
    body = await run_in_threadpool(_stored_trace, engine, code, "json", settings, replica)
    return trace_cache.answer(request, body, "application/json")


@router.get(
    "/t/{code}",
    tags=["trace"],
    response_class=HTMLResponse,
    summary="The page a buyer's phone opens",
)
@router.head(
    "/t/{code}",
    tags=["trace"],
    response_class=HTMLResponse,
    summary="The headers of the trace page, without its body (link checkers, the resolver's "
    "HEAD followed)",
    operation_id="trace_page_head",
)
async def trace_page(
    code: str,
    engine: EngineDep,
    replica: ReplicaDep,
    request: Request,
    settings: FastSettingsDep,
    lang: Lang = None,
) -> Response:
    """The mobile trace page (Vietnamese; ``?lang=en`` English); a friendly 404 if unknown."""
    chosen = pages.request_lang(request, lang)
    try:
        body = await run_in_threadpool(
            _stored_trace, engine, code, f"page:{chosen}", settings, replica
        )
    except NotFound:
        return pages.not_found(chosen, code)
    response = trace_cache.answer(request, body, "text/html; charset=utf-8", HTMLResponse)
    if lang is None:  # the language came from the request's headers: caches keep them apart
        response.headers["Vary"] = "Accept-Encoding, Accept-Language"
    return response


def _lot_url(session, code: str, settings: Settings) -> tuple[Lot, str]:
    row = session.execute(select(Lot).where(Lot.code == code)).scalars().first()
    if row is None:
        raise NotFound(f"lot '{code}' does not exist")
    return row, qr.lot_url(pages.base_url(settings), row.code, row.gtin)


@router.get("/api/v1/lots/{code}/qr.png", tags=["trace"], response_class=Response)
def lot_qr_png(
    code: str,
    session: SessionDep,
    settings: SettingsDep,
    box: Annotated[int, Query(ge=2, le=40, description="pixels per module")] = 10,
) -> Response:
    """The lot's QR code as PNG: its trace URL, or its GS1 Digital Link when it has a GTIN."""
    _lot, url = _lot_url(session, code, settings)
    return Response(qr.qr_png(url, box), media_type="image/png", headers=_CACHE)


@router.get("/api/v1/lots/{code}/qr.svg", tags=["trace"], response_class=Response)
def lot_qr_svg(code: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The lot's QR code as SVG (for print shops)."""
    _lot, url = _lot_url(session, code, settings)
    return Response(qr.qr_svg(url), media_type="image/svg+xml", headers=_CACHE)


@router.get("/api/v1/lots/{code}/label", tags=["trace"], response_class=HTMLResponse)
def lot_label(
    code: str,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    lang: Lang = None,
    count: Annotated[int, Query(ge=1, le=60, description="labels on the sheet")] = 12,
    columns: Annotated[int, Query(ge=1, le=4, description="labels per row")] = 2,
) -> HTMLResponse:
    """A printable sheet of bag labels: product, lot code, harvest date and the QR code."""
    lot, url = _lot_url(session, code, settings)
    milled = session.execute(select(LotParent.lot_id).where(LotParent.lot_id == lot.id)).first()
    return pages.page(
        "label.html",
        pages.request_lang(request, lang),
        headers=_CACHE | {"Vary": "Accept-Language"},
        lot=lot,
        date_key="processing_date" if milled else "harvest_date",
        url=url,
        qr_svg=qr.qr_svg_inline(url),
        count=count,
        columns=columns,
    )


@router.get("/api/v1/lots/{code}/epcis", tags=["trace"], response_class=Response)
def lot_epcis(code: str, session: SessionDep, settings: SettingsDep) -> Response:
    """The lot's history as an EPCIS 2.0 JSON-LD document."""
    base_url = pages.base_url(settings)
    data = svc.build_trace(session, code=code, base_url=base_url)
    return _json(epcis.document(data, base_url=base_url), media_type="application/ld+json")


@router.get("/api/v1/lots/{code}/image", tags=["trace"], response_class=Response)
def lot_image(code: str, session: SessionDep, request: Request) -> Response:
    """The lot's product photo, or a small drawing of a bag of rice when it has none."""
    data, media_type, digest = lot_identity.image(session, code=code)
    etag = f'"{digest[:32]}"'
    headers = _CACHE | {"ETag": etag}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(data, media_type=media_type, headers=headers)
