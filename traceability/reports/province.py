"""The province report: hectares treated per week, commune and product; flagged missions."""

from typing import Any

import pandas as pd
from sqlalchemy import BigInteger, String, cast, func, or_, select, union_all
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from traceability import adminunits
from traceability.models import Drone, Farmer, FarmField, Mission, MissionField, Organisation
from traceability.reports import report_sql
from traceability.reports.common import Filters, connected, iso_week
from traceability.reports.missions import flag_codes, mission_select

# The flags the province counts, each a column of its own.
PROVINCE_FLAGS = ("dose_above_max", "overspray", "nospray_zone", "banned_product")

PROVINCE_COLUMNS = [
    "week",
    "commune_code",
    "commune_name",
    "part",
    "product_code",
    "product_name",
    "activity",
    "treated_area_ha",
    "applications",
    "flagged_missions",
    *PROVINCE_FLAGS,
]


def _commune_name(code: Any) -> str | None:
    unit = adminunits.get(code) if isinstance(code, str) else None
    return unit.name if unit else None


def _owned_by(part: Any, organisation: str) -> Any:
    """SQL: a row of ``part`` is of ``organisation``: its field's farmer is a member, or
    its drone is the organisation's."""
    field, farmer, org = aliased(FarmField), aliased(Farmer), aliased(Organisation)
    members = (
        select(field.id)
        .join(farmer, farmer.id == field.farmer_id)
        .join(org, org.id == farmer.organisation_id)
        .where(org.code == organisation)
    )
    drone, drone_owner = aliased(Drone), aliased(Organisation)
    fleet = (
        select(drone.code)
        .join(drone_owner, drone_owner.id == drone.organisation_id)
        .where(drone_owner.code == organisation)
    )
    return or_(part.c.field_id.in_(members), part.c.drone_code.in_(fleet))


def _sums_of(conn: Connection, part: Any, filters: Filters) -> tuple[Any, bool]:
    """One source's applications summed per week (or day), commune, product and work."""
    when, is_week = report_sql.week_start_or_day(conn, part.c.at)
    keys = [
        when.label("when"),
        FarmField.commune_code,
        part.c.product_code,
        part.c.product_name,
        part.c.activity,
    ]
    stmt = (
        select(
            *keys,
            func.sum(part.c.area_ha).label("area_ha"),
            func.count().label("applications"),
        )
        .select_from(part)
        .join(FarmField, FarmField.id == part.c.field_id)
        .group_by(*keys)
    )
    if filters.commune:
        stmt = stmt.where(FarmField.commune_code == filters.commune)
    if filters.organisation:
        stmt = stmt.where(_owned_by(part, filters.organisation))
    return stmt, is_week


