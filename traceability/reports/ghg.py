"""A season's greenhouse-gas figures from its records, for the low-emission rice report and
the MRV evidence pack: the water regime (``services.emissions.water``) and the methane
(``services.emissions.methane``) of one :class:`SeasonRecord`, with the entries they rest on.

Which records count:

- **water**: the season's standing ``irrigate`` and ``drain`` entries, sowing to harvest;
  before sowing, those since the previous crop (its harvest, else its end);
- **straw** (the organic amendment): the latest standing ``straw`` entry before sowing,
  from the previous crop's sowing on — the straw of the crop before, worked in or taken
  away; its ``straw_t_per_ha`` is the amount (ROA), its day the days before sowing;
- **pre-season**: what the diary shows (the previous crop's end, flooding before sowing);
  where it shows neither, the farmer's statement of the season (``pre_season_water``);
  where there is none, Table 5.13's aggregated case (``PreSeason.not_known``), and
  ``pre_basis`` says which (``diary``, ``farmer``, ``ipcc_aggregated``);
- **cultivation period**: sowing to harvest, in days;
- **rice-shrimp rotation**: a field whose ``rice_shrimp`` property is set or which holds a
  shrimp season.
"""

from dataclasses import dataclass
from typing import Any

from traceability.config import get_settings
from traceability.models import Activity
from traceability.reports.season import SeasonRecord, entry_day
from traceability.services.emissions.methane import Estimate, Factors, Straw, estimate
from traceability.services.emissions.water import (
    PreSeason,
    PreSeasonWater,
    SeasonWater,
    WaterEvent,
    pre_season_water,
    season_water,
)

_WATER = (Activity.irrigate, Activity.drain)


@dataclass(frozen=True, slots=True)
class SeasonGhg:
    """A season's water regime, pre-season, straw, methane, and the rows they rest on."""

    water: SeasonWater
    pre: PreSeasonWater
    straw: Straw
    straw_entry: Any | None
    estimate: Estimate
    # The pre-season the estimate used and what it rests on (see the module's docstring).
    pre_regime: PreSeason | None = None
    pre_basis: str | None = None


def factors() -> Factors:
    """The IPCC defaults with the office's own (``AGRITRACE_EMISSION_FACTORS``) over them."""
    return Factors().with_overrides(get_settings().emission_factors)


def _events(rows: list[Any]) -> list[WaterEvent]:
    return [WaterEvent(entry_day(r), str(r.activity), r.id) for r in rows if r.activity in _WATER]


def _straw_before(record: SeasonRecord) -> tuple[Straw, Any | None]:
    rows = [r for r in record.before if r.activity == Activity.straw]
    if not rows:
        return Straw(None, None, None), None
    last = max(rows, key=lambda r: (r.occurred_at, r.chain_seq))
    handling = last.straw_handling
    days = (record.season.sown_on - entry_day(last)).days
    # str() of a StrEnum is its value, and far cheaper than asking for .value.
    code = str(handling) if handling is not None else None
    return Straw(code, last.straw_t_per_ha, days), last


def season_ghg(record: SeasonRecord, f: Factors) -> SeasonGhg:
    """The season's figures by the IPCC 2019 Tier 1 method, from its records."""
    s = record.season
    water = season_water(_events(record.diary), sown_on=s.sown_on, harvested_on=record.harvested_on)
    pre = pre_season_water(
        _events(record.before), sown_on=s.sown_on, previous_crop_end=record.previous_crop_end
    )
    pre_regime, pre_basis = pre_season_used(pre, getattr(s, "pre_season_water", None))
    straw, straw_row = _straw_before(record)
    days = (record.harvested_on - s.sown_on).days if record.harvested_on else None
    est = estimate(
        regime=water.regime,
        pre_season=pre_regime,
        days=days,
        straw=straw,
        rice_shrimp=record.rice_shrimp,
        factors=f,
    )
    return SeasonGhg(water, pre, straw, straw_row, est, pre_regime, pre_basis)


def pre_season_used(pre: PreSeasonWater, stated: str | None) -> tuple[PreSeason, str]:
    """The pre-season an estimate uses and what it rests on: the diary's, else the
    farmer's statement, else Table 5.13's aggregated case.

    >>> from datetime import date
    >>> none = pre_season_water([], sown_on=date(2026, 1, 1), previous_crop_end=None)
    >>> pre_season_used(none, None), pre_season_used(none, "non_flooded_gt_180d")[1]
    ((<PreSeason.not_known: 'not_known'>, 'ipcc_aggregated'), 'farmer')
    """
    if pre.regime is not None:
        return pre.regime, "diary"
    if stated:
        return PreSeason(stated), "farmer"
    return PreSeason.not_known, "ipcc_aggregated"


def reasons(g: SeasonGhg) -> str | None:
    """Why a figure is unknown: what the records lack, in one line (None: nothing)."""
    # A pre-season the diary leaves open is filled (farmer, IPCC aggregated case): no gap.
    pre_missing = g.pre.missing if g.pre_regime is None else ()
    missing = list(dict.fromkeys([*g.water.missing, *pre_missing, *g.estimate.missing]))
    return "; ".join(missing) if missing else None
