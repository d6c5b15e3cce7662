"""Reports for the agriculture office and inspectors, as pandas DataFrames.

Built from the database with plain SQL through SQLAlchemy; no web imports, so
the same frames serve the API (CSV/JSON), notebooks and the command line.
"""

from datetime import datetime

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection, Engine

from traceability.models import Drone, FarmField, Mission
from traceability.services import applications


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


_APPLICATION_COLUMNS = [
    "field_code",
    "product_code",
    "source",
    "amount",
    "unit",
    "amount_of",
    "treated_area_ha",
    "applications",
]


def field_applications_report(
    engine: Engine | Connection, *, since: datetime | None = None, until: datetime | None = None
) -> pd.DataFrame:
    """Per field, product and source: how much was applied, in which unit, and how often.

    Built on the application record (the diary's corrected view, drone missions with
    their diary lines counted once). ``amount`` is in the product's own ``unit``
    (``amount_of`` "product"), except for a drone spray whose tank mix was not
    reported: that is litres of tank mix (``amount_of`` "tank mix"), never added to
    product amounts.
    """
    if isinstance(engine, Engine):
        with engine.connect() as conn:
            return field_applications_report(conn, since=since, until=until)
    apps = [a for a in applications.load_all(engine, since=since, until=until) if a.product_code]
    if not apps:
        return pd.DataFrame(columns=_APPLICATION_COLUMNS)
    codes = dict(engine.execute(select(FarmField.id, FarmField.code)).all())
    frame = pd.DataFrame(
        {
            "field_code": [codes[a.field_id] for a in apps],
            "product_code": [a.product_code for a in apps],
            "source": ["drone" if a.method == "drone" else "hand" for a in apps],
            "amount": [a.quantity for a in apps],
            "unit": [a.unit or "" for a in apps],
            "amount_of": ["product" if a.in_product_unit else "tank mix" for a in apps],
            "treated_area_ha": [a.area_ha for a in apps],
        }
    )
    keys = ["field_code", "product_code", "source", "unit", "amount_of"]
    grouped = frame.groupby(keys, as_index=False, dropna=False).agg(
        amount=("amount", lambda s: s.sum(min_count=1)),
        treated_area_ha=("treated_area_ha", lambda s: s.sum(min_count=1)),
        applications=("amount", "size"),
    )
    return grouped[_APPLICATION_COLUMNS].sort_values(
        ["field_code", "product_code", "source", "amount_of"], ignore_index=True
    )


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
