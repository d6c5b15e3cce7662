"""A field's seasons and what was done in them, for the field-season and low-emission
rice reports (``field_season``, ``low_emission``).

Both are built on the application record and the diary's corrected view
(``services.applications``): a correction replaces what it corrects, a withdrawal
removes it, and a drone's diary line is its mission's evidence, not a second
application. No web imports.

A season runs over the Vietnam days from ``sown_on`` to ``ended_on`` (open while it has
no end); its **harvest** is the day of its first standing ``harvest`` entry.
``from``/``to`` limit the applications and water events further; the harvest is always
the season's own.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from functools import lru_cache
from operator import itemgetter
from typing import Any

import pandas as pd
from sqlalchemy import Date, null, or_, select, true, type_coerce
from sqlalchemy.engine import Connection

from traceability.models import (
    Activity,
    DiaryEntry,
    Farmer,
    FarmField,
    Lot,
    LotField,
    Mission,
    MissionField,
    Organisation,
    Season,
)
from traceability.reports.common import Filters
from traceability.reports.report_sql import vietnam_day
from traceability.services import applications
from traceability.services.applications import Application
from traceability.services.common import local_day


@dataclass(frozen=True, slots=True)
class SeasonRecord:
    """A field's season with what was done in it: applications and standing diary rows."""

    season: Any
    applications: list[Application]
    diary: list[Any]
    straw: list[Any]
    harvested_on: date | None
    # Before the sowing, for the season's methane: the field's standing water and straw
    # entries since the previous crop's sowing (at most a year back), when that crop ended,
    # and whether the field runs a rice-shrimp rotation.
    before: list[Any] = field(default_factory=list)
    previous_crop_end: date | None = None
    rice_shrimp: bool = False


def _season_stmt(filters: Filters) -> Any:
    stmt = (
        select(
            Season.id.label("season_id"),
            Season.field_id,
            Season.crop,
            Season.sown_on,
            Season.ended_on,
            Season.pre_season_water,
            FarmField.code.label("field_code"),
            FarmField.commune_code,
            FarmField.area_ha.label("field_area_ha"),
            FarmField.properties.label("field_properties"),
            Organisation.code.label("farmer_organisation"),
        )
        .join(FarmField, FarmField.id == Season.field_id)
        .join(Farmer, Farmer.id == FarmField.farmer_id)
        .outerjoin(Organisation, Organisation.id == Farmer.organisation_id)
    )
    if filters.field:
        stmt = stmt.where(FarmField.code == filters.field)
    if filters.field_codes is not None:
        stmt = stmt.where(FarmField.code.in_(sorted(filters.field_codes)))
    if filters.season is not None:
        stmt = stmt.where(Season.id == filters.season)
    if filters.commune:
        stmt = stmt.where(FarmField.commune_code == filters.commune)
    return stmt


def _season_rows(conn: Connection, filters: Filters, *columns: Any) -> list[Any]:
    """The seasons ``filters`` names in the report's order, with ``columns`` only if given."""
    stmt = _season_stmt(filters)
    if columns:
        stmt = stmt.with_only_columns(*columns)
    return list(conn.execute(stmt.order_by(FarmField.code, Season.sown_on, Season.id)).all())


def season_scope(conn: Connection, filters: Filters) -> list[Any]:
    """The seasons ``filters`` names in the report's order, each with only its id, its
    field's id and code and the farmer's cooperative (what names a kept row)."""
    return _season_rows(
        conn,
        filters,
        Season.id.label("season_id"),
        Season.field_id,
        FarmField.code.label("field_code"),
        Organisation.code.label("farmer_organisation"),
    )


def _within(day: date | None, first: date | None, last: date | None) -> bool:
    return day is not None and (first is None or first <= day) and (last is None or day <= last)


# A season's rows are dated again and again (in season, before it, its straw, its water):
# converting each instant once per stretch of rows halves the report's time. Bounded, so
# a long-running server keeps no more than this many.
@lru_cache(maxsize=1 << 16)
def day_of(at: Any) -> date | None:
    """The Vietnam day of a time, None for none."""
    return local_day(at) if at is not None else None


def entry_day(row: Any) -> date | None:
    """A diary row's Vietnam day: the one the database computed (``day``, on the rows
    :func:`emission_records` reads), else its time's (:func:`day_of`)."""
    day = getattr(row, "day", None)
    return day if day is not None else day_of(row.occurred_at)


