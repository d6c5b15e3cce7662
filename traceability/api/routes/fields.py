"""Fields (GeoJSON), field import, seasons, and everything under ``/fields/{code}/``: the
field's diary and its chain check, its season map, its place in the transparency log."""

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response

from traceability.api import pages
from traceability.api.deps import (
    BBoxDep,
    CooperativeUser,
    CurrentUser,
    PagingDep,
    SessionDep,
    corrected_view,
)
from traceability.api.errors import refuse_changes
from traceability.api.pages import Lang
from traceability.api.staff_auth import MAP_CACHE, ReaderUser
from traceability.errors import NotFound
from traceability.maps.png import svg_to_png
from traceability.maps.season import season_svg
from traceability.models import (
    DiaryEntriesPublic,
    DiaryVerification,
    FeatureCollectionCreate,
    FieldCreate,
    FieldImportResult,
    FieldPublic,
    FieldsPublic,
    InclusionProof,
    SeasonCreate,
    SeasonPlan,
    SeasonPreSeason,
    SeasonPublic,
    SeasonsPublic,
)
from traceability.services import access, diary, tlog
from traceability.services import fields as svc
from traceability.services import maps as map_data

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


@router.get("/fields/{code}/diary", response_model=DiaryEntriesPublic, tags=["diary"])
def field_diary(
    code: str, session: SessionDep, user: CurrentUser, paging: PagingDep, view: str = "corrected"
):
    """A field's diary, oldest first."""
    access.ensure_reads_diary(session, user, svc.get_field(session, code=code))
    entries = diary.list_entries(
        session,
        field_code=code,
        corrected_view=corrected_view(view),
        offset=paging.offset,
        limit=paging.limit,
    )
    return access.shown_entries(user, entries)


@router.get("/fields/{code}/diary/verify", response_model=DiaryVerification, tags=["diary"])
def verify(code: str, session: SessionDep, user: CurrentUser):
    """Recompute the field's hash chain: ``valid`` is false if anything was edited."""
    access.ensure_reads_diary(session, user, svc.get_field(session, code=code))
    return diary.verify_chain(session, field_code=code)


refuse_changes(router, "/fields/{code}/diary", "GET")


def field_season_svg(session, user, code: str, season: int | None, lang: str | None) -> str:
    """A field's season map for a caller who reads the field's diary; the missions drawn
    are those the caller reads."""
    field = svc.get_field(session, code=code)
    access.ensure_reads_diary(session, user, field)
    shapes = map_data.field_season(
        session, code=code, season_id=season, only=access.mission_filter(user)
    )
    return season_svg(shapes, lang=pages.choose_lang(lang))


SeasonId = Annotated[int | None, Query(description="season id; the latest by default")]


@router.get("/fields/{code}/map.svg", tags=["fields"], response_class=Response)
def field_season_map(
    code: str, session: SessionDep, user: ReaderUser, season: SeasonId = None, lang: Lang = None
):
    """A field's season: every drone mission's swath over it (those the caller reads) and
    the hand applications, for whoever reads the field's diary."""
    svg = field_season_svg(session, user, code, season, lang)
    return Response(svg, media_type="image/svg+xml", headers=MAP_CACHE)


@router.get("/fields/{code}/map.png", tags=["fields"], response_class=Response)
def field_season_map_png(
    code: str, session: SessionDep, user: ReaderUser, season: SeasonId = None, lang: Lang = None
):
    """A field's season map as PNG (twice the SVG's pixel size)."""
    png = svg_to_png(field_season_svg(session, user, code, season, lang))
    return Response(png, media_type="image/png", headers=MAP_CACHE)


@router.get("/fields/{code}/inclusion", response_model=InclusionProof, tags=["transparency"])
def field_inclusion(code: str, session: SessionDep):
    """The field's newest entry in the newest checkpoint, with its Merkle audit path (its
    hash chains every earlier entry of the field)."""
    field = svc.get_field(session, code=code)
    proof = tlog.field_inclusion(session, field_code=field.code)
    if proof is None:
        raise NotFound(f"field '{code}' is not in a published checkpoint yet")
    return proof


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


@router.put("/seasons/{season_id}/pre-season", response_model=SeasonPublic, tags=["seasons"])
def state_pre_season(
    season_id: SeasonId, data: SeasonPreSeason, session: SessionDep, user: CurrentUser
):
    """State the field's water before the season's sowing (IPCC 2019 Table 5.13 classes),
    or clear it with null (admin, the field's farmer or their cooperative): the
    low-emission rice report's pre-season where the diary shows no earlier crop and no
    flooding before sowing."""
    season, code = svc.state_pre_season(
        session, season_id=season_id, state=data.pre_season_water, user=user
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