def _province_hectares(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Hectares and applications per ISO week (Vietnam time), commune and product, summed
    by the database (the record's rule in SQL, ``report_sql.applied_parts``); SQLite sums
    per Vietnam day and pandas per week.

    Each source (the diary's entries, the drones' results) is summed on its own, per
    week's start, before the two are added up and the weeks named: a province's season
    is 275,000 applications but 18,000 sums, and the database then groups by a
    timestamp rather than sorting text. Same rows, same sums as over
    ``report_sql.applied``.
    """
    since, until = filters.bounds()
    parts = report_sql.applied_parts(
        since=since, until=until, product=filters.product, drone=filters.drone
    )
    summed = [_sums_of(conn, part, filters) for part in parts]
    is_week = summed[0][1]
    sums = union_all(*(stmt for stmt, _ in summed)).subquery("sums")
    when = report_sql.iso_week_label(sums.c.when) if is_week else sums.c.when
    keys = [when.label("when"), sums.c.commune_code, sums.c.product_code]
    keys += [sums.c.product_name, sums.c.activity]
    stmt = select(
        *keys,
        func.sum(sums.c.area_ha).label("treated_area_ha"),
        cast(func.sum(sums.c.applications), BigInteger).label("applications"),
    ).group_by(*keys)
    with report_sql.summing(conn):
        frame = pd.read_sql(stmt, conn)
    if frame.empty:
        return frame
    when = frame.pop("when")
    frame["week"] = when if is_week else _iso_week_of_day(when)
    if not is_week:  # SQLite summed per day
        keys = ["week", "commune_code", "product_code", "product_name", "activity"]
        sums = frame.groupby(keys, dropna=False)[["treated_area_ha", "applications"]]
        frame = sums.sum(min_count=1).reset_index()
    frame["part"] = "hectares"
    return frame


def _iso_week_of_day(days: pd.Series) -> pd.Series:
    local = pd.to_datetime(days).dt.isocalendar()
    return local["year"].astype(str) + "-W" + local["week"].astype(str).str.zfill(2)


def _province_flags(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Missions flagged overdose, overspray or no-spray zone, per commune they touched and week."""
    # The database picks the missions whose flags name one of the codes (as text: JSON
    # has no portable operator); the codes themselves are read below.
    named = or_(*(cast(Mission.flags, String).contains(f'"{c}"') for c in PROVINCE_FLAGS))
    flagged = mission_select(filters).where(named).subquery("flagged")
    # Each with the communes of the fields it touched; one that touched no field (all
    # overspray) still counts, under no commune.
    stmt = (
        select(flagged.c.mission_pk, flagged.c.started_at, flagged.c.flags, FarmField.commune_code)
        .select_from(flagged)
        .outerjoin(MissionField, MissionField.mission_pk == flagged.c.mission_pk)
        .outerjoin(FarmField, FarmField.id == MissionField.field_id)
    )
    missions = pd.read_sql(stmt, conn)
    missions["codes"] = missions["flags"].map(lambda f: set(flag_codes(f)) & set(PROVINCE_FLAGS))
    missions = missions[missions["codes"].map(bool)]
    if missions.empty:
        return missions
    missions = missions.drop_duplicates(["mission_pk", "commune_code"])
    if filters.commune:
        missions = missions[missions["commune_code"] == filters.commune]
    missions["week"] = iso_week(missions["started_at"])
    for code in PROVINCE_FLAGS:
        missions[code] = missions["codes"].map(lambda c, code=code: code in c).astype(int)
    out = missions.groupby(["week", "commune_code"], as_index=False, dropna=False).agg(
        flagged_missions=("mission_pk", "nunique"), **{c: (c, "sum") for c in PROVINCE_FLAGS}
    )
    out["part"] = "flags"
    return out


@connected
def province_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Hectares treated per product, commune and ISO week; flagged missions per commune and week.

    Two parts in one frame, told apart by ``part``: "hectares" rows (one per week,
    commune, product and ``activity``) and "flags" rows (one per week and commune,
    ``product_code`` empty), so summing a column never counts anything twice.
    ``activity`` is the work that applied the product: ``spray``, ``fertilize``, ``seed``
    (the diary's activity, or a mission's type); hectares *sprayed* are the ``spray`` rows
    alone, never fertiliser spread or seed sown.
    """
    return _rows([_province_hectares(conn, filters), _province_flags(conn, filters)])


@connected
def province_hectares(conn: Connection, filters: Filters) -> pd.DataFrame:
    """The province report's "hectares" rows alone, as :func:`province_report` gives them,
    without its flags part: what the office's dashboard draws (its flagged missions are a
    list of their own)."""
    return _rows([_province_hectares(conn, filters)])


def _rows(parts: list[pd.DataFrame]) -> pd.DataFrame:
    """The report's parts as its rows: its columns, commune names, whole counts, in order."""
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=PROVINCE_COLUMNS)
    frame = pd.concat(parts, ignore_index=True).reindex(columns=PROVINCE_COLUMNS)
    frame["commune_name"] = frame["commune_code"].map(_commune_name)
    for column in ("applications", "flagged_missions", *PROVINCE_FLAGS):
        frame[column] = frame[column].astype("Int64")
    return frame.sort_values(
        ["week", "commune_code", "part", "product_code", "activity"],
        ignore_index=True,
        na_position="last",
    )


def sprayed(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of a province report that count as hectares *sprayed*: its "hectares"
    rows of the ``spray`` activity, never fertiliser spread or seed sown."""
    return frame[(frame["part"] == "hectares") & (frame["activity"] == "spray")]
