"""Measuring missions, their flags, the as-applied map, and the drone's lines in the diaries.

A mission is measured when it is complete and ``dirty`` (its end event arrived, or late
points came after it), never per message. Measuring is idempotent: it recomputes
everything from the stored points and replaces the previous result.

Diary entries: a completed mission writes one entry per treated field, through
:func:`traceability.services.diary.append_entry` with ``source="drone"``. When late points
change the result, the diary is never written twice: the field's current drone entry for
the mission is *corrected* by a new entry that names it (or withdrawn, if the field turns
out not to have been treated); an unchanged result writes nothing. Each entry carries a
``client_id`` derived from (mission, field, entry corrected), so even two ingesters
measuring the same mission at once cannot record the same line twice.
"""

import hashlib
import logging
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import shapely
from shapely.geometry import mapping, shape
from sqlalchemy import delete, exists, func, select, update
from sqlmodel import Session

from traceability import geo
from traceability.config import get_settings
from traceability.errors import AgritraceError, InvalidInput, NotFound
from traceability.models import (
    Activity,
    DiaryEntry,
    DiaryEntryCreate,
    Drone,
    FarmField,
    InputKind,
    InputProduct,
    Mission,
    MissionField,
    MissionFieldPublic,
    MissionPublic,
    MissionsPublic,
    MissionStatus,
    MissionType,
    NoSprayZone,
    TelemetryPoint,
    Unit,
    utcnow,
)
from traceability.services import applications, diary
from traceability.services.fields import bbox_clause

log = logging.getLogger(__name__)

_ACTIVITY = {
    MissionType.spray: Activity.spray,
    MissionType.fertilize: Activity.fertilize,
    MissionType.seed: Activity.seed,
}


def _r(value: float | None, nd: int = 6) -> float | None:
    return None if value is None else round(float(value), nd)


def _round_coords(coords: Any) -> Any:
    if isinstance(coords, int | float):
        return round(float(coords), 7)
    return [_round_coords(c) for c in coords]


def _geojson(geom) -> dict | None:
    if geom is None or geom.is_empty:
        return None
    g = mapping(geom)
    return {"type": g["type"], "coordinates": _round_coords(g["coordinates"])}


def amount_unit(mission: Mission, product: InputProduct | None) -> Unit:
    """L or kg of what leaves the drone: a spray is a liquid (``flow_lpm``), granules
    and seed are spread by weight (``flow_kgpm``) — whatever unit the product is sold in."""
    if mission.type == MissionType.spray:
        return Unit.L
    if mission.type in (MissionType.fertilize, MissionType.seed):
        return Unit.kg
    if product is not None and product.kind != InputKind.pesticide:
        return Unit(product.unit)
    return Unit.L


def product_factor(mission: Mission, product: InputProduct | None, unit: Unit) -> float | None:
    """Product units per unit of what left the drone, or None when it is not known.

    A spray goes out as a tank mix, so only the start event's ``tank_mix`` tells how much
    product a litre holds; granules and seed spread dry are the product itself.
    """
    if product is None:
        return None
    if mission.product_per_unit:
        return mission.product_per_unit
    if mission.type != MissionType.spray and Unit(product.unit) == unit:
        return 1.0
    return None


def _pct_off(reported: float, measured: float) -> float:
    if measured <= 0.0:
        return float("inf") if reported > 0.0 else 0.0
    return 100.0 * abs(reported - measured) / measured


# ---------------------------------------------------------------- measuring


