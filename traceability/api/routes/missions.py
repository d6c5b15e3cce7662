"""Drone missions and their as-applied maps, ingest rejects, flight log upload, no-spray zones."""

from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Query, UploadFile

from traceability.api.deps import (
    AdminUser,
    BBoxDep,
    CurrentUser,
    FleetUser,
    OperatorUser,
    PagingDep,
    SessionDep,
)
from traceability.errors import Forbidden, InvalidInput
from traceability.ingest import logs, rejects
from traceability.models import (
    FeatureCollectionCreate,
    FieldImportResult,
    IngestRejectsPublic,
    IngestResult,
    MissionPublic,
    MissionsPublic,
    MissionStatus,
    ZoneCreate,
    ZonePublic,
    ZonesPublic,
)
from traceability.services import access, zones
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


@router.get("/ingest/rejects", response_model=IngestRejectsPublic, tags=["ingest"])
def list_rejects(
    session: SessionDep,
    user: FleetUser,
    paging: PagingDep,
    topic: Annotated[
        str | None, Query(description="only rejects whose topic contains this")
    ] = None,
):
    """Messages that could not be accepted, newest first, with the reason (admin, office, and
    operators for their own drones)."""
    return rejects.list_rejects(
        session,
        offset=paging.offset,
        limit=paging.limit,
        topic=topic,
        drones=access.own_drone_codes(session, user),
    )


@router.post("/ingest/logs", response_model=IngestResult, tags=["ingest"])
def upload_log(
    session: SessionDep,
    user: OperatorUser,
    file: Annotated[
        UploadFile,
        File(
            description="a flight log: CSV or JSON lines of the contract, a MAVLink .tlog or "
            ".bin, an ISO 11783-10 TaskData zip, or a vendor's CSV read with columns"
        ),
    ],
    drone: Annotated[
        str | None, Form(description="drone code, when the log does not name it")
    ] = None,
    columns: Annotated[
        str | None,
        Form(
            max_length=2000,
            description="a vendor CSV's column mapping (lat=…,lon=…,time=…,spraying=…,"
            "flow=…) or a saved mapping's name",
        ),
    ] = None,
):
    """Feed a flight log recorded out of coverage through the ingest pipeline (admin, operator).

    Points already received are counted as duplicates, bad records are kept as rejects; so
    are an operator's records of drones that are not its organisation's.
    """
    own = access.own_drone_codes(session, user)
    if drone is not None and own is not None and drone not in own:
        raise Forbidden(f"drone '{drone}' is not one of your organisation's drones")
    data = file.file.read(logs.LOG_MAX_BYTES + 1)
    if not data:
        raise InvalidInput("the uploaded log is empty")
    name = file.filename or "upload"
    return logs.ingest_log(
        session, data=data, name=name, drone=drone, drones=own, columns=columns
    ).public()


@router.post("/zones", status_code=201, response_model=ZonePublic, tags=["zones"])
def create_zone(feature: ZoneCreate, session: SessionDep, _user: AdminUser):
    """Record a no-spray zone from a GeoJSON Feature (admin)."""
    return zones.zone_feature(zones.create_zone(session, feature=feature))


@router.post("/zones/import", status_code=201, response_model=FieldImportResult, tags=["zones"])
def import_zones(collection: FeatureCollectionCreate, session: SessionDep, _user: AdminUser):
    """Record every zone of a FeatureCollection, all or nothing (admin)."""
    rows = zones.import_zones(session, features=collection.features)
    return FieldImportResult(created=len(rows), codes=[r.code for r in rows])


@router.get("/zones", response_model=ZonesPublic, tags=["zones"])
def list_zones(
    session: SessionDep,
    _user: FleetUser,
    paging: PagingDep,
    kind: str | None = None,
    bbox: BBoxDep = None,
):
    """No-spray zones as a FeatureCollection (admin, office, operator)."""
    rows, count = zones.list_zones(
        session, kind=kind, bbox=bbox, offset=paging.offset, limit=paging.limit
    )
    return ZonesPublic(features=[zones.zone_feature(z) for z in rows], count=count)


@router.get("/zones/{code}", response_model=ZonePublic, tags=["zones"])
def read_zone(code: str, session: SessionDep, _user: FleetUser):
    """One no-spray zone (admin, office, operator)."""
    return zones.zone_feature(zones.get_zone(session, code=code))
