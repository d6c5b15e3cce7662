"""Methane from a rice season, IPCC 2019 Tier 1, and its reduction against the baseline.

Pure and typed: no database. The method is Equation 5.2 of the 2019 Refinement to the
2006 IPCC Guidelines (Vol. 4, Ch. 5.5, rice cultivation), for one field and season::

    EF_i = EFc × SFw × SFp × SFo            (kg CH4 per ha per day)
    CH4  = EF_i × t                         (kg CH4 per ha over the season, t days)

with ``SFo = (1 + Σ ROA_i × CFOA_i) ^ 0.59`` (Equation 5.3). The default factors, each
from its table of the 2019 Refinement, Vol. 4, Ch. 5:

- ``EFc`` 1.22 kg CH4/ha/day: the baseline for continuously flooded fields without
  organic amendments, South-East Asia (Table 5.11A; the global default of Table 5.11
  is 1.19).
- ``SFw`` (Table 5.12, aggregated case): continuously flooded 1.00, single drainage
  0.71, multiple drainage 0.55 (the factors of the MRV process the Ministry's Institute
  for Agricultural Environment agreed with the World Bank for the Mekong programme).
- ``SFp`` (Table 5.13): non-flooded pre-season under 180 days 1.00, over 180 days 0.89,
  over 365 days 0.59; flooded pre-season (more than 30 days) 2.41 (the disaggregated
  case); and, where the pre-season water regime is not known, the table's aggregated
  case, 1.22 (the value of the 2006 Guidelines' Table 5.13, kept in the 2019
  Refinement's). The report says which of them a figure rests on (``pre_season_basis``).
- ``CFOA`` (Table 5.14): straw incorporated shortly (under 30 days) before cultivation
  1.00, straw incorporated long (30 days or more) before cultivation 0.19, compost
  0.17, farmyard manure 0.21, green manure 0.45. ``ROA`` is in tonnes per hectare (dry
  weight for straw, fresh weight for the others).

An office with country-specific factors sets them (``AGRITRACE_EMISSION_FACTORS``, a
JSON object: :meth:`Factors.with_overrides`); the figures say which factors they used.

The **baseline** is the same field and season continuously flooded with its straw
incorporated shortly before cultivation (the practice the programme replaces): ``SFw``
1.00 and the straw amount the diary recorded at ``CFOA`` 1.00. The **reduction** is the
baseline less the season's own estimate, and in CO2 equivalent with **GWP100 = 28 for
CH4 (IPCC AR5)**: the values the Paris Agreement's transparency framework requires for
national inventories until 2030 (decision 18/CMA.1, annex, para. 37), which Vietnam's
reports and the programme's MRV use; AR6's 27.0 would move every figure by 3.6 %.

A field in rice–shrimp rotation gets no figure: the 2019 Refinement publishes no
scaling factor for a rice crop grown on a field that held brackish water for shrimp
(its flooded pre-season factor was derived from freshwater fields), and inventing one
would not survive verification.
"""

from dataclasses import dataclass, field, replace
from typing import Any

from traceability.services.emissions.water import PreSeason, WaterRegime

# The baseline's water regime, looked up once (an enum member's .value is a descriptor call).
_CONTINUOUSLY_FLOODED = WaterRegime.continuously_flooded.value


# What the records lack, as ``Estimate.missing`` names it (pages translate these by value).
RICE_SHRIMP = (
    "rice-shrimp rotation: the IPCC 2019 Refinement publishes no scaling factor "
    "for it (not yet published)"
)
NO_STRAW_ENTRY = "straw: no straw entry before sowing (incorporated or not is unknown)"
NO_STRAW_AMOUNT = "straw: incorporated, but its amount (t/ha) is not recorded"
NO_STRAW_WHEN = "straw: incorporated, but when is not recorded"
NO_BASELINE_STRAW = "baseline: the straw amount (t/ha) is not recorded"
NO_HARVEST_DAYS = "cultivation period: no harvest recorded"


