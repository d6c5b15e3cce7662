"""A rice season's water regime, from the diary's ``irrigate`` and ``drain`` entries.

Pure and typed: no database. The classes are the IPCC's (2019 Refinement to the 2006
Guidelines, Vol. 4, Ch. 5.5, the water regimes of Table 5.12):

- **continuously flooded**: standing water from the first flooding to the harvest, dry
  only for the end-season drainage;
- **single drainage**: one drainage period during the season besides the end-season one;
- **multiple drainage**: more than one (alternate wetting and drying is one of these).

How the entries are read:

- The field is flooded by its first ``irrigate`` of the season (direct-seeded fields are
  sown on mud; the days before it are ``before_flood_days``).
- A ``drain`` of a flooded field starts a drainage period; the next ``irrigate`` ends it.
  A drain of a field already dry starts nothing.
- A drainage period still open at the harvest is the end-season drainage, not counted
  as a drainage period.
- Without the harvest the season's last open drainage cannot be told from the end-season
  one: the class is unknown unless two drainage periods have already ended (multiple
  drainage whatever comes next).

The **pre-season** water regime (Table 5.13) is read from the field's previous crop and
the water entries between it and this sowing: flooded for 30 days or more before sowing
is ``flooded_pre_season``; otherwise the days the field lay without a crop decide
between under 180, 180 to 365, and over 365 days non-flooded. With neither a previous
crop nor a water entry before sowing it is unknown, named in ``missing``.

>>> from datetime import timedelta
>>> d = date(2026, 1, 1)
>>> r = season_water([WaterEvent(d + timedelta(3), "irrigate"),
...                   WaterEvent(d + timedelta(80), "drain")],
...                  sown_on=d, harvested_on=d + timedelta(95))
>>> (str(r.regime), r.flooded_days, r.end_season_days, r.before_flood_days)
('continuously_flooded', 77, 15, 3)
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

# What the records lack, as ``missing`` names it (pages translate these by their value).
NO_FLOOD = "no irrigate entry in the season: when the field was flooded is not recorded"
NO_HARVEST_DRAINAGE = (
    "no harvest recorded: the last drainage cannot be told from the end-season one"
)
NO_PRE_SEASON = "pre-season: no earlier crop on the field and no flooding entry before sowing"


class WaterRegime(StrEnum):
    """The IPCC water regimes during the cultivation period (2019 Refinement, Table 5.12)
    that a flooded rice field's diary can show."""

    continuously_flooded = "continuously_flooded"
    single_drainage = "single_drainage"
    multiple_drainage = "multiple_drainage"


class PreSeason(StrEnum):
    """The IPCC water regimes before the cultivation period (2019 Refinement, Table 5.13),
    and the table's aggregated case for a pre-season whose water regime is not known."""

    non_flooded_short = "non_flooded_lt_180d"
    non_flooded_long = "non_flooded_gt_180d"
    flooded = "flooded_gt_30d"
    non_flooded_over_year = "non_flooded_gt_365d"
    not_known = "not_known"


#: A field flooded this many days or more just before sowing is flooded pre-season.
FLOODED_PRE_SEASON_DAYS = 30


@dataclass(frozen=True, slots=True)
class WaterEvent:
    """One water entry: its Vietnam day, ``irrigate`` or ``drain``, and the entry's id."""

    day: date
    activity: str
    entry_id: int | None = None


@dataclass(frozen=True, slots=True)
class Period:
    """A stretch of the season in one state, from ``start`` to ``end`` (days between)."""

    state: str  # "flooded", "drained" (a drainage period), "end_season"
    start: date
    end: date | None

    @property
    def days(self) -> int | None:
        """Days from start to end, None while open."""
        return (self.end - self.start).days if self.end is not None else None


@dataclass(frozen=True, slots=True)
class SeasonWater:
    """What a season's water entries say: the IPCC class, days in each state, what is missing."""

    regime: WaterRegime | None
    drainage_periods: int
    flooded_days: int
    drained_days: int
    end_season_days: int
    before_flood_days: int | None
    irrigations: int
    drains: int
    periods: tuple[Period, ...]
    entry_ids: tuple[int, ...]
    missing: tuple[str, ...] = field(default=())


def _periods(events: Sequence[WaterEvent], sown_on: date) -> tuple[list[Period], date | None]:
    """The flooded and drained stretches, the last one open, and the day of first flooding."""
    periods: list[Period] = []
    first_flood: date | None = None
    state, since = "dry", sown_on
    for e in events:
        if e.activity == "irrigate" and state != "flooded":
            if state == "drained":
                periods.append(Period("drained", since, e.day))
            if first_flood is None:
                first_flood = e.day
            state, since = "flooded", e.day
        elif e.activity == "drain" and state == "flooded":
            periods.append(Period("flooded", since, e.day))
            state, since = "drained", e.day
    if state != "dry":
        periods.append(Period(state, since, None))
    return periods, first_flood


