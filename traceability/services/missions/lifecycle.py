"""A mission's life after its points: completed when idle, measured when dirty.

The ingester calls both on a timer; a flight log upload calls :func:`measure_dirty` for
the missions it touched.
"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, literal, select, update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlmodel import Session

from traceability.models import Mission, MissionStatus, TelemetryPoint, utcnow
from traceability.services.missions.flags import MeasureFailed
from traceability.services.missions.measure import (
    measure_mission,
    measure_points,
    store_measurement,
)

log = logging.getLogger(__name__)


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
    # 'open' written into the statement, so that the planner may read the open missions'
    # partial index (ix_missions_open) whatever plan it keeps for the statement.
    is_open = Mission.status == literal(MissionStatus.open.value, literal_execute=True)
    idle = list(
        session.execute(
            select(Mission.mission_id).where(
                is_open,
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


def dirty_flying(session: Session) -> list[str]:
    """The flying missions whose points changed since they were last previewed, oldest first."""
    found = session.execute(
        select(Mission.mission_id)
        .where(Mission.dirty.is_(True), Mission.status == MissionStatus.open.value)
        .order_by(Mission.id)
    ).scalars()
    out = list(found)
    session.rollback()
    return out


def measure_dirty(
    session: Session,
    *,
    mission_ids: list[str] | None = None,
    limit: int = 100,
    include_open: bool = False,
) -> list[str]:
    """Measure complete missions marked dirty (or only ``mission_ids``); returns those measured.

    With ``include_open``, the missions still flying too (a preview of their coverage).
    A complete mission is claimed by flipping ``dirty`` off in the transaction that
    measures it and stores the result, so another ingester measuring at the same time
    skips it. A flying mission is measured first, holding nothing: its points keep
    arriving, and the writer adding them must not wait for the measuring (see
    :func:`_preview`). Points arriving meanwhile mark it dirty again and it is measured
    once more on a later pass.
    """
    stmt = select(Mission.id, Mission.status).where(Mission.dirty.is_(True))
    if not include_open:
        stmt = stmt.where(Mission.status == MissionStatus.complete.value)
    if mission_ids is not None:
        if not mission_ids:
            return []
        stmt = stmt.where(Mission.mission_id.in_(sorted(mission_ids)))
    found = session.execute(stmt.order_by(Mission.id).limit(limit)).all()
    session.rollback()
    done = []
    for pk, status in found:
        try:
            if MissionStatus(status) is MissionStatus.open:
                measured = _preview(session, pk)
            else:
                measured = _measure_complete(session, pk)
        except (OperationalError, InterfaceError):
            # The database away or busy is no fault of the mission's: it stays dirty, and
            # the caller measures it later.
            session.rollback()
            raise
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
                    flags=[MeasureFailed.of(exc).to_json()],
                )
            )
            session.commit()
            continue
        if measured is not None:
            done.append(measured)
    return done


def _claim(session: Session, pk: int, *, status: MissionStatus) -> bool:
    """Flip a dirty mission of ``status`` clean, in the session's transaction; whether it was
    this caller's to measure (another ingester may have taken it, or it changed state)."""
    return bool(
        session.execute(
            update(Mission)
            .where(Mission.id == pk, Mission.dirty.is_(True), Mission.status == status.value)
            .values(dirty=False)
        ).rowcount
    )


def _measure_complete(session: Session, pk: int) -> str | None:
    """Claim, measure and store a complete mission in one transaction; its mission id."""
    if not _claim(session, pk, status=MissionStatus.complete):
        session.rollback()
        return None
    mission = session.get(Mission, pk)
    measure_mission(session, mission=mission)
    session.commit()
    return mission.mission_id


def _inputs(mission: Mission) -> tuple:
    """What a mission's measurement is made of, besides the fields and zones near it."""
    return (
        mission.point_count,
        mission.type,
        mission.product_id,
        mission.product_code,
        mission.product_per_unit,
        mission.swath_m,
        mission.planned_field_codes,
    )


def _preview(session: Session, pk: int) -> str | None:
    """Measure a flying mission without holding it, then store the result briefly.

    Measuring reads all the mission's points; while it runs the ingester's writer keeps
    adding points to the same mission. Claiming the mission first (as a complete one
    is) would hold its row, or SQLite's write lock, for the whole measuring, and the
    writer's batch, which moves the mission's count, would wait for it. So the points
    are measured first in a read-only transaction, then the mission is claimed and the
    result stored in a short one. If points (or the start event) arrived in between, the
    result is stored all the same, the freshest there is, and the mission stays dirty
    for the next pass.
    """
    mission = session.get(Mission, pk)
    if mission is None:
        return None
    seen = _inputs(mission)
    measurement = measure_points(session, mission=mission)
    session.rollback()
    if not _claim(session, pk, status=MissionStatus.open):
        session.rollback()  # measured by another ingester meanwhile, or no longer flying
        return None
    mission = session.get(Mission, pk, populate_existing=True)
    if _inputs(mission) != seen:
        mission.dirty = True
    store_measurement(session, mission=mission, measurement=measurement)
    session.commit()
    return mission.mission_id
