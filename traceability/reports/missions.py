"""The missions report: one row per drone mission, and the selection other reports build on."""

from typing import Any

import pandas as pd
from sqlalchemy import exists, select
from sqlalchemy.engine import Connection

from traceability.models import Drone, FarmField, Mission, MissionField
from traceability.reports.common import Filters, connected, drone_org


def mission_select(filters: Filters) -> Any:
    """The missions ``filters`` name (days, drone, product, organisation, commune), oldest first."""
    stmt = (
        select(
            Mission.id.label("mission_pk"),
            Mission.mission_id,
            Mission.drone_code,
            Drone.operator,
            drone_org.code.label("organisation_code"),
            Mission.type,
            Mission.product_code,
            Mission.status,
            Mission.started_at,
            Mission.ended_at,
            Mission.point_count,
            Mission.applied_amount,
            Mission.amount_unit,
            Mission.product_amount,
            Mission.product_unit,
            Mission.treated_area_ha,
            Mission.overspray_area_ha,
            Mission.nospray_area_ha,
            Mission.reported_area_ha,
            Mission.flags,
        )
        .outerjoin(Drone, Drone.id == Mission.drone_id)
        .outerjoin(drone_org, drone_org.id == Drone.organisation_id)
    )
    since, until = filters.bounds()
    if since:
        stmt = stmt.where(Mission.started_at >= since)
    if until:
        stmt = stmt.where(Mission.started_at <= until)
    if filters.drone:
        stmt = stmt.where(Mission.drone_code == filters.drone)
    if filters.product:
        stmt = stmt.where(Mission.product_code == filters.product)
    if filters.organisation:
        stmt = stmt.where(drone_org.code == filters.organisation)
    if filters.commune:
        stmt = stmt.where(
            exists().where(
                MissionField.mission_pk == Mission.id,
                MissionField.field_id == FarmField.id,
                FarmField.commune_code == filters.commune,
            )
        )
    return stmt.order_by(Mission.started_at, Mission.mission_id)


def flag_codes(flags: list | None) -> list[str]:
    """The codes of a mission's flags.

    >>> flag_codes([{"code": "overspray"}, {"code": "dose_above_max"}]), flag_codes(None)
    (['overspray', 'dose_above_max'], [])
    """
    return [f.get("code", "") for f in flags or []]


@connected
def missions_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """One row per mission: drone, organisation, product, measured areas and amounts, flags."""
    frame = pd.read_sql(mission_select(filters), conn)
    codes = frame.pop("flags").map(flag_codes)
    frame["flag_count"] = codes.map(len)
    frame["flag_codes"] = codes.map(" ".join)
    return frame.drop(columns="mission_pk")
