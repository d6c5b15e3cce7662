"""No-spray zones (canals, houses, shrimp ponds) as GeoJSON."""

from fastapi import APIRouter

from traceability.api.deps import AdminUser, BBoxDep, FleetUser, PagingDep, SessionDep
from traceability.models import (
    FeatureCollectionCreate,
    FieldImportResult,
    ZoneCreate,
    ZonePublic,
    ZonesPublic,
)
from traceability.services import zones

router = APIRouter()


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
