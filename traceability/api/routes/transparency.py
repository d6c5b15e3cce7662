"""The public transparency log: signed checkpoints, its verifier key, and proofs.

Anyone may read these (no token): a checkpoint is only worth something if
offices and buyers keep their own copies of it.
"""

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import PlainTextResponse, Response

from traceability.api.deps import PagingDep, SessionDep
from traceability.models import (
    CheckpointPublic,
    CheckpointsPublic,
    ConsistencyProof,
    LeafInclusion,
    LotProof,
)
from traceability.services import tlog, tlog_tiles

router = APIRouter(tags=["transparency"])
# Outside /api/v1: the paths C2SP tlog-tiles gives, under /tlog.
static_router = APIRouter(tags=["transparency"])

# A checkpoint changes as the log grows: caches keep it briefly.
_CHECKPOINT_CACHE = "public, max-age=10"


@router.get("/transparency/checkpoint", response_model=CheckpointPublic)
def latest_checkpoint(session: SessionDep):
    """The newest signed checkpoint (save it: `agritrace verify` checks it later)."""
    return tlog.public(tlog.latest(session))


@router.get("/transparency/checkpoints", response_model=CheckpointsPublic)
def list_checkpoints(session: SessionDep, paging: PagingDep):
    """Every published checkpoint, newest first."""
    return tlog.list_checkpoints(session, offset=paging.offset, limit=paging.limit)


@router.get("/transparency/vkey", response_class=PlainTextResponse)
def verifier_key(session: SessionDep):
    """The log's verifier key in the C2SP signed-note ``vkey`` text form.

    Compare it with a copy obtained apart (the office's site, a contract): a key
    fetched from the log itself proves nothing alone.
    """
    return PlainTextResponse(tlog.latest(session).vkey + "\n")


@router.get("/transparency/consistency", response_model=ConsistencyProof)
def consistency(
    session: SessionDep,
    first: Annotated[int, Query(alias="from", ge=0, description="the older tree size")],
    second: Annotated[
        int | None, Query(alias="to", ge=0, description="the newer tree size (default: all)")
    ] = None,
):
    """An RFC 9162 consistency proof between two tree sizes (base64 hashes)."""
    return tlog.consistency(session, first=first, second=second)


@router.get("/transparency/inclusion", response_model=LeafInclusion)
def leaf_inclusion(
    session: SessionDep,
    index: Annotated[int, Query(ge=0, description="the leaf's index")],
    size: Annotated[int | None, Query(ge=1, description="the tree size (default: all)")] = None,
):
    """An RFC 9162 inclusion proof of one leaf in the tree of ``size`` leaves."""
    return tlog.inclusion(session, index=index, size=size)


@router.get("/lots/{code}/proof", response_model=LotProof)
def lot_proof(code: str, session: SessionDep):
    """The newest checkpoint (with witnesses' cosignatures) and the inclusion proof of
    each of the lot's fields' newest logged entry: check the lot's diaries offline."""
    return tlog.lot_proof(session, code=code)


@static_router.get("/tlog/checkpoint", response_class=PlainTextResponse)
def checkpoint_note(session: SessionDep):
    """The newest checkpoint as a C2SP signed note (text/plain)."""
    return PlainTextResponse(
        tlog.latest(session).note, headers={"Cache-Control": _CHECKPOINT_CACHE}
    )


# Full tiles never change; a partial tile of a given width does not either.
_TILE_CACHE = "public, max-age=31536000, immutable"


@static_router.get("/tlog/tile/entries/{path:path}", response_class=Response)
def entries_tile(path: str, session: SessionDep):
    """C2SP tlog-tiles entry bundle ``/tile/entries/<N>[.p/<W>]``."""
    index, width = tlog_tiles.tile_index(path)
    body = tlog_tiles.entries_tile(session, index=index, width=width)
    return Response(body, media_type="application/octet-stream", headers=_tile_headers())


@static_router.get("/tlog/tile/{level}/{path:path}", response_class=Response)
def hash_tile(level: Annotated[int, Path(ge=0, le=63)], path: str, session: SessionDep):
    """C2SP tlog-tiles hash tile ``/tile/<L>/<N>[.p/<W>]``."""
    index, width = tlog_tiles.tile_index(path)
    body = tlog_tiles.tile(session, level=level, index=index, width=width)
    return Response(body, media_type="application/octet-stream", headers=_tile_headers())


def _tile_headers() -> dict[str, str]:
    return {"Cache-Control": _TILE_CACHE}
