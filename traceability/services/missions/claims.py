"""Fields a mission's plan names but its fixes never came near: the position disagrees.

A drone announces the fields it is about to treat (``planned_field_codes``). When every
one of its fixes lies more than ``FAR_M`` metres from such a field — a GNSS fault, a
wrong plan, or a mission flown somewhere else — it treated nothing there, and the
field's trace would silently not count it. Each such field is kept as a *claim*
(:class:`~traceability.models.MissionClaim`) with the distance, measured in the field's
own UTM zone, so the trace can name it.
"""

import numpy as np
import shapely
from shapely.geometry import shape
from sqlalchemy import delete, insert, select
from sqlmodel import Session

from traceability import geo
from traceability.geo.projection import transformer
from traceability.models import FarmField, Mission, MissionClaim
from traceability.services.missions.flags import FarFromField

FAR_M = 1000.0


def nearest_fix_m(lon: np.ndarray, lat: np.ndarray, field_geometry: dict) -> float:
    """The distance in metres from the nearest fix to the field (0 inside it), in the
    field's UTM zone."""
    polygon, epsg = geo.to_metres(shape(field_geometry))
    x, y = transformer(geo.WGS84_EPSG, epsg).transform(lon, lat)
    fixes = shapely.multipoints(np.column_stack((x, y)))
    return float(polygon.distance(fixes))


def far_from_plan(
    session: Session, *, mission: Mission, lon: np.ndarray, lat: np.ndarray
) -> tuple[list[dict], list[FarFromField]]:
    """The mission's planned fields that every fix lies far from: as claim rows, and as
    the mission's flags. Writes nothing."""
    codes = [c for c in (mission.planned_field_codes or []) if isinstance(c, str)]
    if not codes or len(lon) == 0:
        return [], []
    rows = session.execute(
        select(FarmField.id, FarmField.code, FarmField.geometry)
        .where(FarmField.code.in_(codes))
        .order_by(FarmField.code)
    ).all()
    far, flags = [], []
    for fid, code, geometry in rows:
        distance = nearest_fix_m(lon, lat, geometry)
        if distance > FAR_M:
            far.append({"mission_pk": mission.id, "field_id": fid, "distance_m": round(distance)})
            flags.append(FarFromField(field_code=code, distance_m=distance))
    return far, flags


def store_claims(session: Session, *, mission: Mission, rows: list[dict]) -> None:
    """Replace the mission's claims with ``rows`` (from :func:`far_from_plan`)."""
    session.execute(delete(MissionClaim).where(MissionClaim.mission_pk == mission.id))
    if rows:
        session.execute(insert(MissionClaim), rows)
