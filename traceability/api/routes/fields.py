"""Fields (GeoJSON), field import, seasons."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from traceability.api.deps import BBoxDep, CooperativeUser, CurrentUser, PagingDep, SessionDep
from traceability.models import (
    FeatureCollectionCreate,
    FieldCreate,
    FieldImportResult,
    FieldPublic,
    FieldsPublic,
    SeasonCreate,
    SeasonPlan,
    SeasonPublic,
    SeasonsPublic,
)
from traceability.services import fields as svc

router = APIRouter()


@router.post("/fields", status_code=201, response_model=FieldPublic, tags=["fields"])
def create_field(feature: FieldCreate, session: SessionDep, user: CooperativeUser):
    """Record a field from a GeoJSON Feature (admin, or the farmer's cooperative)."""
    return svc.field_feature(svc.create_field(session, feature=feature, user=user))


@router.post("/fields/import", status_code=201, response_model=FieldImportResult, tags=["fields"])
def import_fields(
    collection: FeatureCollectionCreate,
    session: SessionDep,
    user: CooperativeUser,
    crs: Annotated[str | None, Query(description="CRS of the coordinates, e.g. EPSG:3405")] = None,
):
    """Record every field of a FeatureCollection, all or nothing (admin, or the cooperative
    of every field's farmer)."""
    rows = svc.import_fields(session, features=collection.features, crs=crs, user=user)
    return FieldImportResult(created=len(rows), codes=[r.code for r in rows])


@router.get("/fields", response_model=FieldsPublic, tags=["fields"])
def list_fields(
    session: SessionDep,
    _user: CurrentUser,
    paging: PagingDep,
    farmer_id: int | None = None,
    bbox: BBoxDep = None,
):
    """Fields as a FeatureCollection, optionally of one farmer or in a box."""
    rows, count = svc.list_fields(
        session, farmer_id=farmer_id, bbox=bbox, offset=paging.offset, limit=paging.limit
    )
    return FieldsPublic(features=[svc.field_feature(r) for r in rows], count=count)


@router.get("/fields/{code}", response_model=FieldPublic, tags=["fields"])
def read_field(code: str, session: SessionDep, _user: CurrentUser):
    """One field as a GeoJSON Feature."""
    return svc.field_feature(svc.get_field(session, code=code))


@router.post("/seasons", status_code=201, response_model=SeasonPublic, tags=["seasons"])
def create_season(data: SeasonCreate, session: SessionDep, user: CurrentUser):
    """Start a crop season (admin, the field's farmer or their cooperative)."""
    return svc.season_public(svc.create_season(session, data=data, user=user), data.field_code)


# Bounded so that a huge id is a 422, not a database overflow.
SeasonId = Annotated[int, Path(ge=1, le=2**31 - 1)]


@router.patch("/seasons/{season_id}", response_model=SeasonPublic, tags=["seasons"])
def plan_harvest(season_id: SeasonId, data: SeasonPlan, session: SessionDep, user: CurrentUser):
    """Set the day the season's harvest is planned for, or clear it with null (admin, the
    field's farmer or their cooperative): PHI warnings are held against it."""
    season, code = svc.plan_harvest(
        session, season_id=season_id, day=data.planned_harvest_on, user=user
    )
    return svc.season_public(season, code)


@router.get("/seasons", response_model=SeasonsPublic, tags=["seasons"])
def list_seasons(
    session: SessionDep,
    _user: CurrentUser,
    paging: PagingDep,
    field_code: str | None = None,
    crop: str | None = None,
):
    """Crop seasons, optionally of one field or crop."""
    rows, count = svc.list_seasons(
        session, field_code=field_code, crop=crop, offset=paging.offset, limit=paging.limit
    )
    return SeasonsPublic(data=[svc.season_public(s, code) for s, code in rows], count=count)


@router.get("/seasons/{season_id}", response_model=SeasonPublic, tags=["seasons"])
def read_season(season_id: int, session: SessionDep, _user: CurrentUser):
    """One season."""
    season, code = svc.get_season(session, season_id=season_id)
    return svc.season_public(season, code)
