"""What every report shares: its filters, Vietnam days, ISO weeks and crop seasons.

Imports nothing from the other report modules, so each of them can build on it.
"""

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Literal

import pandas as pd
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import aliased

from traceability.models import Organisation
from traceability.timezone import VN_TZ

# Vietnam keeps UTC+7 all year: a fixed offset needs no time-zone database.
VIETNAM = VN_TZ

Bind = Engine | Connection

# The organisation that owns a drone (a drone service), told apart from a farmer's.
drone_org = aliased(Organisation, name="drone_org")


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


@contextmanager
def bulk() -> Iterator[None]:
    """Python's cyclic garbage collector paused while a report builds its objects.

    A province's report makes millions of lists, dicts and rows, none of them in a
    cycle; each few hundred thousand the collector walked all of them again, which took
    over a third of the MRV pack's time (7.3 s → 4.3 s). Reference counting still frees
    them. Whoever paused it first starts it again.
    """
    paused = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if paused:
            gc.enable()


def connected(build: Callable[[Connection, Filters], pd.DataFrame]) -> Callable[..., Any]:
    """Let a report take an Engine (a connection of its own) or a Connection; the report
    is built with the collector paused (:func:`bulk`)."""

    def report(bind: Bind, filters: Filters = NO_FILTERS) -> pd.DataFrame:
        with bulk():
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