@dataclass(frozen=True, slots=True)
class Factors:
    """The factors an estimate uses (defaults: IPCC 2019 Refinement, Vol. 4, Ch. 5)."""

    # Table 5.11A, South-East Asia, kg CH4 per ha per day.
    efc: float = 1.22
    # Table 5.12 (aggregated case).
    sfw: dict[str, float] = field(
        default_factory=lambda: {
            WaterRegime.continuously_flooded.value: 1.00,
            WaterRegime.single_drainage.value: 0.71,
            WaterRegime.multiple_drainage.value: 0.55,
        }
    )
    # Table 5.13: the disaggregated case, and the aggregated case for a pre-season whose
    # water regime is not known.
    sfp: dict[str, float] = field(
        default_factory=lambda: {
            PreSeason.non_flooded_short.value: 1.00,
            PreSeason.non_flooded_long.value: 0.89,
            PreSeason.flooded.value: 2.41,
            PreSeason.non_flooded_over_year.value: 0.59,
            PreSeason.not_known.value: 1.22,
        }
    )
    # Table 5.14, per tonne of amendment per ha.
    cfoa: dict[str, float] = field(
        default_factory=lambda: {
            "straw_short": 1.00,
            "straw_long": 0.19,
            "compost": 0.17,
            "farmyard_manure": 0.21,
            "green_manure": 0.45,
        }
    )
    # Equation 5.3.
    sfo_exponent: float = 0.59
    # IPCC AR5 GWP100 for CH4 (see the module's docstring for why AR5).
    gwp_ch4: float = 28.0
    source: str = "IPCC 2019 Refinement, Vol. 4, Ch. 5 (Tables 5.11A, 5.12-5.14); GWP AR5"

    def with_overrides(self, overrides: dict[str, Any] | None) -> "Factors":
        """These factors with an office's own: ``{"efc": 1.3, "sfw": {"single_drainage":
        0.6}, "source": "..."}`` (tables merge key by key; unknown keys are refused).

        >>> Factors().with_overrides({"efc": 1.5, "sfw": {"single_drainage": 0.6}}).sfw[
        ...     "single_drainage"], Factors().with_overrides({"efc": 1.5}).efc
        (0.6, 1.5)
        """
        if not overrides:
            return self
        known = {"efc", "sfw", "sfp", "cfoa", "sfo_exponent", "gwp_ch4", "source"}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ValueError(f"unknown emission factor(s) {unknown}; known: {sorted(known)}")
        changes: dict[str, Any] = {}
        for key, value in overrides.items():
            if key in ("sfw", "sfp", "cfoa"):
                changes[key] = {
                    **getattr(self, key),
                    **{str(k): float(v) for k, v in value.items()},
                }
            elif key == "source":
                changes[key] = str(value)
            else:
                changes[key] = float(value)
        changes.setdefault("source", f"{self.source}; with country-specific factors")
        return replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Amendment:
    """An organic amendment before the season: its Table 5.14 kind and tonnes per ha."""

    kind: str
    t_per_ha: float


def sfo(amendments: list[Amendment], factors: Factors) -> float:
    """Equation 5.3: ``(1 + Σ ROA × CFOA) ^ 0.59``.

    >>> round(sfo([Amendment("straw_short", 6.0)], Factors()), 4)
    3.1522
    >>> sfo([], Factors())
    1.0
    """
    total = sum(a.t_per_ha * factors.cfoa[a.kind] for a in amendments)
    return (1.0 + total) ** factors.sfo_exponent


@dataclass(frozen=True, slots=True)
class Straw:
    """The straw worked into the field before sowing, as the diary says it."""

    handling: str | None  # removed, incorporated, composted, burnt; None: no entry
    t_per_ha: float | None
    days_before_sowing: int | None