def measure_mission(session: Session, *, mission: Mission) -> Mission:
    """Measure ``mission`` from its stored points and store the result (no commit).

    Candidate fields and zones are picked by bounding box in SQL, so the cost depends on
    the fields near the flight, not on how many the province has.
    """
    settings = get_settings()
    product = session.get(InputProduct, mission.product_id) if mission.product_id else None
    if product is None and mission.product_code:
        product = session.execute(
            select(InputProduct).where(InputProduct.code == mission.product_code)
        ).scalar_one_or_none()
    drone = session.execute(
        select(Drone).where(Drone.code == mission.drone_code)
    ).scalar_one_or_none()
    unit = amount_unit(mission, product)
    factor = product_factor(mission, product, unit)

    t = TelemetryPoint.__table__.c
    rate_col = t.flow_lpm if unit is Unit.L else t.flow_kgpm
    rows = session.execute(
        select(t.ts, t.lon, t.lat, t.spraying, rate_col, t.swath_m)
        .where(t.mission_id == mission.mission_id)
        .order_by(t.ts, t.seq)
    ).all()

    session.execute(delete(MissionField).where(MissionField.mission_pk == mission.id))
    mission.amount_unit = unit
    mission.product_unit = Unit(product.unit) if product else None
    mission.measured_at = utcnow()
    flags: list[dict[str, Any]] = []
    if mission.end_reason == "idle":
        flags.append(
            {
                "code": "no_end_event",
                "message": "no end event came: the mission was completed at its last fix "
                f"after {settings.mission_idle_close_s:g} s without new points",
            }
        )
    if mission.product_code and product is None:
        flags.append(
            {
                "code": "unknown_product",
                "product_code": mission.product_code,
                "message": f"product '{mission.product_code}' is not in the input catalogue",
            }
        )
    elif not mission.product_code and mission.type is None:
        flags.append(
            {
                "code": "unknown_product",
                "product_code": None,
                "message": "no start event: the product is not known",
            }
        )

    if not rows:
        mission.applied_amount = 0.0
        mission.product_amount = 0.0 if factor is not None else None
        mission.sprayed_area_ha = mission.treated_area_ha = mission.overspray_area_ha = 0.0
        mission.overlap_area_ha = mission.nospray_area_ha = 0.0
        mission.zones, mission.footprint = [], None
        mission.flags = flags
        return mission

    n = len(rows)
    ts = np.fromiter((r[0].timestamp() for r in rows), float, n)
    lon = np.fromiter((r[1] for r in rows), float, n)
    lat = np.fromiter((r[2] for r in rows), float, n)
    spraying = np.fromiter((bool(r[3]) for r in rows), bool, n)
    rate = np.fromiter((np.nan if r[4] is None else r[4] for r in rows), float, n)
    default_swath = mission.swath_m or (drone.swath_m if drone else None)
    swath = np.fromiter(
        (r[5] if r[5] is not None else (default_swath or np.nan) for r in rows), float, n
    )
    max_swath = float(np.nanmax(swath)) if np.isfinite(swath).any() else 0.0

    box = geo.bbox_wgs84(lon, lat, margin_m=max_swath / 2.0 + 1.0)
    field_rows = session.execute(
        select(FarmField.id, FarmField.code, FarmField.geometry).where(*bbox_clause(FarmField, box))
    ).all()
    max_buffer = session.execute(
        select(NoSprayZone.buffer_m).order_by(NoSprayZone.buffer_m.desc()).limit(1)
    ).scalar()
    zone_rows = []
    if max_buffer is not None:
        zbox = geo.bbox_wgs84(lon, lat, margin_m=max_swath / 2.0 + float(max_buffer) + 1.0)
        zone_rows = session.execute(
            select(
                NoSprayZone.code,
                NoSprayZone.kind,
                NoSprayZone.name,
                NoSprayZone.geometry,
                NoSprayZone.buffer_m,
            ).where(*bbox_clause(NoSprayZone, zbox))
        ).all()

    app = geo.measure_application(
        lon=lon,
        lat=lat,
        t=ts,
        spraying=spraying,
        rate=rate,
        swath_m=swath,
        fields=[(fid, shape(g)) for fid, _, g in field_rows],
        zones=[(code, shape(g), buf) for code, _, _, g, buf in zone_rows],
        max_gap_s=settings.max_gap_s,
    )

    code_of = {fid: code for fid, code, _ in field_rows}
    max_dose = product.max_dose_per_ha if product else None
    for fa in app.fields:
        product_dose = fa.dose_per_ha * factor if factor and fa.dose_per_ha is not None else None
        session.add(
            MissionField(
                mission_pk=mission.id,
                field_id=fa.key,
                treated_area_ha=_r(fa.treated_area_ha),
                coverage_pct=_r(fa.coverage_pct, 4),
                applied_amount=_r(fa.applied_amount),
                dose_per_ha=_r(fa.dose_per_ha),
                product_amount=_r(fa.applied_amount * factor) if factor else None,
                product_dose_per_ha=_r(product_dose),
            )
        )
        if max_dose is not None and product_dose is not None and product_dose > max_dose:
            flags.append(
                {
                    "code": "dose_above_max",
                    "field_code": code_of[fa.key],
                    "dose_per_ha": _r(product_dose, 4),
                    "max_dose_per_ha": max_dose,
                    "message": f"{product_dose:.3g} {product.unit}/ha of {product.code} on "
                    f"{code_of[fa.key]} is above the {max_dose:g} {product.unit}/ha allowed",
                }
            )
    if max_dose is not None and factor is None and app.fields:
        flags.append(
            {
                "code": "product_dose_unknown",
                "message": f"the start event gave no tank_mix: {app.applied_amount:.3g} {unit} "
                f"of spray left the drone, but how much {product.code} it held, and so its "
                f"dose against the {max_dose:g} {product.unit}/ha allowed, is not known",
            }
        )
    zone_info = {code: (kind, name, buf) for code, kind, name, _, buf in zone_rows}
    zones = []
    for hit in app.zones:
        kind, name, buf = zone_info[hit.key]
        zone = {
            "zone_code": hit.key,
            "kind": kind,
            "name": name,
            "buffer_m": buf,
            "area_ha": _r(hit.area_ha),
            "amount": _r(hit.amount),
        }
        zones.append(zone)
        if hit.area_m2 < settings.nospray_flag_min_m2:
            continue  # GNSS noise at the swath's edge; still listed in ``zones``
        flags.append(
            {
                "code": "nospray_zone",
                **zone,
                "message": f"sprayed {hit.area_m2:,.1f} m² inside {kind} {hit.key} "
                f"(within its {buf:g} m buffer)",
            }
        )

    sprayed = app.sprayed_area_ha
    if sprayed > 0 and 100.0 * app.overspray_area_ha / sprayed > settings.overspray_flag_pct:
        pct = 100.0 * app.overspray_area_ha / sprayed
        flags.append(
            {
                "code": "overspray",
                "overspray_area_ha": _r(app.overspray_area_ha),
                "overspray_pct": _r(pct, 2),
                "amount_outside_fields": _r(app.amount_outside_fields),
                "message": f"{pct:.1f} % of the sprayed area is outside every registered field "
                f"(threshold {settings.overspray_flag_pct:g} %)",
            }
        )
    if app.applied_amount > 0 and not app.fields:
        flags.append({"code": "no_fields", "message": "nothing fell on a registered field"})
    if app.skipped_stretches:
        flags.append(
            {
                "code": "gaps",
                "skipped_stretches": app.skipped_stretches,
                "message": f"{app.skipped_stretches} applicator-on stretch(es) were not counted: "
                f"gaps over {settings.max_gap_s:g} s or impossible jumps between fixes",
            }
        )
    if mission.reported_area_ha is not None:
        off = _pct_off(mission.reported_area_ha, sprayed)
        if off > settings.reported_mismatch_pct:
            flags.append(
                {
                    "code": "reported_area_mismatch",
                    "reported_area_ha": mission.reported_area_ha,
                    "measured_area_ha": _r(sprayed),
                    "message": f"the drone reported {mission.reported_area_ha:g} ha, "
                    f"{sprayed:.3f} ha were measured",
                }
            )
    if mission.reported_amount is not None:
        off = _pct_off(mission.reported_amount, app.applied_amount)
        if off > settings.reported_mismatch_pct:
            flags.append(
                {
                    "code": "reported_amount_mismatch",
                    "reported_amount": mission.reported_amount,
                    "measured_amount": _r(app.applied_amount),
                    "message": f"the drone reported {mission.reported_amount:g} {unit}, "
                    f"{app.applied_amount:.3f} {unit} were measured from the flow",
                }
            )

    mission.applied_amount = _r(app.applied_amount)
    mission.product_amount = _r(app.applied_amount * factor) if factor is not None else None
    mission.sprayed_area_ha = _r(sprayed)
    mission.treated_area_ha = _r(app.treated_area_ha)
    mission.overspray_area_ha = _r(app.overspray_area_ha)
    mission.overlap_area_ha = _r(app.overlap_area_ha)
    mission.nospray_area_ha = _r(sum(h.area_ha for h in app.zones))
    mission.zones = zones
    mission.flags = flags
    mission.footprint = _geojson(app.footprint_wgs84)
    if mission.status is MissionStatus.complete:
        _write_diary(
            session,
            mission=mission,
            product=product,
            unit=unit,
            factor=factor,
            results=app.fields,
            code_of=code_of,
        )
    return mission


