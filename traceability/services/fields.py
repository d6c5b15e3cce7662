"""Fields (land assets with a polygon), their import, and crop seasons."""

import math
from collections.abc import Callable, Iterable
from datetime import date
from typing import Any

from pydantic import ValidationError
from shapely.geometry import mapping
from sqlalchemy import func, or_
from sqlmodel import Session, select

from traceability import adminunits, geo
from traceability.errors import Conflict, InvalidGeometry, InvalidInput
from traceability.models import (
    Farmer,
    FarmField,
    FieldCreate,
    FieldPublic,
    FieldPublicProperties,
    Season,
    SeasonCreate,
    SeasonPublic,
    User,
)
from traceability.services import access
from traceability.services.common import add_all_new, get_by, page


def _round_coords(coords: Any) -> Any:
    # 1e-7 degrees is about 1 cm: finer digits are noise from the survey or a projection.
    if isinstance(coords, (int, float)):
        return round(float(coords), 7)
    return [_round_coords(c) for c in coords]


# Keys of a public field's properties that the record computes; a client's values are dropped.
_COMPUTED_PROPERTIES = frozenset(FieldPublicProperties.model_fields)
# Smaller than this is a digitising slip (corners on one line, a stray click), not a field.
MIN_FIELD_AREA_M2 = 1.0


def build_field(*, feature: FieldCreate) -> FarmField:
    """A field row from a validated Feature: polygon checked, area and bbox computed."""
    shape = geo.parse_polygon(feature.geometry)
    area = geo.area_ha(shape)
    if area * 10_000.0 < MIN_FIELD_AREA_M2:
        raise InvalidGeometry(
            f"{shape.geom_type} has an area of only {area * 10_000.0:.3g} m², "
            "too small for a field (are its corners on one line?)"
        )
    minx, miny, maxx, maxy = shape.bounds
    geometry = mapping(shape)
    geometry = {"type": geometry["type"], "coordinates": _round_coords(geometry["coordinates"])}
    props = feature.properties
    if props.commune_code is not None and not adminunits.is_commune(props.commune_code):
        raise InvalidInput(
            f"commune_code '{props.commune_code}' is not a known commune "
            "(GET /api/v1/admin-units?level=commune lists them)"
        )
    extra = {k: v for k, v in (props.model_extra or {}).items() if k not in _COMPUTED_PROPERTIES}
    return FarmField(
        code=props.code,
        farmer_id=props.farmer_id,
        name=props.name,
        commune_code=props.commune_code,
        district=props.district,
        geometry=geometry,
        properties=extra,
        area_ha=round(area, 6),
        utm_epsg=geo.utm_epsg(*shape.representative_point().coords[0]),
        min_lon=minx,
        min_lat=miny,
        max_lon=maxx,
        max_lat=maxy,
    )


def _check_farmers(session: Session, farmer_ids: set[int]) -> None:
    found = set(session.exec(select(Farmer.id).where(Farmer.id.in_(farmer_ids))).all())
    missing = sorted(farmer_ids - found)
    if missing:
        raise InvalidInput(f"farmer_id {', '.join(map(str, missing))} does not exist")


def create_field(session: Session, *, feature: FieldCreate, user: User | None = None) -> FarmField:
    """Record one field from a GeoJSON Feature (for a farmer ``user`` manages, if given)."""
    return import_fields(session, features=[feature.model_dump()], user=user)[0]


