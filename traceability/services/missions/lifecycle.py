"""A mission's life after its points: completed when idle, measured when dirty.

The ingester calls both on a timer; a flight log upload calls :func:`measure_dirty` for
the missions it touched.
"""

import logging
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlmodel import Session

from traceability.models import Mission, MissionStatus, TelemetryPoint, utcnow
from traceability.services.missions.flags import MeasureFailed
from traceability.services.missions.measure import measure_mission

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
                    flags=[MeasureFailed.of(exc).to_json()],
                )
            )
            session.commit()
    return done
