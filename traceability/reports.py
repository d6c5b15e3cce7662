"""Reports for the agriculture office and inspectors, as pandas DataFrames.

Built from the database through SQLAlchemy; no web imports, so the same frames serve
the API, notebooks and the command line (``report_files`` writes them as JSON, CSV and
XLSX). Amounts come from the application record (``services.applications``) or from
what a mission measured; no report derives an amount of its own.

Every report takes :class:`Filters`. ``since``/``until`` are Vietnam calendar days,
``until`` included. Times in frames are timezone-aware UTC; ``report_files`` shows
them in Vietnam time.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from typing import Any, Literal

import pandas as pd
from shapely.geometry import shape
from sqlalchemy import String, cast, exists, func, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import aliased

from traceability import adminunits, report_sql
from traceability.config import get_settings
from traceability.geo.projection import to_metres, to_wgs84
from traceability.models import (
    Drone,
    Farmer,
    FarmField,
    Mission,
    MissionField,
    Organisation,
    Season,
    TelemetryPoint,
)
from traceability.services import applications

# Vietnam keeps UTC+7 all year: a fixed offset needs no time-zone database.
VIETNAM = timezone(timedelta(hours=7), "ICT")
# The flags the province counts, each a column of its own.
PROVINCE_FLAGS = ("dose_above_max", "overspray", "nospray_zone", "banned_product")

Bind = Engine | Connection


@dataclass(frozen=True, slots=True)
class Filters:
    """What a report is limited to; None is no limit.

    ``commune`` is a field's commune code, ``product`` a product code, ``drone`` a drone
    code; ``organisation`` matches the drone's service or the farmer's cooperative.
    ``field`` (a field code), ``season`` (a season id) and ``field_codes`` limit the
    field-season and low-emission rice reports. ``by`` groups the fleet report by
    Vietnam day, ISO week or crop season (:func:`crop_season`).
    """

    since: date | None = None
    until: date | None = None
    commune: str | None = None
    product: str | None = None
    drone: str | None = None
    organisation: str | None = None
    by: Literal["day", "week", "season"] | None = None
    field: str | None = None
    season: int | None = None
    # The only fields a field-season or low-emission rice report is built for (a farmer's
    # or a cooperative's own), so a reader's report costs what their fields cost.
    field_codes: frozenset[str] | None = None

    def bounds(self) -> tuple[datetime | None, datetime | None]:
        """The first and last instant of the Vietnam days ``since`` .. ``until``.

        >>> Filters(since=date(2026, 3, 1), until=date(2026, 3, 1)).bounds()[0].isoformat()
        '2026-03-01T00:00:00+07:00'
        """
        start = datetime.combine(self.since, time(), VIETNAM) if self.since else None
        end = None
        if self.until:
            next_day = datetime.combine(self.until + timedelta(days=1), time(), VIETNAM)
            end = next_day - timedelta(microseconds=1)
        return start, end


NO_FILTERS = Filters()


def _connected(build: Callable[[Connection, Filters], pd.DataFrame]) -> Callable[..., Any]:
    """Let a report take an Engine (a connection of its own) or a Connection."""

    def report(bind: Bind, filters: Filters = NO_FILTERS) -> pd.DataFrame:
        if isinstance(bind, Engine):
            with bind.connect() as conn:
                return build(conn, filters)
        return build(bind, filters)

    report.__name__, report.__doc__ = build.__name__, build.__doc__
    return report


def vietnam_day(at: pd.Series) -> pd.Series:
    """The Vietnam calendar day of each timestamp."""
    return pd.to_datetime(at, utc=True).dt.tz_convert(VIETNAM).dt.date


def iso_week(at: pd.Series) -> pd.Series:
    """The ISO week (``2026-W09``) of each timestamp, in Vietnam time."""
    local = pd.to_datetime(at, utc=True).dt.tz_convert(VIETNAM).dt.isocalendar()
    return local["year"].astype(str) + "-W" + local["week"].astype(str).str.zfill(2)


# The Mekong Delta's three rice seasons by the month they start in (Vietnam time):
# Đông Xuân (winter-spring) December to March, named by the year it ends in; Hè Thu
# (summer-autumn) April to July; Thu Đông (autumn-winter) August to November.
_CROP_SEASONS = {12: "1 Đông Xuân", 1: "1 Đông Xuân", 2: "1 Đông Xuân", 3: "1 Đông Xuân"}
_CROP_SEASONS |= {m: "2 Hè Thu" for m in range(4, 8)} | {m: "3 Thu Đông" for m in range(8, 12)}


def crop_season(at: pd.Series) -> pd.Series:
    """The Mekong crop season of each timestamp's Vietnam day, sortable as text.

    >>> at = pd.Series(pd.to_datetime(["2025-12-01T00:30+07:00", "2026-07-31T23:00+07:00"]))
    >>> crop_season(at).tolist()
    ['2026-1 Đông Xuân', '2026-2 Hè Thu']
    """
    local = pd.to_datetime(at, utc=True).dt.tz_convert(VIETNAM)
    year = local.dt.year + (local.dt.month == 12).astype(int)
    return year.astype(str) + "-" + local.dt.month.map(_CROP_SEASONS)


# ---------------------------------------------------------------- missions

_drone_org = aliased(Organisation, name="drone_org")


def _mission_select(filters: Filters) -> Any:
    stmt = (
        select(
            Mission.id.label("mission_pk"),
            Mission.mission_id,
            Mission.drone_code,
            Drone.operator,
            _drone_org.code.label("organisation_code"),
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
        .outerjoin(_drone_org, _drone_org.id == Drone.organisation_id)
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
        stmt = stmt.where(_drone_org.code == filters.organisation)
    if filters.commune:
        stmt = stmt.where(
            exists().where(
                MissionField.mission_pk == Mission.id,
                MissionField.field_id == FarmField.id,
                FarmField.commune_code == filters.commune,
            )
        )
    return stmt.order_by(Mission.started_at, Mission.mission_id)


def _flag_codes(flags: list | None) -> list[str]:
    return [f.get("code", "") for f in flags or []]


@_connected
def missions_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """One row per mission: drone, organisation, product, measured areas and amounts, flags."""
    frame = pd.read_sql(_mission_select(filters), conn)
    codes = frame.pop("flags").map(_flag_codes)
    frame["flag_count"] = codes.map(len)
    frame["flag_codes"] = codes.map(" ".join)
    return frame.drop(columns="mission_pk")


# ---------------------------------------------------------------- the application record


# Up to this many fields are looked up by id; more, and reading them all costs less.
_FEW_FIELDS = 500


def _fields(conn: Connection, ids: set[int] | None = None) -> pd.DataFrame:
    farmer_org = aliased(Organisation, name="farmer_org")
    stmt = (
        select(
            FarmField.id.label("field_id"),
            FarmField.code.label("field_code"),
            FarmField.commune_code,
            farmer_org.code.label("farmer_organisation"),
        )
        .join(Farmer, Farmer.id == FarmField.farmer_id)
        .outerjoin(farmer_org, farmer_org.id == Farmer.organisation_id)
    )
    if ids is not None and len(ids) <= _FEW_FIELDS:
        stmt = stmt.where(FarmField.id.in_(sorted(ids)))
    return pd.read_sql(stmt, conn).set_index("field_id")


def _drone_orgs(conn: Connection) -> dict[str, str | None]:
    stmt = select(Drone.code, _drone_org.code).outerjoin(
        _drone_org, _drone_org.id == Drone.organisation_id
    )
    return dict(conn.execute(stmt).all())


def _applications_frame(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Every application of a named product in the record, filtered, one row each."""
    since, until = filters.bounds()
    return applications_frame(conn, applications.load_all(conn, since=since, until=until), filters)