def _by_field(items: Iterable[Any]) -> dict[int, list[Any]]:
    out: dict[int, list[Any]] = {}
    for item in items:
        out.setdefault(item.field_id, []).append(item)
    return out


def _next_sown(seasons: list[Any]) -> dict[int, date | None]:
    """Each season's next season on the same field: when its straw stops being its own."""
    out: dict[int, date | None] = {}
    for same_field in _by_field(seasons).values():
        for s in same_field:
            later = [o.sown_on for o in same_field if o.sown_on > s.sown_on]
            out[s.season_id] = min(later) if later else None
    return out


def _lot_harvests(conn: Connection, field_ids: Any) -> dict[int, list[date]]:
    """The harvest days of the lots from each field."""
    out: dict[int, list[date]] = {}
    rows = conn.execute(
        select(LotField.field_id, Lot.harvested_on)
        .join(Lot, Lot.id == LotField.lot_id)
        .where(LotField.field_id.in_(field_ids))
    )
    for field_id, day in rows:
        out.setdefault(field_id, []).append(day)
    return out


# A season of shrimp on a rice field (rice-shrimp rotation), by its crop's name.
_SHRIMP_CROPS = frozenset({"tôm", "shrimp", "tôm sú", "tôm càng xanh"})


@dataclass(frozen=True, slots=True)
class _Before:
    """A field's every season (unfiltered): what came before a season's sowing."""

    seasons: dict[int, list[Any]]

    @classmethod
    def load(cls, conn: Connection, field_ids: Any) -> "_Before":
        rows = conn.execute(
            select(Season.field_id, Season.id, Season.crop, Season.sown_on, Season.ended_on)
            .where(Season.field_id.in_(field_ids))
            .order_by(Season.sown_on)
        ).all()
        return cls(_by_field(rows))

    def previous(self, s: Any) -> Any | None:
        earlier = [o for o in self.seasons.get(s.field_id, []) if o.sown_on < s.sown_on]
        return earlier[-1] if earlier else None

    def shrimp(self, s: Any) -> bool:
        return any(
            str(o.crop).strip().lower() in _SHRIMP_CROPS for o in self.seasons.get(s.field_id, [])
        )


def _pre_season(
    s: Any, mine: list[Any], lots: list[date], before: _Before
) -> tuple[list[Any], date | None, bool]:
    """The field's water and straw entries before ``s`` was sown, the previous crop's end
    (its harvest, else its end), and whether the field runs a rice-shrimp rotation."""
    prev = before.previous(s)
    start = max(prev.sown_on, s.sown_on - timedelta(days=365)) if prev else None
    start = start or s.sown_on - timedelta(days=365)
    rows = [
        r
        for r in mine
        if r.activity in (Activity.irrigate, Activity.drain, Activity.straw)
        and _within(day_of(r.occurred_at), start, s.sown_on - timedelta(days=1))
    ]
    end = None
    if prev is not None:
        last = s.sown_on - timedelta(days=1)
        harvests = [
            day_of(r.occurred_at)
            for r in mine
            if r.activity == Activity.harvest and _within(day_of(r.occurred_at), prev.sown_on, last)
        ] + [d for d in lots if _within(d, prev.sown_on, last)]
        end = min(harvests) if harvests else prev.ended_on
    props = s.field_properties or {}
    shrimp = bool(props.get("rice_shrimp")) or before.shrimp(s)
    return rows, end, shrimp


