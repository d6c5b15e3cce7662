"""Reports for the agriculture office and inspectors, as pandas DataFrames.

Built from the database with plain SQL through SQLAlchemy; no web imports, so
the same frames serve the API (CSV/JSON), notebooks and the command line.
"""

from datetime import datetime

import pandas as pd
from sqlalchemy import func, select
from sqlalchemy.engine import Connection, Engine

from traceability.models import (
    DiaryEntry,
    Drone,
    FarmField,
    InputProduct,
    Mission,
    MissionField,
)


def _read(bind: Engine | Connection, stmt) -> pd.DataFrame:
    if isinstance(bind, Engine):
        with bind.connect() as conn:
            return pd.read_sql(stmt, conn)
    return pd.read_sql(stmt, bind)


def missions_report(
    engine: Engine | Connection, *, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """One row per mission: drone, product, measured areas and amounts, number of flags."""
    stmt = select(
        Mission.mission_id,
        Mission.drone_code,
        Drone.operator,
        Mission.type,
        Mission.product_code,
        Mission.status,
        Mission.started_at,
        Mission.ended_at,
        Mission.point_count,
        Mission.applied_amount,
        Mission.amount_unit,
        Mission.treated_area_ha,
        Mission.overspray_area_ha,
        Mission.nospray_area_ha,
        Mission.reported_area_ha,
        Mission.flags,
    ).outerjoin(Drone, Drone.id == Mission.drone_id)
    if since:
        stmt = stmt.where(Mission.started_at >= since)
    if until:
        stmt = stmt.where(Mission.started_at <= until)
    frame = _read(engine, stmt.order_by(Mission.started_at))
    frame["flag_count"] = frame.pop("flags").map(lambda f: len(f or []))
    return frame


def field_applications_report(engine: Engine | Connection) -> pd.DataFrame:
    """Per field and product: how much was applied by drone and by hand, and on how many days."""
    drone = _read(
        engine,
        select(
            FarmField.code.label("field_code"),
            Mission.product_code,
            func.sum(MissionField.applied_amount).label("amount"),
            func.sum(MissionField.treated_area_ha).label("treated_area_ha"),
            func.count().label("applications"),
        )
        .join(MissionField, MissionField.field_id == FarmField.id)
        .join(Mission, Mission.id == MissionField.mission_pk)
        .group_by(FarmField.code, Mission.product_code),
    ).assign(source="drone")
    hand = _read(
        engine,
        select(
            FarmField.code.label("field_code"),
            InputProduct.code.label("product_code"),
            func.sum(DiaryEntry.quantity).label("amount"),
            func.sum(DiaryEntry.area_ha).label("treated_area_ha"),
            func.count().label("applications"),
        )
        .join(DiaryEntry, DiaryEntry.field_id == FarmField.id)
        .join(InputProduct, InputProduct.id == DiaryEntry.input_id)
        .where(DiaryEntry.source == "manual", DiaryEntry.retracts.is_(False))
        .group_by(FarmField.code, InputProduct.code),
    ).assign(source="hand")
    frame = pd.concat([drone, hand], ignore_index=True)
    return frame.sort_values(["field_code", "product_code", "source"], ignore_index=True)


def fleet_report(engine: Engine | Connection) -> pd.DataFrame:
    """Per drone: missions flown, area treated, overspray share, flags."""
    missions = missions_report(engine)
    if missions.empty:
        return pd.DataFrame(
            columns=[
                "drone_code",
                "operator",
                "missions",
                "treated_area_ha",
                "overspray_pct",
                "flags",
            ]
        )
    grouped = missions.groupby(["drone_code", "operator"], dropna=False).agg(
        missions=("mission_id", "count"),
        treated_area_ha=("treated_area_ha", "sum"),
        overspray_area_ha=("overspray_area_ha", "sum"),
        flags=("flag_count", "sum"),
    )
    sprayed = grouped["treated_area_ha"] + grouped["overspray_area_ha"]
    grouped["overspray_pct"] = (
        100 * grouped["overspray_area_ha"] / sprayed.where(sprayed > 0)
    ).round(2)
    return grouped.drop(columns="overspray_area_ha").reset_index()


REPORTS = {
    "missions": missions_report,
    "field-applications": field_applications_report,
    "fleet": fleet_report,
}