def applications_frame(
    conn: Connection,
    apps: list[applications.Application],
    filters: Filters,
    season_ids: list[int] | None = None,
) -> pd.DataFrame:
    """``apps`` that name a product, one row each, with their field, commune and
    organisations, limited by ``filters``' product, commune, drone and organisation.

    ``season_ids`` (one per application) adds a ``season_id`` column.
    """
    named = [
        i
        for i, a in enumerate(apps)
        if a.product_code and (filters.product is None or a.product_code == filters.product)
    ]
    seasons = [season_ids[i] for i in named] if season_ids is not None else None
    apps = [apps[i] for i in named]
    fields = _fields(conn, {a.field_id for a in apps})
    orgs = _drone_orgs(conn)
    frame = pd.DataFrame(
        {
            "field_id": pd.array([a.field_id for a in apps], dtype="int64"),
            "applied_at": pd.to_datetime([a.at for a in apps], utc=True),
            "product_code": [a.product_code for a in apps],
            "product_name": [a.product.name if a.product else None for a in apps],
            "kind": [str(a.product.kind) if a.product else None for a in apps],
            "is_pesticide": [a.is_pesticide for a in apps],
            "registration_no": [a.product.registration_no if a.product else None for a in apps],
            "registration_status": [
                a.product.registration_status if a.product else None for a in apps
            ],
            "active_ingredient": [a.product.active_ingredient if a.product else None for a in apps],
            "max_dose_per_ha": [a.product.max_dose_per_ha if a.product else None for a in apps],
            "phi_days": [a.product.phi_days if a.product else None for a in apps],
            "amount": pd.array([a.quantity for a in apps], dtype="Float64"),
            "unit": [a.unit or "" for a in apps],
            "amount_of": ["product" if a.in_product_unit else "tank mix" for a in apps],
            "treated_area_ha": pd.array([a.area_ha for a in apps], dtype="Float64"),
            "dose_per_ha": pd.array([a.dose_per_ha for a in apps], dtype="Float64"),
            "source": ["drone" if a.method == "drone" else "hand" for a in apps],
            "drone_code": [a.drone_code for a in apps],
            "mission_id": [a.mission_id for a in apps],
            "entry_id": pd.array([a.entry_id for a in apps], dtype="Int64"),
            "coverage_pct": pd.array([a.coverage_pct for a in apps], dtype="Float64"),
        }
    )
    if seasons is not None:
        frame["season_id"] = pd.array(seasons, dtype="int64")
    frame = frame.join(fields, on="field_id")
    frame["drone_organisation"] = frame["drone_code"].map(orgs)
    keep = pd.Series(True, index=frame.index)
    if filters.commune:
        keep &= frame["commune_code"] == filters.commune
    if filters.drone:
        keep &= frame["drone_code"] == filters.drone
    if filters.organisation:
        keep &= (frame["drone_organisation"] == filters.organisation) | (
            frame["farmer_organisation"] == filters.organisation
        )
    return frame[keep].reset_index(drop=True)