def _client_id(mission_id: str, field_code: str, corrects: int | None) -> str:
    digest = hashlib.sha256(f"{mission_id}\x00{field_code}\x00{corrects}".encode()).hexdigest()
    return f"drone-{digest[:40]}"


def _write_diary(
    session: Session,
    *,
    mission: Mission,
    product: InputProduct | None,
    unit: Unit,
    factor: float | None,
    results: list,
    code_of: dict[int, str],
) -> None:
    """Bring the treated fields' diaries in line with the measured result (see module doc)."""
    # The newest line of each field's correction chain (a withdrawal included).
    current = {
        e.field_id: e
        for e in session.execute(
            select(DiaryEntry).where(
                DiaryEntry.mission_id == mission.mission_id,
                DiaryEntry.source == "drone",
                ~applications.replaced(),
            )
        ).scalars()
    }
    activity = _ACTIVITY.get(mission.type, Activity.spray)
    when = mission.started_at or mission.ended_at or utcnow()
    wanted = {}
    for fa in results:
        # The diary records the product in its own unit; litres of tank mix go in the note.
        quantity = round(fa.applied_amount * factor, 4) if factor is not None else None
        area = round(fa.treated_area_ha, 4)
        if fa.applied_amount <= 0 and area <= 0:
            continue
        wanted[fa.key] = (quantity, area, fa)
    missing_codes = {e.field_id for e in current.values() if e.field_id not in code_of}
    if missing_codes:
        code_of = {
            **code_of,
            **dict(
                session.execute(
                    select(FarmField.id, FarmField.code).where(FarmField.id.in_(missing_codes))
                ).all()
            ),
        }

    for field_id in sorted(set(wanted) | set(current)):
        cur = current.get(field_id)
        field_code = code_of[field_id]
        if field_id not in wanted:
            if cur is not None and not cur.retracts:
                _append(
                    session,
                    DiaryEntryCreate(
                        field_code=field_code,
                        occurred_at=cur.occurred_at,
                        activity=cur.activity,
                        note=f"withdrawn: re-measured drone mission {mission.mission_id} "
                        "no longer covers this field",
                        corrects=cur.id,
                        retracts=True,
                        client_id=_client_id(mission.mission_id, field_code, cur.id),
                    ),
                    mission,
                )
            continue
        quantity, area, fa = wanted[field_id]
        if (
            cur is not None
            and not cur.retracts
            and cur.quantity == quantity
            and cur.area_ha == area
        ):
            continue  # re-measured to the same result: nothing to write
        what = product.code if product else (mission.product_code or "unknown product")
        left = f"{fa.applied_amount:.4g} {unit}"
        if quantity is not None and product is not None:
            dose = f", {quantity / area:.3g} {product.unit}/ha" if area > 0 else ""
            amount = f"{quantity:g} {product.unit} of {what}"
            if factor != 1.0:
                amount += f" in {left} of tank mix"
        else:
            dose = f", {fa.dose_per_ha:.3g} {unit}/ha" if fa.dose_per_ha else ""
            amount = f"{left} of {what}" + (" (tank mix not reported)" if product else "")
        note = (
            f"drone {mission.drone_code}, mission {mission.mission_id}: {amount} "
            f"on {area:g} ha ({fa.coverage_pct:.1f} % of the field{dose})"
        )
        if cur is not None:
            note = f"re-measured after late telemetry (corrects entry {cur.id}); " + note
        data = dict(
            field_code=field_code,
            occurred_at=when,
            activity=activity,
            input_code=product.code if product else None,
            quantity=quantity,
            unit=Unit(product.unit) if product and quantity is not None else None,
            area_ha=area if area > 0 else None,
            note=note[:2000],
            corrects=cur.id if cur is not None else None,
            client_id=_client_id(
                mission.mission_id, field_code, cur.id if cur is not None else None
            ),
        )
        try:
            _append(session, DiaryEntryCreate(**data), mission)
        except InvalidInput:
            # A product that does not fit the activity (e.g. seed in a spray mission) must
            # not keep the work out of the diary: record it without the product link.
            data["input_code"] = None
            _append(session, DiaryEntryCreate(**data), mission)


