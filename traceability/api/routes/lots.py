"""Harvest lots and their lineage."""

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Body, Header, HTTPException, status
from fastapi.responses import Response

from traceability.api import pages, trace_cache
from traceability.api.deps import CurrentUser, PagingDep, SessionDep, SettingsDep
from traceability.api.pages import RENDERINGS
from traceability.models import LotCreate, LotPublic, LotsPublic, Role
from traceability.services import lot_identity
from traceability.services import lots as svc

router = APIRouter()


@router.post("/lots", status_code=201, response_model=LotPublic, tags=["lots"])
def create_lot(
    data: LotCreate,
    session: SessionDep,
    user: CurrentUser,
    settings: SettingsDep,
    background: BackgroundTasks,
):
    """Record a harvest lot (admin, or the farmer of all its fields).

    Its trace is built and stored once the answer is sent, ahead of the first scan.
    """
    if user.role is Role.operator:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "lots are recorded by farmers and admins")
    lot = svc.create_lot(session, data=data, user=user if user.id else None)
    background.add_task(
        trace_cache.build_apart,
        session.get_bind(),
        code=lot.code,
        base_url=pages.base_url(settings),
        renderings=RENDERINGS,
    )
    return svc.lot_public(session, lot)


@router.get("/lots", response_model=LotsPublic, tags=["lots"])
def list_lots(
    session: SessionDep,
    _user: CurrentUser,
    paging: PagingDep,
    season_id: int | None = None,
    field_code: str | None = None,
):
    """Lots, optionally of one season or field."""
    rows, count = svc.list_lots(
        session,
        season_id=season_id,
        field_code=field_code,
        offset=paging.offset,
        limit=paging.limit,
    )
    return LotsPublic(data=[svc.lot_public(session, r) for r in rows], count=count)


@router.get("/lots/{code}", response_model=LotPublic, tags=["lots"])
def read_lot(code: str, session: SessionDep, _user: CurrentUser):
    """One lot with its fields, seasons and parent lots."""
    return svc.lot_public(session, svc.get_lot(session, code=code))


@router.put(
    "/lots/{code}/image",
    status_code=204,
    response_class=Response,
    tags=["lots"],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}}
                        for t in ("image/png", "image/jpeg", "image/webp")},
        }
    },
)  # fmt: skip
def put_lot_image(
    code: str,
    session: SessionDep,
    user: CurrentUser,
    data: Annotated[bytes, Body(media_type="application/octet-stream")] = b"",
    content_type: Annotated[str, Header()] = "",
):
    """The lot's product photo (PNG, JPEG or WebP, at most 300 kB), shown on its trace page;
    whoever may record lots on its fields."""
    lot_identity.set_image(session, code=code, data=data, media_type=content_type, user=user)
    return Response(status_code=204)