def season_records(conn: Connection, filters: Filters) -> list[SeasonRecord]:
    """The seasons ``filters`` name (field, season, commune), each with its records.

    Straw is handled after the harvest, often after the season has ended: a ``straw``
    entry belongs to the season from its sowing until the field's next season is sown.
    """
    seasons = _season_rows(conn, filters)
    if not seasons:
        return []
    diary_rows, mission_rows = applications.load(
        conn, field_ids=sorted({s.field_id for s in seasons})
    )
    apps = _by_field(applications.applications(diary_rows, mission_rows))
    standing = _by_field(r for r in diary_rows if r.stands)
    first, last = filters.since, filters.until
    following = _next_sown(seasons)
    lots = _lot_harvests(conn, sorted({s.field_id for s in seasons}))
    before = _Before.load(conn, sorted({s.field_id for s in seasons}))
    out = []
    for s in seasons:
        mine = standing.get(s.field_id, [])
        in_season = [r for r in mine if _within(day_of(r.occurred_at), s.sown_on, s.ended_on)]
        straw_end = following[s.season_id] - timedelta(days=1) if following[s.season_id] else None
        # A harvest is a diary line or a lot from the field, before the next season's sowing.
        harvests = sorted(
            [day_of(r.occurred_at) for r in in_season if r.activity == Activity.harvest]
            + [
                d
                for d in lots.get(s.field_id, ())
                if _within(d, s.sown_on, s.ended_on or straw_end)
            ]
        )
        out.append(
            SeasonRecord(
                season=s,
                applications=[
                    a
                    for a in apps.get(s.field_id, [])
                    if _within(day_of(a.at), s.sown_on, s.ended_on)
                    and _within(day_of(a.at), first, last)
                ],
                diary=[r for r in in_season if _within(day_of(r.occurred_at), first, last)],
                straw=[
                    r
                    for r in mine
                    if r.activity == Activity.straw
                    and _within(day_of(r.occurred_at), s.sown_on, straw_end)
                ],
                harvested_on=harvests[0] if harvests else None,
            )
        )
        rows, end, shrimp = _pre_season(s, mine, lots.get(s.field_id, []), before)
        out[-1] = replace(out[-1], before=rows, previous_crop_end=end, rice_shrimp=shrimp)
    return out


# ---------------------------------------------------------------- every season at once

# What the low-emission rice report reads of a diary besides what was applied: water,
# straw and the harvest.
_MRV_ACTIVITIES = (Activity.irrigate, Activity.drain, Activity.straw, Activity.harvest)

# A diary row as the low-emission rice report and its evidence read it (``from_diary``'s
# columns among them), its product an id into the catalogue (``applications.catalogue``)
# rather than a join's twelve columns on each of a province's million rows. Only standing
# rows, and of them the water, straw and harvest entries, those naming a product and a
# drone's lines: a row naming no product is no nitrogen, seed or pesticide.
_LEAN_DIARY = (
    select(
        DiaryEntry.id,
        DiaryEntry.field_id,
        DiaryEntry.chain_seq,
        DiaryEntry.occurred_at,
        # When the record was made is no figure of the report: not read (a time costs
        # microseconds each to convert, a million times).
        null().label("recorded_at"),
        DiaryEntry.activity,
        DiaryEntry.source,
        DiaryEntry.input_id.label("p_id"),
        DiaryEntry.quantity,
        DiaryEntry.unit,
        DiaryEntry.area_ha,
        DiaryEntry.mission_id,
        DiaryEntry.hash,
        DiaryEntry.straw_handling,
        DiaryEntry.straw_t_per_ha,
        true().label("stands"),
    )
    .where(
        applications.stands(),
        or_(
            DiaryEntry.activity.in_(_MRV_ACTIVITIES),
            DiaryEntry.input_id.is_not(None),
            DiaryEntry.mission_id.is_not(None),
        ),
    )
    .order_by(DiaryEntry.field_id, DiaryEntry.chain_seq)
)


def _latest(*days: date | None) -> date | None:
    known = [d for d in days if d is not None]
    return max(known) if known else None


def _earliest(*days: date | None) -> date | None:
    known = [d for d in days if d is not None]
    return min(known) if known else None


@dataclass(frozen=True, slots=True)
class _Dated:
    """A field's rows in day order, so a season takes its stretch by bisection instead of
    testing every row of the field; a stretch comes back in the rows' own order."""

    days: list[date]
    items: list[tuple[int, Any]]  # (place in the rows' own order, row)

    @classmethod
    def of(cls, rows: Iterable[Any], day: Any) -> "_Dated":
        # (day, place) is unique, so the rows themselves are never compared.
        dated = sorted((d, i, r) for i, r in enumerate(rows) if (d := day(r)) is not None)
        return cls([d for d, _, _ in dated], [(i, r) for _, i, r in dated])

    def between(self, first: date | None, last: date | None) -> list[Any]:
        """The rows dated from ``first`` to ``last`` (None: no bound)."""
        lo = 0 if first is None else bisect_left(self.days, first)
        hi = len(self.days) if last is None else bisect_right(self.days, last)
        return [r for _, r in sorted(self.items[lo:hi], key=itemgetter(0))]


_NO_ROWS = _Dated([], [])


def _day(row: Any) -> date | None:
    return row.day


