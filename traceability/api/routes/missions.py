"""Drone missions and their as-applied data (the maps are in :mod:`.maps`)."""

from typing import Annotated, Any

from fastapi import APIRouter, Query

from traceability.api.deps import (
    CurrentUser,
    PagingDep,
    SessionDep,
)
from traceability.models import (
    MissionPublic,
    MissionsPublic,
    MissionStatus,
)
from traceability.services import access
from traceability.services import missions as svc

router = APIRouter()


@router.get("/missions", response_model=MissionsPublic, tags=["missions"])
def list_missions(
    session: SessionDep,
    user: CurrentUser,
    paging: PagingDep,
    drone: Annotated[str | None, Query(description="drone code")] = None,
    status: MissionStatus | None = None,
    field_code: Annotated[str | None, Query(description="missions that treated this field")] = None,
):
    """Missions, newest first, that the caller sees (see ``services.access``)."""
    return svc.list_missions(
        session,
        only=access.mission_filter(user),
        drone=drone,
        status=status,
        field_code=field_code,
        offset=paging.offset,
        limit=paging.limit,
    )


@router.get("/missions/{mission_id}", response_model=MissionPublic, tags=["missions"])
def read_mission(mission_id: str, session: SessionDep, user: CurrentUser):
    """One mission and its measured result, if the caller sees it."""
    access.ensure_reads_mission(session, user, mission_id)
    return svc.get_mission(session, mission_id=mission_id)


@router.get("/missions/{mission_id}/geojson", tags=["missions"])
def mission_geojson(mission_id: str, session: SessionDep, user: CurrentUser) -> dict[str, Any]:
    """The as-applied map: footprint, track, fields, no-spray zone hits, if the caller sees it."""
    access.ensure_reads_mission(session, user, mission_id)
    return svc.mission_geojson(session, mission_id=mission_id)
