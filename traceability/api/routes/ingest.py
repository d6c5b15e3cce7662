"""The ingest pipeline's door in the API: messages kept as rejects, flight log upload."""

from typing import Annotated

from fastapi import APIRouter, File, Form, Query, UploadFile

from traceability.api.deps import FleetUser, OperatorUser, PagingDep, SessionDep
from traceability.errors import Forbidden, InvalidInput
from traceability.ingest import logs, rejects
from traceability.ingest.sources.tracks import TrackOptions
from traceability.models import IngestRejectsPublic, IngestResult, MissionType
from traceability.services import access

router = APIRouter()


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
            ".bin, an ISO 11783-10 TaskData zip, a vendor's CSV read with columns, or a "
            "vendor's exported track (.kml, .kmz, .geojson)"
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
    product: Annotated[
        str | None, Form(max_length=64, description="a KML/GeoJSON track's product code")
    ] = None,
    flow_lpm: Annotated[
        float | None,
        Form(ge=0, le=1000, description="a KML/GeoJSON track's flow while spraying, L/min"),
    ] = None,
    flow_kgpm: Annotated[
        float | None,
        Form(ge=0, le=1000, description="a KML/GeoJSON track's granules spread, kg/min"),
    ] = None,
    swath_m: Annotated[
        float | None, Form(gt=0, le=100, description="a KML/GeoJSON track's swath, metres")
    ] = None,
    mission_type: Annotated[
        MissionType, Form(description="a KML/GeoJSON track's work")
    ] = MissionType.spray,
    spraying: Annotated[
        bool, Form(description="whether a KML/GeoJSON track is the applicator's work")
    ] = True,
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
    track = TrackOptions(
        product=product,
        flow_lpm=flow_lpm,
        flow_kgpm=flow_kgpm,
        swath_m=swath_m,
        type=mission_type,
        spraying=spraying,
    )
    return logs.ingest_log(
        session, data=data, name=name, drone=drone, drones=own, columns=columns, track=track
    ).public()