_APPLICATION_COLUMNS = [
    "field_code",
    "commune_code",
    "product_code",
    "source",
    "amount",
    "unit",
    "amount_of",
    "treated_area_ha",
    "applications",
]


@_connected
def field_applications_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Per field, product and source: how much was applied, in which unit, and how often.

    Built on the application record (the diary's corrected view, drone missions with
    their diary lines counted once). ``amount`` is in the product's own ``unit``
    (``amount_of`` "product"), except for a drone spray whose tank mix was not
    reported: that is litres of tank mix (``amount_of`` "tank mix"), never added to
    product amounts.
    """
    frame = _applications_frame(conn, filters)
    if frame.empty:
        return pd.DataFrame(columns=_APPLICATION_COLUMNS)
    keys = ["field_code", "commune_code", "product_code", "source", "unit", "amount_of"]
    grouped = frame.groupby(keys, as_index=False, dropna=False).agg(
        amount=("amount", lambda s: s.sum(min_count=1)),
        treated_area_ha=("treated_area_ha", lambda s: s.sum(min_count=1)),
        applications=("amount", "size"),
    )
    return grouped[_APPLICATION_COLUMNS].sort_values(
        ["field_code", "product_code", "source", "amount_of"], ignore_index=True
    )


# ---------------------------------------------------------------- pesticide records

PESTICIDE_COLUMNS = [
    "applied_at",
    "field_code",
    "commune_code",
    "lon",
    "lat",
    "crop",
    "product_code",
    "product_name",
    "registration_no",
    "registration_status",
    "active_ingredient",
    "amount",
    "unit",
    "amount_of",
    "treated_area_ha",
    "dose_per_ha",
    "max_dose_per_ha",
    "phi_days",
    "source",
    "drone_code",
    "mission_id",
    "entry_id",
]


def _centroids(conn: Connection, field_ids: list[int]) -> dict[int, tuple[float, float]]:
    """Each field's centroid in WGS84, taken in metres (its UTM zone), not in degrees."""
    rows = conn.execute(
        select(FarmField.id, FarmField.geometry, FarmField.utm_epsg).where(
            FarmField.id.in_(field_ids)
        )
    ).all()
    out = {}
    for field_id, geometry, epsg in rows:
        metres, epsg = to_metres(shape(geometry), epsg)
        point = to_wgs84(metres.centroid, epsg)
        out[field_id] = (round(point.x, 6), round(point.y, 6))
    return out