def _append(session: Session, data: DiaryEntryCreate, mission: Mission) -> None:
    try:
        diary.append_entry(
            session, data=data, source="drone", mission_id=mission.mission_id, commit=False
        )
    except InvalidInput:
        raise
    except AgritraceError as exc:
        # The same line was already written (by another ingester): the client_id guards it.
        log.warning("diary entry for mission %s not written: %s", mission.mission_id, exc)


def close_idle(session: Session, *, idle_s: float, now: datetime | None = None) -> list[str]:
    """Complete open missions that have had no new point for ``idle_s`` seconds.

    Their end is their last fix; the measurement flags ``no_end_event``. An end event
    that arrives later still completes the mission as usual and clears the flag.
    """
    cutoff = (now or utcnow()) - timedelta(seconds=idle_s)
    last_fix = (
        select(func.max(TelemetryPoint.ts))
        .where(TelemetryPoint.mission_id == Mission.mission_id)
        .scalar_subquery()
    )
    idle = list(
        session.execute(
            select(Mission.mission_id).where(
                Mission.status == MissionStatus.open.value,
                Mission.last_point_at.is_not(None),
                Mission.last_point_at < cutoff,
            )
        ).scalars()
    )
    if idle:
        session.execute(
            update(Mission)
            .where(Mission.mission_id.in_(idle), Mission.status == MissionStatus.open.value)
            .values(
                status=MissionStatus.complete.value,
                end_reason="idle",
                ended_at=last_fix,
                dirty=True,
            )
        )
    session.commit()
    return idle


