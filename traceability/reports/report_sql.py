"""The application record as one SQL selectable, for reports that aggregate in the database.

The rows are those ``services.applications.applications`` makes in Python — a standing
diary entry naming a product that is no purchase or sale and no mission's evidence
(``applications.applied``), and each mission's result that put something on a field
(``applications.puts_on_field``) — so a report can let the database sum a province's
season instead of building a million records in Python. No web imports.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Date,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy.engine import Connection
from sqlalchemy.orm import aliased

from traceability.models import DiaryEntry, InputProduct, Mission, MissionField
from traceability.services import applications
from traceability.timezone import VN_TZ_NAME


def vietnam_day(conn: Connection, column: Any) -> Any:
    """SQL: the Vietnam calendar day (UTC+7) of a UTC timestamp column."""
    if conn.dialect.name == "postgresql":
        return cast(func.timezone(VN_TZ_NAME, column), Date)
    return func.date(column, "+7 hours")  # SQLite keeps UTC as text


def week_or_day(conn: Connection, column: Any) -> tuple[Any, bool]:
    """SQL: the ISO week (``2026-W09``) of a UTC timestamp in Vietnam time, and True;
    where the database has no ISO weeks (SQLite), the Vietnam day and False."""
    if conn.dialect.name == "postgresql":
        local = func.timezone(VN_TZ_NAME, column)
        return func.to_char(local, 'IYYY-"W"IW'), True
    return vietnam_day(conn, column), False


def week_start_or_day(conn: Connection, column: Any) -> tuple[Any, bool]:
    """SQL: the first instant (Vietnam time) of the ISO week of a UTC timestamp, and True;
    where the database has no ISO weeks (SQLite), the Vietnam day and False. A week's
    start groups as cheaply as a number; :func:`iso_week_label` names it once summed."""
    if conn.dialect.name == "postgresql":
        return func.date_trunc("week", func.timezone(VN_TZ_NAME, column)), True
    return vietnam_day(conn, column), False


def iso_week_label(column: Any) -> Any:
    """SQL (PostgreSQL): a week's start (:func:`week_start_or_day`) as ``2026-W09``."""
    return func.to_char(column, 'IYYY-"W"IW')


# What :func:`summing` sets, and why (each measured on a province's season, 1,000,000
# diary entries, 18,000 sums of 275,000 applications):
_SUMMING = {
    # The planner compiled the sums (JIT): 300 ms of a 1.5 s answer, never paid back,
    # the work being a few hash joins, not long expressions.
    "jit": "off",
    # It cannot see that a season's applications fall into few weeks, communes and
    # products (the keys come from three tables), so it expects as many groups as rows
    # and sorts them all, on disk, rather than hash them: 650 ms against 400 ms.
    "enable_sort": "off",
}


@contextmanager
def summing(conn: Connection) -> Iterator[None]:
    """Plan the queries inside for summing a season (PostgreSQL; :data:`_SUMMING`), and
    put the settings back after: the rest of the transaction is planned as before."""
    if conn.dialect.name != "postgresql":
        yield
        return
    before = {
        name: conn.execute(select(func.current_setting(name))).scalar_one() for name in _SUMMING
    }
    for name, value in _SUMMING.items():
        conn.execute(select(func.set_config(name, value, True)))
    yield
    # Not on an error: the transaction is then aborted, and its rollback undoes them.
    for name, value in before.items():
        conn.execute(select(func.set_config(name, value, True)))


def _in_diary() -> Any:
    return (
        select(
            DiaryEntry.occurred_at.label("at"),
            DiaryEntry.field_id,
            InputProduct.code.label("product_code"),
            InputProduct.name.label("product_name"),
            DiaryEntry.area_ha.label("area_ha"),
            null().label("drone_code"),
            cast(DiaryEntry.activity, String).label("activity"),
        )
        .join(InputProduct, InputProduct.id == DiaryEntry.input_id)
        # Implied by the join, but said: the planner then drops the four in five entries
        # naming no product before it looks for their corrections.
        .where(DiaryEntry.input_id.is_not(None), applications.applied())
    )


# The fixes' own time first, as an application's (applications.from_mission).
_MISSION_AT = func.coalesce(Mission.last_fix_at, Mission.ended_at, Mission.started_at)
# The work a mission did, as its diary line records it (``missions.diary_lines``): a
# fertilising or seeding flight is that, any other a spray.
_MISSION_ACTIVITY = case(
    (Mission.type.in_(["fertilize", "seed"]), cast(Mission.type, String)),
    else_=literal("spray", String),
)


_linked = aliased(InputProduct, name="linked_product")
_named = aliased(InputProduct, name="named_product")


def _by_drones() -> Any:
    # applications.MISSION_PRODUCT as two joins a database can hash (an OR cannot be).
    return (
        select(
            _MISSION_AT.label("at"),
            MissionField.field_id,
            Mission.product_code,
            func.coalesce(_linked.name, _named.name).label("product_name"),
            MissionField.treated_area_ha.label("area_ha"),
            Mission.drone_code,
            _MISSION_ACTIVITY.label("activity"),
        )
        .join(Mission, Mission.id == MissionField.mission_pk)
        .outerjoin(_linked, _linked.id == Mission.product_id)
        .outerjoin(_named, and_(Mission.product_id.is_(None), _named.code == Mission.product_code))
        .where(applications.puts_on_field(), Mission.product_code.is_not(None))
        .where(Mission.product_code != "")
    )


def _limited(
    stmt: Any, at: Any, code: Any, since: datetime | None, until: datetime | None, product: Any
) -> Any:
    if since:
        stmt = stmt.where(at >= since)
    if until:
        stmt = stmt.where(at <= until)
    if product:
        stmt = stmt.where(code == product)
    return stmt


def _parts(
    since: datetime | None, until: datetime | None, product: str | None, drone: str | None
) -> list[Any]:
    flown = _by_drones()
    if drone:
        flown = flown.where(Mission.drone_code == drone)
    parts = [_limited(flown, _MISSION_AT, Mission.product_code, since, until, product)]
    if not drone:
        by_hand = _limited(
            _in_diary(), DiaryEntry.occurred_at, InputProduct.code, since, until, product
        )
        parts.insert(0, by_hand)
    return parts


def applied(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    product: str | None = None,
    drone: str | None = None,
) -> Any:
    """Every application of a named product: a subquery of ``at``, ``field_id``,
    ``product_code``, ``product_name``, ``area_ha``, ``drone_code`` (NULL by hand) and
    ``activity`` (the diary's activity, or the work a mission did: ``spray``,
    ``fertilize``, ``seed``, ...).

    ``at`` is a diary entry's time or a mission's end (its start if it has none), as
    in the record; ``drone`` keeps one drone's missions only (a hand entry has none).
    """
    return union_all(*_parts(since, until, product, drone)).subquery("applied")


def applied_parts(
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    product: str | None = None,
    drone: str | None = None,
) -> list[Any]:
    """:func:`applied`'s rows as one subquery per source (the diary's, the drones'), with
    its columns: a report that sums them can let the database sum each source on its
    own before the two are put together, which it cannot do through a union."""
    parts = _parts(since, until, product, drone)
    return [part.subquery(f"applied_{k}") for k, part in enumerate(parts)]