def _crops(conn: Connection, frame: pd.DataFrame) -> list[str | None]:
    """The crop of the season under way on each application's field and Vietnam day."""
    seasons: dict[int, list[Any]] = {}
    stmt = select(Season.field_id, Season.crop, Season.sown_on, Season.ended_on).where(
        Season.field_id.in_(frame["field_id"].unique().tolist())
    )
    for row in conn.execute(stmt.order_by(Season.sown_on.desc())):
        seasons.setdefault(row.field_id, []).append(row)
    out = []
    for field_id, day in zip(frame["field_id"], vietnam_day(frame["applied_at"]), strict=True):
        crop = next(
            (
                s.crop
                for s in seasons.get(field_id, ())
                if s.sown_on <= day and (s.ended_on is None or day <= s.ended_on)
            ),
            None,
        )
        out.append(crop)
    return out


@_connected
def pesticide_records_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """One row per application of a pesticide, for inspectors (VietGAP, EU 2023/564).

    A spray naming no known product is listed too: an inspector must see it.
    """
    frame = _applications_frame(conn, filters)
    frame = frame[frame["is_pesticide"] != False].reset_index(drop=True)  # noqa: E712 - None stays
    if frame.empty:
        return pd.DataFrame(columns=PESTICIDE_COLUMNS)
    where = _centroids(conn, frame["field_id"].unique().tolist())
    frame["lon"] = frame["field_id"].map(lambda f: where[f][0])
    frame["lat"] = frame["field_id"].map(lambda f: where[f][1])
    frame["crop"] = _crops(conn, frame)
    return frame[PESTICIDE_COLUMNS].sort_values(
        ["applied_at", "field_code", "product_code"], ignore_index=True
    )


# ---------------------------------------------------------------- the province

PROVINCE_COLUMNS = [
    "week",
    "commune_code",
    "commune_name",
    "part",
    "product_code",
    "product_name",
    "treated_area_ha",
    "applications",
    "flagged_missions",
    *PROVINCE_FLAGS,
]


def _commune_name(code: Any) -> str | None:
    unit = adminunits.get(code) if isinstance(code, str) else None
    return unit.name if unit else None


