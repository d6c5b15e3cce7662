"""What the maps draw, read from the database: a mission's runs, fields and zones; a
field's season; hectares treated per commune.

The drawing itself is :mod:`traceability.maps` (pure). A mission's runs are measured
again from its stored points (the stored result keeps the footprint, not the runs, and
the overlap is where runs cross), with the same fields and zones the measure used.
"""

from typing import Any

from shapely.geometry import shape
from sqlalchemy import select
from sqlmodel import Session

from traceability.config import get_settings
from traceability.maps.mission import MissionShapes
from traceability.models import FarmField, Mission, MissionField, NoSprayZone, Unit
from traceability.services.common import LOCAL_TZ, get_by
from traceability.services.missions.measure import load_track, measure_track


def _subtitle(mission: Mission, lang: str) -> str:
    when = (
        mission.started_at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M")
        if mission.started_at
        else "?"
    )
    treated = mission.treated_area_ha or 0.0
    word = "treated" if lang == "en" else "đã phun"
    product = mission.product_code or "?"
    return f"{when} (+07:00) · {mission.drone_code} · {product} · {treated:.2f} ha {word}"


def _field_rows(session: Session, codes: list[str]) -> list[tuple[str, Any]]:
    if not codes:
        return []
    rows = session.execute(
        select(FarmField.code, FarmField.geometry)
        .where(FarmField.code.in_(codes))
        .order_by(FarmField.code)
    ).all()
    return [(code, shape(g)) for code, g in rows]


def _zone_rows(session: Session, codes: list[str]) -> list[tuple[str, Any, float]]:
    if not codes:
        return []
    rows = session.execute(
        select(NoSprayZone.code, NoSprayZone.geometry, NoSprayZone.buffer_m)
        .where(NoSprayZone.code.in_(codes))
        .order_by(NoSprayZone.code)
    ).all()
    return [(code, shape(g), float(buf or 0.0)) for code, g, buf in rows]


def _treated_codes(session: Session, mission: Mission) -> list[str]:
    return list(
        session.execute(
            select(FarmField.code)
            .join(MissionField, MissionField.field_id == FarmField.id)
            .where(MissionField.mission_pk == mission.id)
        ).scalars()
    )


def mission_shapes(session: Session, *, mission_id: str, lang: str = "vi") -> MissionShapes:
    """The fields near a mission, its sprayed runs and the no-spray zones it was measured
    against (``NotFound`` if there is no such mission)."""
    mission = get_by(session, Mission, "mission", mission_id=mission_id)
    unit = Unit(mission.amount_unit) if mission.amount_unit else Unit.L
    track = load_track(session, mission=mission, unit=unit)
    subtitle = _subtitle(mission, lang)
    if track is None:
        fields = _field_rows(session, _treated_codes(session, mission))
        zones = _zone_rows(session, [z["zone_code"] for z in mission.zones or []])
        return MissionShapes(mission_id, subtitle, fields, (), zones)
    measured = measure_track(
        session, track=track, unit=unit, per_unit=None, settings=get_settings()
    )
    fields = _field_rows(session, sorted(measured.field_codes.values()))
    zone_codes = [z.zone_code for z in measured.zones]
    near = _zone_rows(session, sorted(set(zone_codes) | _zones_in_view(session, fields)))
    return MissionShapes(mission_id, subtitle, fields, tuple(measured.app.runs_wgs84), near)


def _zones_in_view(session: Session, fields: list[tuple[str, Any]]) -> set[str]:
    """Zones whose box meets the fields' box: drawn even when the spray kept clear."""
    if not fields:
        return set()
    minx = min(g.bounds[0] for _, g in fields)
    miny = min(g.bounds[1] for _, g in fields)
    maxx = max(g.bounds[2] for _, g in fields)
    maxy = max(g.bounds[3] for _, g in fields)
    return set(
        session.execute(
            select(NoSprayZone.code).where(
                NoSprayZone.min_lon <= maxx,
                NoSprayZone.max_lon >= minx,
                NoSprayZone.min_lat <= maxy,
                NoSprayZone.max_lat >= miny,
            )
        ).scalars()
    )
