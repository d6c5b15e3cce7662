"""Reading missions: one mission, a page of them, and the as-applied map, as the API shows them."""

from datetime import datetime
from typing import Any

import shapely
from sqlalchemy import exists, func, select
from sqlmodel import Session

from traceability.errors import NotFound
from traceability.models import (
    FarmField,
    Mission,
    MissionField,
    MissionFieldPublic,
    MissionPublic,
    MissionsPublic,
    MissionStatus,
    NoSprayZone,
    TelemetryPoint,
)
from traceability.services.missions.result import geojson


def _get(session: Session, mission_id: str) -> Mission:
    mission = session.execute(
        select(Mission).where(Mission.mission_id == mission_id)
    ).scalar_one_or_none()
    if mission is None:
        raise NotFound(f"mission '{mission_id}' does not exist")
    return mission


def _field_results(session: Session, pks: list[int]) -> dict[int, list[MissionFieldPublic]]:
    out: dict[int, list[MissionFieldPublic]] = {pk: [] for pk in pks}
    if not pks:
        return out
    rows = session.execute(
        select(MissionField, FarmField.code)
        .join(FarmField, FarmField.id == MissionField.field_id)
        .where(MissionField.mission_pk.in_(pks))
        .order_by(FarmField.code)
    ).all()
    for mf, code in rows:
        out[mf.mission_pk].append(
            MissionFieldPublic(
                field_code=code,
                treated_area_ha=mf.treated_area_ha,
                coverage_pct=mf.coverage_pct,
                applied_amount=mf.applied_amount,
                dose_per_ha=mf.dose_per_ha,
                product_amount=mf.product_amount,
                product_dose_per_ha=mf.product_dose_per_ha,
            )
        )
    return out


def _public(mission: Mission, fields: list[MissionFieldPublic]) -> MissionPublic:
    return MissionPublic(
        mission_id=mission.mission_id,
        drone_id=mission.drone_code,
        type=mission.type,
        product_code=mission.product_code,
        status=mission.status,
        source=mission.source,
        sprayer_state_unknown=mission.sprayer_state_unknown,
        started_at=mission.started_at,
        ended_at=mission.ended_at,
        first_fix_at=mission.first_fix_at,
        last_fix_at=mission.last_fix_at,
        point_count=mission.point_count,
        applied_amount=mission.applied_amount,
        amount_unit=mission.amount_unit,
        product_amount=mission.product_amount,
        product_unit=mission.product_unit,
        product_per_unit=mission.product_per_unit,
        treated_area_ha=mission.treated_area_ha,
        overspray_area_ha=mission.overspray_area_ha,
        overlap_area_ha=mission.overlap_area_ha,
        nospray_area_ha=mission.nospray_area_ha,
        sprayed_area_ha=mission.sprayed_area_ha,
        reported_area_ha=mission.reported_area_ha,
        reported_amount=mission.reported_amount,
        operator_id=mission.operator_id,
        planned_field_codes=list(mission.planned_field_codes or []),
        fields=fields,
        zones=list(mission.zones or []),
        flags=list(mission.flags or []),
        measured_at=mission.measured_at,
    )


def get_mission(session: Session, *, mission_id: str) -> MissionPublic:
    """A mission and its measured result."""
    mission = _get(session, mission_id)
    return _public(mission, _field_results(session, [mission.id])[mission.id])


def list_missions(
    session: Session,
    *,
    drone: str | None = None,
    status: MissionStatus | None = None,
    field_code: str | None = None,
    since: datetime | None = None,
    only: Any = None,
    offset: int = 0,
    limit: int = 50,
) -> MissionsPublic:
    """A page of missions, newest first; ``only`` is a further SQL condition (who may see)."""
    where = [] if only is None else [only]
    if drone:
        where.append(Mission.drone_code == drone)
    if status:
        where.append(Mission.status == MissionStatus(status).value)
    if since:
        where.append(Mission.started_at >= since)
    if field_code:
        where.append(
            exists()
            .where(MissionField.mission_pk == Mission.id)
            .where(MissionField.field_id == FarmField.id)
            .where(FarmField.code == field_code)
        )
    total = session.execute(select(func.count()).select_from(Mission).where(*where)).scalar_one()
    missions = list(
        session.execute(
            select(Mission)
            .where(*where)
            .order_by(Mission.started_at.desc(), Mission.id.desc())
            .offset(offset)
            .limit(limit)
        ).scalars()
    )
    results = _field_results(session, [m.id for m in missions])
    return MissionsPublic(data=[_public(m, results[m.id]) for m in missions], count=total)


def mission_geojson(session: Session, *, mission_id: str) -> dict[str, Any]:
    """The as-applied map: footprint, flight track, each treated field and each zone hit."""
    mission = _get(session, mission_id)
    public = _public(mission, _field_results(session, [mission.id])[mission.id])
    summary = public.model_dump(mode="json", exclude={"fields", "zones", "flags"})
    features: list[dict[str, Any]] = []
    if mission.footprint:
        features.append(
            {
                "type": "Feature",
                "id": f"{mission_id}/footprint",
                "geometry": mission.footprint,
                "properties": {"kind": "footprint", **summary},
            }
        )
    t = TelemetryPoint.__table__.c
    track = session.execute(
        select(t.lon, t.lat).where(t.mission_id == mission_id).order_by(t.ts, t.seq)
    ).all()
    if len(track) >= 2:
        line = shapely.simplify(shapely.linestrings([(lon, lat) for lon, lat in track]), 1e-6)
        features.append(
            {
                "type": "Feature",
                "id": f"{mission_id}/track",
                "geometry": geojson(line),
                "properties": {"kind": "track", "points": len(track)},
            }
        )
    by_code = {f.field_code: f for f in public.fields}
    if by_code:
        for code, geometry in session.execute(
            select(FarmField.code, FarmField.geometry).where(FarmField.code.in_(sorted(by_code)))
        ).all():
            features.append(
                {
                    "type": "Feature",
                    "id": f"field/{code}",
                    "geometry": geometry,
                    "properties": {"kind": "field", **by_code[code].model_dump(mode="json")},
                }
            )
    hits = {z["zone_code"]: z for z in public.zones}
    if hits:
        for code, geometry in session.execute(
            select(NoSprayZone.code, NoSprayZone.geometry).where(NoSprayZone.code.in_(sorted(hits)))
        ).all():
            features.append(
                {
                    "type": "Feature",
                    "id": f"zone/{code}",
                    "geometry": geometry,
                    "properties": {"kind": "nospray_zone", **hits[code]},
                }
            )
    return {
        "type": "FeatureCollection",
        "mission_id": mission_id,
        "flags": public.flags,
        "features": features,
    }