def _province_hectares(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Hectares and applications per ISO week (Vietnam time), commune and product, summed
    by the database (the record's rule in SQL, ``report_sql.applied``); SQLite sums per
    Vietnam day and pandas per week."""
    since, until = filters.bounds()
    applied = report_sql.applied(
        since=since, until=until, product=filters.product, drone=filters.drone
    )
    farmer_org = aliased(Organisation, name="farmer_org")
    when, is_week = report_sql.week_or_day(conn, applied.c.at)
    keys = [
        when.label("when"),
        FarmField.commune_code,
        applied.c.product_code,
        applied.c.product_name,
    ]
    stmt = (
        select(
            *keys,
            func.sum(applied.c.area_ha).label("treated_area_ha"),
            func.count().label("applications"),
        )
        .select_from(applied)
        .join(FarmField, FarmField.id == applied.c.field_id)
        .group_by(*keys)
    )
    if filters.commune:
        stmt = stmt.where(FarmField.commune_code == filters.commune)
    if filters.organisation:
        stmt = (
            stmt.join(Farmer, Farmer.id == FarmField.farmer_id)
            .outerjoin(farmer_org, farmer_org.id == Farmer.organisation_id)
            .outerjoin(Drone, Drone.code == applied.c.drone_code)
            .outerjoin(_drone_org, _drone_org.id == Drone.organisation_id)
            .where(
                or_(
                    farmer_org.code == filters.organisation, _drone_org.code == filters.organisation
                )
            )
        )
    frame = pd.read_sql(stmt, conn)
    if frame.empty:
        return frame
    when = frame.pop("when")
    frame["week"] = when if is_week else _iso_week_of_day(when)
    if not is_week:  # SQLite summed per day
        keys = ["week", "commune_code", "product_code", "product_name"]
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
    flagged = _mission_select(filters).where(named).subquery("flagged")
    # Each with the communes of the fields it touched; one that touched no field (all
    # overspray) still counts, under no commune.
    stmt = (
        select(flagged.c.mission_pk, flagged.c.started_at, flagged.c.flags, FarmField.commune_code)
        .select_from(flagged)
        .outerjoin(MissionField, MissionField.mission_pk == flagged.c.mission_pk)
        .outerjoin(FarmField, FarmField.id == MissionField.field_id)
    )
    missions = pd.read_sql(stmt, conn)
    missions["codes"] = missions["flags"].map(lambda f: set(_flag_codes(f)) & set(PROVINCE_FLAGS))
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


@_connected
def province_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Hectares treated per product, commune and ISO week; flagged missions per commune and week.

    Two parts in one frame, told apart by ``part``: "hectares" rows (one per week,
    commune and product) and "flags" rows (one per week and commune, ``product_code``
    empty), so summing a column never counts anything twice.
    """
    parts = [_province_hectares(conn, filters), _province_flags(conn, filters)]
    parts = [p for p in parts if not p.empty]
    if not parts:
        return pd.DataFrame(columns=PROVINCE_COLUMNS)
    frame = pd.concat(parts, ignore_index=True).reindex(columns=PROVINCE_COLUMNS)
    frame["commune_name"] = frame["commune_code"].map(_commune_name)
    for column in ("applications", "flagged_missions", *PROVINCE_FLAGS):
        frame[column] = frame[column].astype("Int64")
    return frame.sort_values(
        ["week", "commune_code", "part", "product_code"], ignore_index=True, na_position="last"
    )


# ---------------------------------------------------------------- the fleet

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


@_connected
def fleet_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Per drone (and Vietnam day, ISO week or crop season): missions, hectares, product,
    flight hours, time spraying.

    ``product_l``/``product_kg`` are what the missions' measure put out, in the product's
    unit; a spray whose tank mix was not reported is litres of mix (``unconverted_mix_l``).
    ``ha_per_hour`` is hectares treated inside fields per hour flown; ``spraying_pct`` the
    share of flight time with the applicator on (``_flight_times``).
    """
    missions = pd.read_sql(_mission_select(filters), conn)
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


@_connected
def field_season_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Every input applied on a field in a season, totals, doses and PHI verdicts
    (``reports_season.field_season_report``)."""
    from traceability import reports_season  # it builds on this module

    return reports_season.field_season_report(conn, filters)


@_connected
def low_emission_rice_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """Per field and season: drying, nitrogen per hectare, seeding rate, straw
    (``reports_season.low_emission_rice_report``)."""
    from traceability import reports_season  # it builds on this module

    return reports_season.low_emission_rice_report(conn, filters)


REPORTS: dict[str, Callable[..., pd.DataFrame]] = {
    "missions": missions_report,
    "field-applications": field_applications_report,
    "pesticide-records": pesticide_records_report,
    "province": province_report,
    "fleet": fleet_report,
    "field-season": field_season_report,
    "low-emission-rice": low_emission_rice_report,
}
