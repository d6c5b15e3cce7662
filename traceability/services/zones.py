"""No-spray zones: canals, shrimp ponds, houses, each with a buffer distance to keep.

Zones come in and go out as GeoJSON Features (WGS84). A polygon is checked like a field;
a line (a canal's centre line) or a point (a well, a house) is accepted when it has a
buffer, since only the buffer gives it an area a drone can spray into.
"""

import math
from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError
from shapely.geometry import mapping, shape
from sqlmodel import Session, select

from traceability import geo
from traceability.errors import Conflict, InvalidGeometry, InvalidInput
from traceability.models import NoSprayZone, ZoneCreate, ZonePublic
from traceability.services.common import add_all_new, get_by, page
from traceability.services.fields import bbox_clause

_LINEAR = ("Point", "MultiPoint", "LineString", "MultiLineString")
# A zone polygon may be a whole lagoon; far larger is a coordinate or unit mistake.
MAX_ZONE_AREA_HA = 100_000.0


def _round(coords: Any) -> Any:
    if isinstance(coords, int | float):
        return round(float(coords), 7)
    return [_round(c) for c in coords]


def _check_positions(coords: Any, where: str) -> None:
    if isinstance(coords, list | tuple) and coords and isinstance(coords[0], int | float):
        if len(coords) < 2 or any(
            isinstance(v, bool) or not isinstance(v, int | float) for v in coords[:2]
        ):
            raise InvalidGeometry(f"{where}: position {coords!r} is not [lon, lat]")
        lon, lat = coords[0], coords[1]
        if not (
            math.isfinite(lon) and math.isfinite(lat) and -180 <= lon <= 180 and -90 <= lat <= 90
        ):
            raise InvalidGeometry(
                f"{where}: position {coords!r} is outside lon [-180, 180] / lat [-90, 90]"
            )
        return
    if not isinstance(coords, list | tuple) or not coords:
        raise InvalidGeometry(f"{where}: coordinates are empty or malformed")
    for c in coords:
        _check_positions(c, where)


def build_zone(*, feature: ZoneCreate) -> NoSprayZone:
    """A zone row from a validated Feature: geometry checked, bbox computed."""
    props = feature.properties
    gtype = feature.geometry.get("type")
    if gtype in ("Polygon", "MultiPolygon"):
        geom = geo.parse_polygon(feature.geometry, max_area_ha=MAX_ZONE_AREA_HA)
    elif gtype in _LINEAR:
        if props.buffer_m <= 0:
            raise InvalidGeometry(f"a {gtype} zone needs buffer_m > 0 to cover any area")
        _check_positions(feature.geometry.get("coordinates"), gtype)
        try:
            geom = shape(feature.geometry)
        except Exception as exc:  # shapely raises several types for malformed input
            raise InvalidGeometry(f"invalid {gtype}: {exc}") from exc
        if geom.is_empty:
            raise InvalidGeometry(f"{gtype} is empty")
    else:
        raise InvalidGeometry(
            f"a zone must be a Polygon, MultiPolygon, LineString or Point, got {gtype!r}"
        )
    geometry = mapping(geom)
    minx, miny, maxx, maxy = geom.bounds
    return NoSprayZone(
        code=props.code,
        kind=props.kind,
        name=props.name,
        buffer_m=float(props.buffer_m),
        geometry={"type": geometry["type"], "coordinates": _round(geometry["coordinates"])},
        min_lon=minx,
        min_lat=miny,
        max_lon=maxx,
        max_lat=maxy,
    )


def _build_all(features: Iterable[Any]) -> list[NoSprayZone]:
    rows = []
    for i, raw in enumerate(features):
        label = f"feature {i}"
        try:
            if not isinstance(raw, dict):
                raise InvalidInput("a feature must be a JSON object")
            label = f"feature {i} ({(raw.get('properties') or {}).get('code', 'no code')})"
            rows.append(build_zone(feature=ZoneCreate.model_validate(raw)))
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"])
            raise InvalidInput(f"{label}: {where}: {err['msg']}") from exc
        except InvalidInput as exc:
            raise type(exc)(f"{label}: {exc}") from exc
    codes = [r.code for r in rows]
    dupes = sorted({c for c in codes if codes.count(c) > 1})
    if dupes:
        raise Conflict(f"zone code repeated in the import: {', '.join(dupes)}")
    return rows


def import_zones(session: Session, *, features: Iterable[Any]) -> list[NoSprayZone]:
    """Record many zones at once, all or nothing; an error names the feature."""
    return add_all_new(session, _build_all(features), label="zone")


def create_zone(session: Session, *, feature: ZoneCreate) -> NoSprayZone:
    """Record one zone."""
    return import_zones(session, features=[feature.model_dump()])[0]


def load_zones(session: Session, *, features: Iterable[Any]) -> int:
    """Add the zones whose code is not stored yet (fixtures); returns how many were added."""
    rows = _build_all(features)
    known = set(session.exec(select(NoSprayZone.code)).all())
    new = [r for r in rows if r.code not in known]
    session.add_all(new)
    session.commit()
    return len(new)


def zone_feature(zone: NoSprayZone) -> ZonePublic:
    """The GeoJSON Feature the API returns for a zone."""
    return ZonePublic(
        id=zone.code,
        geometry=zone.geometry,
        bbox=[zone.min_lon, zone.min_lat, zone.max_lon, zone.max_lat],
        properties={
            "id": zone.id,
            "code": zone.code,
            "kind": zone.kind,
            "name": zone.name,
            "buffer_m": zone.buffer_m,
        },
    )


def get_zone(session: Session, *, code: str) -> NoSprayZone:
    """The zone with this code."""
    return get_by(session, NoSprayZone, "no-spray zone", code=code)


def list_zones(
    session: Session,
    *,
    kind: str | None = None,
    bbox: tuple[float, float, float, float] | None = None,
    offset: int = 0,
    limit: int = 100,
) -> tuple[list[NoSprayZone], int]:
    """A page of zones, by code."""
    stmt = select(NoSprayZone).order_by(NoSprayZone.code)
    if kind:
        stmt = stmt.where(NoSprayZone.kind == kind)
    if bbox is not None:
        stmt = stmt.where(*bbox_clause(NoSprayZone, bbox))
    return page(session, stmt, offset=offset, limit=limit)