def reproject_geometry(geometry: dict[str, Any], crs: str) -> dict[str, Any]:
    """A GeoJSON geometry dict with its coordinates moved from ``crs`` to WGS84."""
    try:
        transform = geo.transformer_to_wgs84(crs)
    except Exception as exc:  # pyproj raises CRSError, a ValueError subclass, for unknown codes
        raise InvalidInput(f"unknown coordinate reference system '{crs}': {exc}") from exc

    def move(coords: Any, depth: int) -> Any:
        # Depth 4 is a MultiPolygon's position; anything deeper (or not a list) is not GeoJSON.
        if not isinstance(coords, list) or depth > 4:
            raise InvalidGeometry(
                f"coordinates must be nested lists of numbers, got {coords!r:.60}"
            )
        if not coords or isinstance(coords[0], list):
            return [move(c, depth + 1) for c in coords]
        xy = coords[:2]
        if len(xy) < 2 or not all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in xy
        ):
            raise InvalidGeometry(f"position {coords!r:.60} is not a pair of numbers")
        lon, lat = transform(float(xy[0]), float(xy[1]))
        if not (math.isfinite(lon) and math.isfinite(lat)):
            raise InvalidGeometry(
                f"position {coords!r:.60} cannot be moved from {crs} to WGS84 (outside the CRS?)"
            )
        return [lon, lat]

    if not isinstance(geometry, dict) or "coordinates" not in geometry:
        raise InvalidGeometry("a geometry needs 'type' and 'coordinates'")
    return {**geometry, "coordinates": move(geometry["coordinates"], 1)}


def import_fields(
    session: Session,
    *,
    features: Iterable[dict[str, Any]],
    crs: str | None = None,
    progress: Callable[[int], None] | None = None,
    user: User | None = None,
) -> list[FarmField]:
    """Record many fields at once, all or nothing.

    Each feature is checked before anything is written; an error names the
    feature (by position and code) and what is wrong with it.
    """
    rows: list[FarmField] = []
    for i, raw in enumerate(features):
        label = f"feature {i}"
        try:
            if not isinstance(raw, dict):
                raise InvalidInput("a feature must be a JSON object")
            label = f"feature {i} ({(raw.get('properties') or {}).get('code', 'no code')})"
            if crs and raw.get("geometry"):
                raw = {**raw, "geometry": reproject_geometry(raw["geometry"], crs)}
            rows.append(build_field(feature=FieldCreate.model_validate(raw)))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise InvalidInput(f"{label}: {where}: {err['msg']}") from exc
        except InvalidInput as exc:
            raise type(exc)(f"{label}: {exc}") from exc
        if progress:
            progress(1)
    codes = [r.code for r in rows]
    dupes = (
        sorted({c for c in codes if codes.count(c) > 1}) if len(set(codes)) != len(codes) else []
    )
    if dupes:
        raise Conflict(f"field code repeated in the import: {', '.join(dupes)}")
    if rows:
        _check_farmers(session, {r.farmer_id for r in rows})
        for row in rows:
            access.ensure_manages_field(session, user, row)
    return add_all_new(session, rows, label="field")


def field_feature(field: FarmField) -> FieldPublic:
    """The GeoJSON Feature the API returns for a field."""
    # Rows stored before reserved keys were filtered on the way in are filtered here too.
    extra = {k: v for k, v in (field.properties or {}).items() if k not in _COMPUTED_PROPERTIES}
    return FieldPublic(
        id=field.code,
        geometry=field.geometry,
        bbox=[field.min_lon, field.min_lat, field.max_lon, field.max_lat],
        properties=FieldPublicProperties(
            id=field.id,
            code=field.code,
            farmer_id=field.farmer_id,
            name=field.name,
            commune_code=field.commune_code,
            district=field.district,
            area_ha=field.area_ha,
            utm_epsg=field.utm_epsg,
            **extra,
        ),
    )


def get_field(session: Session, *, code: str) -> FarmField:
    """The field with this code."""
    return get_by(session, FarmField, "field", code=code)


def list_fields(
    session: Session,
    *,
    farmer_id: int | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    offset: int,
    limit: int,
) -> tuple[list[FarmField], int]:
    """A page of fields, optionally of one farmer or touching a lon/lat box."""
    stmt = select(FarmField).order_by(FarmField.code)
    if farmer_id is not None:
        stmt = stmt.where(FarmField.farmer_id == farmer_id)
    if bbox is not None:
        stmt = stmt.where(*bbox_clause(FarmField, bbox))
    return page(session, stmt, offset=offset, limit=limit)