def measure_dirty(
    session: Session,
    *,
    mission_ids: list[str] | None = None,
    limit: int = 100,
    include_open: bool = False,
) -> list[str]:
    """Measure complete missions marked dirty (or only ``mission_ids``); returns those measured.

    Each mission is claimed by flipping ``dirty`` off in its own transaction, so another
    ingester measuring at the same time skips it; points arriving meanwhile mark it dirty
    again and it is measured once more on the next pass.
    """
    stmt = select(Mission.id).where(Mission.dirty.is_(True))
    if not include_open:
        stmt = stmt.where(Mission.status == MissionStatus.complete.value)
    if mission_ids is not None:
        if not mission_ids:
            return []
        stmt = stmt.where(Mission.mission_id.in_(sorted(mission_ids)))
    pks = list(session.execute(stmt.order_by(Mission.id).limit(limit)).scalars())
    session.rollback()
    done = []
    for pk in pks:
        claimed = session.execute(
            update(Mission).where(Mission.id == pk, Mission.dirty.is_(True)).values(dirty=False)
        ).rowcount
        if not claimed:
            session.rollback()
            continue
        mission = session.get(Mission, pk)
        try:
            measure_mission(session, mission=mission)
            session.commit()
            done.append(mission.mission_id)
        except Exception as exc:
            # A mission that cannot be measured must not stop the others, nor be retried
            # forever: keep the reason on the mission, where an operator will see it.
            log.exception("measuring mission %s failed", pk)
            session.rollback()
            session.execute(
                update(Mission)
                .where(Mission.id == pk)
                .values(
                    dirty=False,
                    measured_at=utcnow(),
                    flags=[
                        {"code": "measure_failed", "message": f"{type(exc).__name__}: {exc}"[:500]}
                    ],
                )
            )
            session.commit()
    return done


# ---------------------------------------------------------------- reading


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
        started_at=mission.started_at,
        ended_at=mission.ended_at,
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
                "geometry": _geojson(line),
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
