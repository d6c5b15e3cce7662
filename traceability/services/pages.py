"""What the office's, the operator's and the cooperative's pages show, from the database.

No web imports: each function returns plain dataclasses (and pandas frames through the
existing reports) for the page templates. Who may see what is decided by
:mod:`traceability.services.access`, asked here.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

import pandas as pd
from sqlalchemy import Text, cast, func, or_, select
from sqlalchemy.orm import defer
from sqlmodel import Session

from traceability import reports
from traceability.models import (
    Farmer,
    FarmField,
    InputProduct,
    Lot,
    LotField,
    Mission,
    Season,
    User,
)
from traceability.reports.missions import flag_codes, mission_select
from traceability.reports.province import province_hectares
from traceability.services import access, applications
from traceability.services.common import LOCAL_TZ, local_day

# ---------------------------------------------------------------- the office


@dataclass(frozen=True, slots=True)
class ProvinceFigures:
    """Hectares sprayed per ISO week; hectares treated (any work) per product and per
    commune; flagged missions."""

    by_week: list[tuple[str, float]]
    by_product: list[tuple[str, float]]
    by_commune: list[tuple[str, float]]
    flagged: list[dict[str, Any]]
    province: pd.DataFrame


def _sums(frame: pd.DataFrame, key: str) -> list[tuple[str, float]]:
    if frame.empty:
        return []
    sums = frame.groupby(key, dropna=False)["treated_area_ha"].sum()
    return [(str(k) if pd.notna(k) else "—", float(v)) for k, v in sums.items()]


def province_figures(session: Session, filters: reports.Filters) -> ProvinceFigures:
    """The dashboard's figures: the province report's hectares rows (as the report has
    them, its flags part left out: the flagged missions are a list of their own)."""
    conn = session.connection()
    frame = province_hectares(conn, filters)
    hectares = frame[frame["part"] == "hectares"].copy()
    hectares["treated_area_ha"] = hectares["treated_area_ha"].fillna(0.0)
    hectares["commune"] = hectares["commune_name"].fillna(hectares["commune_code"])
    hectares["product"] = hectares["product_name"].fillna(hectares["product_code"])
    by_product = sorted(_sums(hectares, "product"), key=lambda kv: -kv[1])
    by_commune = sorted(_sums(hectares, "commune"), key=lambda kv: -kv[1])
    return ProvinceFigures(
        # Shown as hectares sprayed: fertiliser spread and seed sown are no spray.
        by_week=sorted(_sums(reports.sprayed(hectares), "week")),
        by_product=by_product,
        by_commune=by_commune,
        flagged=flagged_missions(conn, filters),
        province=frame,
    )


def flagged_missions(conn: Any, filters: reports.Filters, limit: int = 50) -> list[dict]:
    """Missions flagged overdose, overspray, no-spray zone or banned product, newest first.

    The missions report's selection (the same filters), asked of the database newest first
    and only for missions whose flags name one of those codes, read until ``limit`` are
    found: the dashboard no longer reads a season's every mission for fifty of them.
    """
    wanted = set(reports.PROVINCE_FLAGS)
    # A coarse test in SQL (the code's text anywhere in the stored JSON, on either
    # backend); the flag codes are then read exactly, as the report reads them.
    named = or_(*(cast(Mission.flags, Text).like(f"%{code}%") for code in sorted(wanted)))
    stmt = (
        mission_select(filters)
        .where(named)
        .order_by(None)
        .order_by(Mission.started_at.desc(), Mission.mission_id.desc())
    )
    out = []
    for row in conn.execute(stmt):
        hits = sorted(set(flag_codes(row.flags)) & wanted)
        if hits:
            out.append(
                {
                    "mission_id": row.mission_id,
                    "drone_code": row.drone_code,
                    "started_at": pd.Timestamp(row.started_at).tz_convert(LOCAL_TZ),
                    "treated_area_ha": row.treated_area_ha,
                    "flags": hits,
                }
            )
        if len(out) >= limit:
            break
    return out


# ---------------------------------------------------------------- the operator's day


@dataclass(frozen=True, slots=True)
class DroneDay:
    """One drone's missions of a day, in time order."""

    drone_code: str
    missions: list[Mission]

    @property
    def hectares(self) -> float:
        """Hectares treated inside fields that day."""
        return sum(m.treated_area_ha or 0.0 for m in self.missions)


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The first instant of ``day`` in Vietnam and of the next day."""
    start = datetime.combine(day, time(), LOCAL_TZ)
    return start, start + timedelta(days=1)


def operator_day(
    session: Session, user: User, day: date, *, offset: int = 0, limit: int = 30
) -> tuple[list[DroneDay], int]:
    """The missions started on ``day`` (Vietnam time) that ``user`` sees, grouped by
    drone; a page of ``limit`` missions from ``offset``, and how many there are."""
    start, end = day_bounds(day)
    where = [Mission.started_at >= start, Mission.started_at < end]
    only = access.mission_filter(user)
    if only is not None:
        where.append(only)
    total = session.execute(select(func.count()).select_from(Mission).where(*where)).scalar_one()
    rows = session.execute(
        select(Mission)
        .where(*where)
        .order_by(Mission.drone_code, Mission.started_at, Mission.id)
        .offset(offset)
        .limit(limit)
    ).scalars()
    by_drone: dict[str, list[Mission]] = defaultdict(list)
    for m in rows:
        by_drone[m.drone_code].append(m)
    return [DroneDay(code, ms) for code, ms in by_drone.items()], total


def duration_min(mission: Mission) -> float | None:
    """Minutes from start to end, None while it has no end."""
    if mission.started_at is None or mission.ended_at is None:
        return None
    return (mission.ended_at - mission.started_at).total_seconds() / 60.0


# ---------------------------------------------------------------- the cooperative


@dataclass(frozen=True, slots=True)
class PendingPhi:
    """A field where a pesticide's PHI has not elapsed: harvest not before ``safe_on``."""

    field_code: str
    product: str
    applied_on: date
    phi_days: int
    safe_on: date


