"""The fleet report: per drone (and day, week or crop season), work done and time flown."""

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection

from traceability.config import get_settings
from traceability.models import TelemetryPoint
from traceability.reports.common import Filters, connected, crop_season, iso_week, vietnam_day
from traceability.reports.missions import mission_select

FLEET_COLUMNS = [
    "drone_code",
    "operator",
    "organisation_code",
    "missions",
    "treated_area_ha",
    "product_l",
    "product_kg",
    "unconverted_mix_l",
    "flight_hours",
    "ha_per_hour",
    "spraying_pct",
    "overspray_pct",
    "flags",
]


def _flight_times(conn: Connection, missions: pd.DataFrame) -> pd.DataFrame:
    """Per mission, seconds flown and seconds spraying, from its telemetry.

    The measure's own rule: a stretch between two fixes counts when it is no longer
    than ``max_gap_s`` (a longer gap is the drone on the ground, a battery changed), and
    it sprays when its first fix does. A mission without points counts its start to end.
    """
    gap = get_settings().max_gap_s
    points = pd.read_sql(
        select(TelemetryPoint.drone_code, TelemetryPoint.mission_id, TelemetryPoint.ts)
        .add_columns(TelemetryPoint.spraying)
        .where(TelemetryPoint.mission_id.in_(missions["mission_id"].tolist()))
        .order_by(TelemetryPoint.drone_code, TelemetryPoint.mission_id, TelemetryPoint.ts),
        conn,
    )
    keys = ["drone_code", "mission_id"]
    ts = pd.to_datetime(points["ts"], utc=True)
    dt = (ts.groupby([points[k] for k in keys]).shift(-1) - ts).dt.total_seconds()
    flown = dt.where(dt <= gap, 0.0).fillna(0.0)
    points["flight_s"] = flown
    points["spraying_s"] = flown.where(points["spraying"].astype(bool), 0.0)
    times = points.groupby(keys, as_index=False)[["flight_s", "spraying_s"]].sum()
    out = missions[["drone_code", "mission_id", "started_at", "ended_at"]].merge(
        times, on=keys, how="left"
    )
    span = (
        pd.to_datetime(out["ended_at"], utc=True) - pd.to_datetime(out["started_at"], utc=True)
    ).dt.total_seconds()
    out["flight_s"] = out["flight_s"].fillna(span)
    return out[["mission_id", "flight_s", "spraying_s"]]


def _period(missions: pd.DataFrame, by: str | None) -> list[str]:
    if by == "day":
        missions["period"] = vietnam_day(missions["started_at"]).astype(str)
    elif by == "week":
        missions["period"] = iso_week(missions["started_at"])
    elif by == "season":
        missions["period"] = crop_season(missions["started_at"])
    else:
        return []
    return ["period"]


def _unit_sum(values: pd.Series, units: pd.Series, unit: str) -> pd.Series:
    return values.where(units == unit, 0.0).fillna(0.0)


@connected
def fleet_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Per drone (and Vietnam day, ISO week or crop season): missions, hectares, product,
    flight hours, time spraying.

    ``product_l``/``product_kg`` are what the missions' measure put out, in the product's
    unit; a spray whose tank mix was not reported is litres of mix (``unconverted_mix_l``).
    ``ha_per_hour`` is hectares treated inside fields per hour flown; ``spraying_pct`` the
    share of flight time with the applicator on (``_flight_times``).
    """
    missions = pd.read_sql(mission_select(filters), conn)
    by = _period(missions, filters.by)
    if missions.empty:
        return pd.DataFrame(columns=[*by, *FLEET_COLUMNS])
    missions = missions.merge(_flight_times(conn, missions), on="mission_id", how="left")
    unit = missions["product_unit"].astype(object).map(lambda u: str(u) if u else None)
    missions["product_l"] = _unit_sum(missions["product_amount"], unit, "L")
    missions["product_kg"] = _unit_sum(missions["product_amount"], unit, "kg")
    unconverted = missions["product_amount"].isna() & (missions["amount_unit"] == "L")
    missions["unconverted_mix_l"] = missions["applied_amount"].where(unconverted, 0.0).fillna(0)
    missions["flag_count"] = missions["flags"].map(lambda f: len(f or []))
    grouped = missions.groupby([*by, "drone_code", "operator", "organisation_code"], dropna=False)
    out = grouped.agg(
        missions=("mission_id", "count"),
        treated_area_ha=("treated_area_ha", "sum"),
        overspray_area_ha=("overspray_area_ha", "sum"),
        product_l=("product_l", "sum"),
        product_kg=("product_kg", "sum"),
        unconverted_mix_l=("unconverted_mix_l", "sum"),
        flight_s=("flight_s", "sum"),
        spraying_s=("spraying_s", lambda s: s.sum(min_count=1)),
        flags=("flag_count", "sum"),
    ).reset_index()
    hours = out["flight_s"] / 3600.0
    out["flight_hours"] = hours.round(4)
    out["ha_per_hour"] = (out["treated_area_ha"] / hours.where(hours > 0)).round(3)
    out["spraying_pct"] = (
        100 * out["spraying_s"] / out["flight_s"].where(out["flight_s"] > 0)
    ).round(2)
    sprayed = out["treated_area_ha"] + out["overspray_area_ha"]
    out["overspray_pct"] = (100 * out["overspray_area_ha"] / sprayed.where(sprayed > 0)).round(2)
    return out[[*by, *FLEET_COLUMNS]]