def bbox_clause(model, bbox: tuple[float, float, float, float]) -> list:
    """SQL conditions for rows of ``model`` whose bbox touches ``bbox``."""
    minx, miny, maxx, maxy = bbox
    return [
        model.min_lon <= maxx,
        model.max_lon >= minx,
        model.min_lat <= maxy,
        model.max_lat >= miny,
    ]


def ensure_owner(field: FarmField, user: User | None) -> None:
    """Raise ``Forbidden`` unless ``user`` may write ``field``'s diary (see ``access``)."""
    access.ensure_writes_diary(user, field)


# ---------------------------------------------------------------- seasons


def create_season(session: Session, *, data: SeasonCreate, user: User | None = None) -> Season:
    """Start a crop season on a field."""
    field = get_field(session, code=data.field_code)
    access.ensure_manages_field(session, user, field)
    for later in ("ended_on", "planned_harvest_on"):
        day = getattr(data, later)
        if day and day < data.sown_on:
            raise InvalidInput(f"{later} is before sown_on")
    season = Season(field_id=field.id, **data.model_dump(exclude={"field_code"}))
    session.add(season)
    session.commit()
    session.refresh(season)
    return season


def season_public(season: Season, field_code: str) -> SeasonPublic:
    """The API shape of a season."""
    return SeasonPublic(
        field_code=field_code, **season.model_dump(exclude={"field_id", "created_at"})
    )


def get_season(session: Session, *, season_id: int) -> tuple[Season, str]:
    """The season with this id and its field's code."""
    season = get_by(session, Season, "season", id=season_id)
    return season, session.get(FarmField, season.field_id).code


def plan_harvest(
    session: Session, *, season_id: int, day: date | None, user: User | None = None
) -> tuple[Season, str]:
    """Set (or, with None, clear) the day a season's harvest is planned for, as the field's
    farmer, their cooperative or an admin; the season and its field's code."""
    season, code = get_season(session, season_id=season_id)
    access.ensure_manages_field(session, user, session.get(FarmField, season.field_id))
    if day is not None and day < season.sown_on:
        raise InvalidInput(
            f"planned_harvest_on {day.isoformat()} is before the season was sown "
            f"({season.sown_on.isoformat()})"
        )
    season.planned_harvest_on = day
    session.add(season)
    session.commit()
    session.refresh(season)
    return season, code


def state_pre_season(
    session: Session, *, season_id: int, state: str | None, user: User | None = None
) -> tuple[Season, str]:
    """Set (or, with None, clear) the field's water before the season's sowing as the
    farmer states it (``PreSeasonWater``), as the field's farmer, their cooperative or an
    admin; the season and its field's code."""
    season, code = get_season(session, season_id=season_id)
    access.ensure_manages_field(session, user, session.get(FarmField, season.field_id))
    season.pre_season_water = state
    session.add(season)
    session.commit()
    session.refresh(season)
    return season, code


def list_seasons(
    session: Session,
    *,
    field_code: str | None = None,
    crop: str | None = None,
    offset: int,
    limit: int,
) -> tuple[list[tuple[Season, str]], int]:
    """A page of seasons with their field codes, optionally of one field or crop."""
    stmt = select(Season, FarmField.code).join(FarmField).order_by(Season.id)
    if field_code:
        stmt = stmt.where(FarmField.code == field_code)
    if crop:
        stmt = stmt.where(Season.crop == crop)
    return page(session, stmt, offset=offset, limit=limit)


def first_sown(session: Session, *, field_id: int) -> date | None:
    """The day the field's first recorded season was sown, if it has one."""
    return session.exec(select(func.min(Season.sown_on)).where(Season.field_id == field_id)).one()


def season_on(session: Session, *, field_id: int, day: date) -> Season | None:
    """The field's season under way on ``day``: the latest sown by then and not ended before."""
    return session.exec(
        select(Season)
        .where(
            Season.field_id == field_id,
            Season.sown_on <= day,
            or_(Season.ended_on.is_(None), Season.ended_on >= day),
        )
        .order_by(Season.sown_on.desc(), Season.id.desc())
    ).first()