def _pre_season_dated(
    s: Any, mine: _Dated, lots: list[date], before: _Before
) -> tuple[list[Any], date | None, bool]:
    """:func:`_pre_season` over a field's rows in day order."""
    prev = before.previous(s)
    start = max(prev.sown_on, s.sown_on - timedelta(days=365)) if prev else None
    start = start or s.sown_on - timedelta(days=365)
    last = s.sown_on - timedelta(days=1)
    rows = [
        r
        for r in mine.between(start, last)
        if r.activity in (Activity.irrigate, Activity.drain, Activity.straw)
    ]
    end = None
    if prev is not None:
        harvests = [
            entry_day(r) for r in mine.between(prev.sown_on, last) if r.activity == Activity.harvest
        ] + [d for d in lots if _within(d, prev.sown_on, last)]
        end = min(harvests) if harvests else prev.ended_on
    props = s.field_properties or {}
    shrimp = bool(props.get("rice_shrimp")) or before.shrimp(s)
    return rows, end, shrimp


def emission_records(conn: Connection, filters: Filters) -> list[SeasonRecord]:
    """The seasons ``filters`` name with what the low-emission rice report reads of them,
    read for all of them at once: the same records as :func:`season_records` gives for
    water, straw, the harvest, what was applied and the entries before sowing, but a
    season's ``diary`` holds only its water, straw and harvest entries and those naming a
    product or a drone mission (a note or a photo counts towards no figure).

    Six statements whatever the number of fields (the fields named by a subquery, not a
    list of ids), and each season's rows taken from its field's by bisection on the day.
    """
    seasons = _season_rows(conn, filters)
    if not seasons:
        return []
    scope = select(_season_stmt(filters).subquery().c.field_id)
    products = applications.catalogue(conn)
    day = type_coerce(vietnam_day(conn, DiaryEntry.occurred_at), Date).label("day")
    diary_rows = conn.execute(
        _LEAN_DIARY.add_columns(day).where(DiaryEntry.field_id.in_(scope))
    ).all()
    mission_rows = conn.execute(
        applications.ALL_MISSION_ROWS.where(MissionField.field_id.in_(scope)).order_by(
            Mission.started_at, Mission.mission_id
        )
    ).all()
    # A row naming neither a product nor a mission is an application of nothing.
    applying = [r for r in diary_rows if r.p_id is not None or r.mission_id is not None]
    apps = {
        f: _Dated.of(rows, lambda a: day_of(a.at))
        for f, rows in _by_field(
            applications.applications(applying, mission_rows, products=products)
        ).items()
    }
    diaries = {f: _Dated.of(rows, _day) for f, rows in _by_field(diary_rows).items()}
    first, last = filters.since, filters.until
    following = _next_sown(seasons)
    lots = _lot_harvests(conn, scope)
    before = _Before.load(conn, scope)
    out = []
    for s in seasons:
        mine = diaries.get(s.field_id, _NO_ROWS)
        in_season = mine.between(s.sown_on, s.ended_on)
        straw_end = following[s.season_id] - timedelta(days=1) if following[s.season_id] else None
        field_lots = lots.get(s.field_id, [])
        harvests = sorted(
            [entry_day(r) for r in in_season if r.activity == Activity.harvest]
            + [d for d in field_lots if _within(d, s.sown_on, s.ended_on or straw_end)]
        )
        lo, hi = _latest(s.sown_on, first), _earliest(s.ended_on, last)
        rows, end, shrimp = _pre_season_dated(s, mine, field_lots, before)
        out.append(
            SeasonRecord(
                season=s,
                applications=apps.get(s.field_id, _NO_ROWS).between(lo, hi),
                diary=mine.between(lo, hi),
                straw=[
                    r for r in mine.between(s.sown_on, straw_end) if r.activity == Activity.straw
                ],
                harvested_on=harvests[0] if harvests else None,
                before=rows,
                previous_crop_end=end,
                rice_shrimp=shrimp,
            )
        )
    return out


def season_frame(records: list[SeasonRecord]) -> pd.DataFrame:
    """One row per season: its id, crop, sowing, harvest and field area."""
    return pd.DataFrame(
        {
            "season_id": [r.season.season_id for r in records],
            "crop": [r.season.crop for r in records],
            "sown_on": [r.season.sown_on for r in records],
            "harvested_on": [r.harvested_on for r in records],
            "field_area_ha": [r.season.field_area_ha for r in records],
        }
    )