@dataclass
class Member:
    """A member farmer with their fields, the season under way on each, and their lots."""

    farmer: Farmer
    fields: list[FarmField] = field(default_factory=list)
    seasons: dict[int, Season] = field(default_factory=dict)
    lots: list[Lot] = field(default_factory=list)


def members(session: Session, user: User, today: date) -> list[Member]:
    """The farmers ``user`` manages (a cooperative's members; all for an admin)."""
    scope = access.farmer_scope(user)
    stmt = select(Farmer).order_by(Farmer.name, Farmer.id)
    if scope is not None:
        stmt = stmt.where(Farmer.id.in_(scope))
    out = {f.id: Member(f) for f in session.execute(stmt).scalars()}
    if not out:
        return []
    # The members' fields, as a subquery rather than a list of ids bound one by one: a
    # cooperative of 500 members has over a thousand fields.
    mine = select(FarmField.id)
    if scope is not None:
        mine = mine.where(FarmField.farmer_id.in_(scope))
    # The page shows a field's code and area: its outline is not read (nor parsed).
    fields = session.execute(
        select(FarmField)
        .options(defer(FarmField.geometry), defer(FarmField.properties))
        .where(FarmField.id.in_(mine))
        .order_by(FarmField.code)
    ).scalars()
    by_id = {}
    for f in fields:
        out[f.farmer_id].fields.append(f)
        by_id[f.id] = f
    if by_id:
        _add_seasons(session, out, by_id, mine, today)
        _add_lots(session, out, by_id, mine)
    return list(out.values())


def _add_seasons(session, out: dict[int, Member], by_id: dict, mine: Any, today: date) -> None:
    seasons = session.execute(
        select(Season)
        .where(Season.field_id.in_(mine), Season.sown_on <= today)
        .order_by(Season.sown_on)
    ).scalars()
    for s in seasons:
        if s.ended_on is None or s.ended_on >= today:
            out[by_id[s.field_id].farmer_id].seasons[s.field_id] = s


def _add_lots(session, out: dict[int, Member], by_id: dict, mine: Any) -> None:
    rows = session.execute(
        select(Lot, LotField.field_id)
        .join(LotField, LotField.lot_id == Lot.id)
        .where(LotField.field_id.in_(mine))
        .order_by(Lot.harvested_on.desc(), Lot.id.desc())
    ).all()
    seen: dict[int, set[int]] = defaultdict(set)
    for lot, field_id in rows:
        farmer_id = by_id[field_id].farmer_id
        if lot.id not in seen[farmer_id]:
            seen[farmer_id].add(lot.id)
            out[farmer_id].lots.append(lot)


def pending_phi(session: Session, fields: list[FarmField], today: date) -> list[PendingPhi]:
    """Fields where a pesticide (by hand or by drone) was applied less than its PHI ago:
    the last such application per field and product, soonest safe day last."""
    if not fields:
        return []
    codes = {f.id: f.code for f in fields}
    # Only what was applied within the longest PHI of any product can still be pending:
    # a field's history before that is not read at all.
    longest = session.execute(select(func.max(InputProduct.phi_days))).scalar_one_or_none()
    if longest is None:
        return []
    since = datetime.combine(today - timedelta(days=longest), time(), LOCAL_TZ)
    diary_rows, mission_rows = applications.load_pesticides_since(
        session.connection(), field_ids=list(codes), since=since
    )
    # The latest harvest of each field: a PHI applied before it is no longer pending (the
    # lot's trace says whether it was kept); "harvest from ..." would tell of a past crop.
    harvested = dict(
        session.execute(
            select(LotField.field_id, func.max(Lot.harvested_on))
            .join(Lot, Lot.id == LotField.lot_id)
            .where(applications.of_fields(session.connection(), LotField.field_id))
            .group_by(LotField.field_id),
            {"ids": list(codes)},
        ).all()
    )
    latest: dict[tuple[int, str], PendingPhi] = {}
    for a in applications.applications(diary_rows, mission_rows):
        p = a.product
        if p is None or a.at is None or not a.is_pesticide or p.phi_days is None:
            continue
        applied_on = local_day(a.at)
        last_harvest = harvested.get(a.field_id)
        if last_harvest is not None and applied_on <= last_harvest:
            continue
        safe_on = applied_on + timedelta(days=p.phi_days)
        key = (a.field_id, p.code)
        if safe_on > today and (key not in latest or latest[key].safe_on < safe_on):
            latest[key] = PendingPhi(codes[a.field_id], p.name, applied_on, p.phi_days, safe_on)
    return sorted(latest.values(), key=lambda x: (x.safe_on, x.field_code), reverse=True)