@dataclass(frozen=True, slots=True)
class Estimate:
    """A season's methane, its baseline and the reduction (None where unknown, with why)."""

    ch4_kg_per_ha: float | None
    baseline_ch4_kg_per_ha: float | None
    ch4_reduction_kg_per_ha: float | None
    co2e_reduction_t_per_ha: float | None
    days: int | None
    efc: float
    sfw: float | None
    sfp: float | None
    sfo: float | None
    baseline_sfo: float | None
    gwp_ch4: float
    missing: tuple[str, ...]


def _straw_sfo(straw: Straw, factors: Factors) -> tuple[float | None, str | None]:
    """The season's SFo from its straw, or why it is unknown."""
    if straw.handling is None:
        return None, NO_STRAW_ENTRY
    if straw.handling != "incorporated":
        return 1.0, None  # removed, composted elsewhere or burnt: nothing left to rot
    if straw.t_per_ha is None:
        return None, NO_STRAW_AMOUNT
    if straw.days_before_sowing is None:
        return None, NO_STRAW_WHEN
    kind = "straw_short" if straw.days_before_sowing < 30 else "straw_long"
    return sfo([Amendment(kind, straw.t_per_ha)], factors), None


def _baseline_sfo(straw: Straw, factors: Factors) -> tuple[float | None, str | None]:
    if straw.t_per_ha is None:
        return None, NO_BASELINE_STRAW
    return sfo([Amendment("straw_short", straw.t_per_ha)], factors), None


def _factor(table: dict[str, float], key: Any, what: str) -> tuple[float | None, str | None]:
    if key is None:
        return None, None
    if str(key) not in table:
        return None, f"{what}: no factor for '{key}'"
    return table[str(key)], None


def estimate(
    *,
    regime: WaterRegime | None,
    pre_season: PreSeason | None,
    days: int | None,
    straw: Straw,
    rice_shrimp: bool = False,
    factors: Factors | None = None,
) -> Estimate:
    """CH4 of one season per ha, its baseline (continuously flooded, straw incorporated
    shortly before), the reduction and its CO2 equivalent. What the records cannot say
    leaves a figure None and names why in ``missing``.

    >>> e = estimate(regime=WaterRegime.multiple_drainage,
    ...              pre_season=PreSeason.non_flooded_short, days=100,
    ...              straw=Straw("removed", 6.0, 15))
    >>> e.ch4_kg_per_ha, round(e.baseline_ch4_kg_per_ha, 2)
    (67.1, 384.56)
    """
    f = factors or Factors()
    missing: list[str] = []
    if rice_shrimp:
        missing.append(RICE_SHRIMP)
    sfw, why_w = _factor(f.sfw, regime, "water regime")
    sfp, why_p = _factor(f.sfp, pre_season, "pre-season")
    sfo_now, why_o = _straw_sfo(straw, f)
    sfo_base, why_b = _baseline_sfo(straw, f)
    missing += [w for w in (why_w, why_p, why_o, why_b) if w]
    if days is None:
        missing.append(NO_HARVEST_DAYS)
    known = not rice_shrimp and days is not None and sfp is not None

    def ch4(*scales: float | None) -> float | None:
        if not known or any(s is None for s in scales):
            return None
        value = f.efc * float(days or 0) * float(sfp or 0)
        for s in scales:
            value *= float(s or 0)
        return round(value, 6)

    actual = ch4(sfw, sfo_now)
    baseline = ch4(f.sfw[_CONTINUOUSLY_FLOODED], sfo_base)
    reduction = round(baseline - actual, 6) if actual is not None and baseline is not None else None
    return Estimate(
        ch4_kg_per_ha=actual,
        baseline_ch4_kg_per_ha=baseline,
        ch4_reduction_kg_per_ha=reduction,
        co2e_reduction_t_per_ha=(
            round(reduction * f.gwp_ch4 / 1000.0, 6) if reduction is not None else None
        ),
        days=days,
        efc=f.efc,
        sfw=sfw,
        sfp=sfp,
        sfo=sfo_now,
        baseline_sfo=sfo_base,
        gwp_ch4=f.gwp_ch4,
        missing=tuple(missing),
    )