def _close(periods: list[Period], harvested_on: date | None) -> list[Period]:
    """The open stretch ended at the harvest (an open drainage is the end-season one)."""
    if not periods or periods[-1].end is not None or harvested_on is None:
        return periods
    last = periods[-1]
    state = "end_season" if last.state == "drained" else last.state
    return [*periods[:-1], Period(state, last.start, max(harvested_on, last.start))]


def _regime(drainages: int) -> WaterRegime:
    if drainages == 0:
        return WaterRegime.continuously_flooded
    return WaterRegime.single_drainage if drainages == 1 else WaterRegime.multiple_drainage


def season_water(
    events: Iterable[WaterEvent], *, sown_on: date, harvested_on: date | None
) -> SeasonWater:
    """The water regime of a season from its ``irrigate`` and ``drain`` entries.

    Events outside the season (before sowing, after the harvest) are not the season's.

    >>> d = date(2026, 1, 1)
    >>> season_water([], sown_on=d, harvested_on=date(2026, 4, 1)).missing
    ('no irrigate entry in the season: when the field was flooded is not recorded',)
    """
    mine = sorted(
        (e for e in events if e.day >= sown_on and (harvested_on is None or e.day <= harvested_on)),
        key=lambda e: (e.day, e.activity != "irrigate"),
    )
    periods, first_flood = _periods(mine, sown_on)
    periods = _close(periods, harvested_on)
    closed_drainages = [p for p in periods if p.state == "drained" and p.end is not None]
    missing: list[str] = []
    regime: WaterRegime | None = None
    if first_flood is None:
        missing.append(NO_FLOOD)
    elif harvested_on is None and len(closed_drainages) < 2:
        missing.append(NO_HARVEST_DRAINAGE)
    else:
        regime = _regime(len(closed_drainages))
    return SeasonWater(
        regime=regime,
        drainage_periods=len(closed_drainages),
        flooded_days=sum(p.days or 0 for p in periods if p.state == "flooded"),
        drained_days=sum(p.days or 0 for p in closed_drainages),
        end_season_days=sum(p.days or 0 for p in periods if p.state == "end_season"),
        before_flood_days=(first_flood - sown_on).days if first_flood else None,
        irrigations=sum(1 for e in mine if e.activity == "irrigate"),
        drains=sum(1 for e in mine if e.activity == "drain"),
        periods=tuple(periods),
        entry_ids=tuple(e.entry_id for e in mine if e.entry_id is not None),
        missing=tuple(missing),
    )


@dataclass(frozen=True, slots=True)
class PreSeasonWater:
    """The water regime before sowing (Table 5.13), or why it is unknown."""

    regime: PreSeason | None
    days_without_crop: int | None
    flooded_days_before_sowing: int
    entry_ids: tuple[int, ...]
    missing: tuple[str, ...] = field(default=())


def _flooded_before(events: Sequence[WaterEvent], sown_on: date) -> int:
    """The longest flooded stretch ending at or before sowing (a drain or the sowing ends it)."""
    longest, since = 0, None
    for e in events:
        if e.activity == "irrigate" and since is None:
            since = e.day
        elif e.activity == "drain" and since is not None:
            longest, since = max(longest, (e.day - since).days), None
    if since is not None:
        longest = max(longest, (sown_on - since).days)
    return longest


def pre_season_water(
    events: Iterable[WaterEvent], *, sown_on: date, previous_crop_end: date | None
) -> PreSeasonWater:
    """The pre-season water regime from the previous crop's end and the water entries
    between it and this sowing.

    >>> pre_season_water([], sown_on=date(2026, 5, 1), previous_crop_end=date(2026, 4, 10))
    PreSeasonWater(regime=<PreSeason.non_flooded_short: 'non_flooded_lt_180d'>, \
days_without_crop=21, flooded_days_before_sowing=0, entry_ids=(), missing=())
    """
    before = sorted(
        (
            e
            for e in events
            if e.day < sown_on and (previous_crop_end is None or e.day >= previous_crop_end)
        ),
        key=lambda e: (e.day, e.activity != "irrigate"),
    )
    flooded = _flooded_before(before, sown_on)
    gap = (sown_on - previous_crop_end).days if previous_crop_end is not None else None
    ids = tuple(e.entry_id for e in before if e.entry_id is not None)
    if flooded >= FLOODED_PRE_SEASON_DAYS:
        regime: PreSeason | None = PreSeason.flooded
    elif gap is None:
        regime = None
    elif gap < 180:
        regime = PreSeason.non_flooded_short
    elif gap <= 365:
        regime = PreSeason.non_flooded_long
    else:
        regime = PreSeason.non_flooded_over_year
    missing = () if regime is not None else (NO_PRE_SEASON,)
    return PreSeasonWater(regime, gap, flooded, ids, missing)
