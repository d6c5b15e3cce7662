"""A season's water regime and its methane by the IPCC 2019 Tier 1 method, worked by hand.

The factors, from the 2019 Refinement to the 2006 IPCC Guidelines, Vol. 4, Ch. 5:
EFc 1.22 kg CH4/ha/day (Table 5.11A, South-East Asia); SFw 1.00 / 0.71 / 0.55 for
continuously flooded / single drainage / multiple drainage (Table 5.12); SFp 1.00 for a
non-flooded pre-season under 180 days, 0.89 over 180 days (Table 5.13); SFo = (1 + ROA ×
CFOA)^0.59 with CFOA 1.00 for straw incorporated under 30 days before cultivation and
0.19 for 30 days or more (Table 5.14). GWP100 of CH4 = 28 (AR5).

Powers used below, worked out with a calculator: 6^0.59 = e^(0.59 × ln 6) = e^(0.59 ×
1.791759) = e^1.057138 = 2.878122; 7^0.59 = e^(0.59 × 1.945910) = e^1.148087 = 3.152157;
1.95^0.59 = e^(0.59 × 0.667829) = e^0.394019 = 1.482929.
"""

from datetime import date, timedelta

import pytest

from traceability.services.emissions.methane import Factors, Straw, estimate, sfo
from traceability.services.emissions.water import (
    PreSeason,
    WaterEvent,
    WaterRegime,
    pre_season_water,
    season_water,
)

SOWN = date(2026, 1, 1)


def day(n: int) -> date:
    return SOWN + timedelta(days=n)


def events(*pairs: tuple[int, str]) -> list[WaterEvent]:
    return [WaterEvent(day(n), activity, entry_id=i) for i, (n, activity) in enumerate(pairs, 1)]


def test_continuously_flooded_season():
    """Sown 1 January, flooded on day 3, drained on day 90 for the harvest on day 100.

    The drain is not followed by an irrigation before the harvest: it is the end-season
    drainage, so the season is continuously flooded (SFw 1.00). Flooded days 3→90 = 87,
    end-season 90→100 = 10, 3 days on mud before the flooding; t = 100 days.
    The previous crop ended 22 days before sowing: non-flooded pre-season < 180 d, SFp 1.00.
    Straw removed (SFo 1.00), its amount not recorded.

    CH4 = 1.22 × 1.00 × 1.00 × 1.00 × 100 = 122.0 kg/ha. The baseline needs the straw
    amount that would have been worked in: not recorded, so it and the reduction are
    unknown, and say why.
    """
    water = season_water(
        events((3, "irrigate"), (90, "drain")), sown_on=SOWN, harvested_on=day(100)
    )
    assert water.regime == WaterRegime.continuously_flooded
    assert (water.flooded_days, water.drained_days, water.end_season_days) == (87, 0, 10)
    assert water.before_flood_days == 3 and water.drainage_periods == 0
    pre = pre_season_water([], sown_on=SOWN, previous_crop_end=SOWN - timedelta(days=22))
    assert pre.regime == PreSeason.non_flooded_short and pre.days_without_crop == 22
    e = estimate(regime=water.regime, pre_season=pre.regime, days=100,
                 straw=Straw("removed", None, 20))  # fmt: skip
    assert e.ch4_kg_per_ha == pytest.approx(122.0)
    assert e.baseline_ch4_kg_per_ha is None and e.ch4_reduction_kg_per_ha is None
    assert e.co2e_reduction_t_per_ha is None
    assert any("straw amount" in m for m in e.missing)


def test_single_drainage_season():
    """Flooded day 3, drained day 40, flooded again day 47, drained day 90, harvest day 100.

    One drainage period (40→47, 7 days) besides the end-season one: single drainage,
    SFw 0.71. The previous crop ended 200 days before sowing: non-flooded pre-season
    > 180 d, SFp 0.89. Straw removed, 5 t/ha recorded (SFo 1.00).

    CH4 = 1.22 × 0.71 × 0.89 × 1.00 × 100 = 77.0918 kg/ha.
    Baseline (continuously flooded, the 5 t/ha worked in shortly before):
    1.22 × 1.00 × 0.89 × 6^0.59 × 100 = 108.58 × 2.878122 = 312.5065 kg/ha.
    Reduction 312.5065 − 77.0918 = 235.4147 kg/ha = 235.4147 × 28 / 1000 = 6.5916 t CO2e/ha.
    """
    water = season_water(
        events((3, "irrigate"), (40, "drain"), (47, "irrigate"), (90, "drain")),
        sown_on=SOWN,
        harvested_on=day(100),
    )
    assert water.regime == WaterRegime.single_drainage
    assert (water.flooded_days, water.drained_days, water.end_season_days) == (37 + 43, 7, 10)
    pre = pre_season_water([], sown_on=SOWN, previous_crop_end=SOWN - timedelta(days=200))
    assert pre.regime == PreSeason.non_flooded_long
    e = estimate(regime=water.regime, pre_season=pre.regime, days=100,
                 straw=Straw("removed", 5.0, 150))  # fmt: skip
    assert e.ch4_kg_per_ha == pytest.approx(77.0918, abs=1e-4)
    assert e.baseline_ch4_kg_per_ha == pytest.approx(312.5065, abs=1e-3)
    assert e.ch4_reduction_kg_per_ha == pytest.approx(235.4147, abs=1e-3)
    assert e.co2e_reduction_t_per_ha == pytest.approx(6.5916, abs=1e-4)
    assert e.missing == ()


def test_awd_season_with_straw_removed():
    """Alternate wetting and drying: flooded day 2; drained 20→25, 35→40, 55→60; drained
    day 85 for the harvest on day 95. Three drainage periods: multiple drainage, SFw 0.55.
    Previous crop ended 20 days before sowing: SFp 1.00. Straw removed, 6 t/ha (SFo 1.00).

    CH4 = 1.22 × 0.55 × 1.00 × 1.00 × 95 = 63.745 kg/ha.
    Baseline = 1.22 × 1.00 × 1.00 × 7^0.59 × 95 = 115.9 × 3.152157 = 365.3350 kg/ha.
    Reduction 365.3350 − 63.745 = 301.5900 kg/ha; × 28 / 1000 = 8.4445 t CO2e/ha.
    """
    water = season_water(
        events((2, "irrigate"), (20, "drain"), (25, "irrigate"), (35, "drain"),
               (40, "irrigate"), (55, "drain"), (60, "irrigate"), (85, "drain")),
        sown_on=SOWN,
        harvested_on=day(95),
    )  # fmt: skip
    assert water.regime == WaterRegime.multiple_drainage
    assert water.drainage_periods == 3 and water.drained_days == 15
    assert water.flooded_days == 18 + 10 + 15 + 25 and water.end_season_days == 10
    assert water.irrigations == 4 and water.drains == 4 and water.entry_ids == tuple(range(1, 9))
    pre = pre_season_water([], sown_on=SOWN, previous_crop_end=SOWN - timedelta(days=20))
    e = estimate(regime=water.regime, pre_season=pre.regime, days=95,
                 straw=Straw("removed", 6.0, 18))  # fmt: skip
    assert e.ch4_kg_per_ha == pytest.approx(63.745, abs=1e-4)
    assert e.baseline_ch4_kg_per_ha == pytest.approx(365.3350, abs=1e-3)
    assert e.ch4_reduction_kg_per_ha == pytest.approx(301.5900, abs=1e-3)
    assert e.co2e_reduction_t_per_ha == pytest.approx(8.4445, abs=1e-4)


def test_straw_incorporated_twenty_days_before_sowing():
    """AWD (multiple drainage, SFw 0.55), pre-season < 180 d (SFp 1.00), t = 100 days,
    5 t/ha of straw incorporated 20 days before sowing: under 30 days, CFOA 1.00, so
    SFo = (1 + 5 × 1.00)^0.59 = 6^0.59 = 2.878122.

    CH4 = 1.22 × 0.55 × 1.00 × 2.878122 × 100 = 193.1220 kg/ha.
    Baseline = 1.22 × 1.00 × 1.00 × 2.878122 × 100 = 351.1309 kg/ha.
    Reduction = 351.1309 × 0.45 = 158.0089 kg/ha; × 28 / 1000 = 4.4242 t CO2e/ha.

    The same straw worked in 40 days before sowing (CFOA 0.19): SFo = (1 + 0.95)^0.59 =
    1.482929 and CH4 = 1.22 × 0.55 × 1.482929 × 100 = 99.5046 kg/ha.
    """
    short = estimate(regime=WaterRegime.multiple_drainage, pre_season=PreSeason.non_flooded_short,
                     days=100, straw=Straw("incorporated", 5.0, 20))  # fmt: skip
    assert short.sfo == pytest.approx(2.878122, abs=1e-6)
    assert short.ch4_kg_per_ha == pytest.approx(193.1220, abs=1e-3)
    assert short.baseline_ch4_kg_per_ha == pytest.approx(351.1309, abs=1e-3)
    assert short.ch4_reduction_kg_per_ha == pytest.approx(158.0089, abs=1e-3)
    assert short.co2e_reduction_t_per_ha == pytest.approx(4.4242, abs=1e-4)
    long = estimate(regime=WaterRegime.multiple_drainage, pre_season=PreSeason.non_flooded_short,
                    days=100, straw=Straw("incorporated", 5.0, 40))  # fmt: skip
    assert long.sfo == pytest.approx(1.482929, abs=1e-6)
    assert long.ch4_kg_per_ha == pytest.approx(99.5046, abs=1e-3)


def test_incorporated_straw_without_its_amount_is_unknown_not_guessed():
    e = estimate(regime=WaterRegime.multiple_drainage, pre_season=PreSeason.non_flooded_short,
                 days=100, straw=Straw("incorporated", None, 10))  # fmt: skip
    assert e.ch4_kg_per_ha is None and e.sfo is None
    assert any("amount (t/ha) is not recorded" in m for m in e.missing)
    nothing = estimate(regime=WaterRegime.multiple_drainage,
                       pre_season=PreSeason.non_flooded_short, days=100,
                       straw=Straw(None, None, None))  # fmt: skip
    assert nothing.ch4_kg_per_ha is None
    assert any("no straw entry" in m for m in nothing.missing)


def test_rice_shrimp_rotation_says_its_factor_is_not_published():
    e = estimate(regime=WaterRegime.multiple_drainage, pre_season=PreSeason.flooded, days=100,
                 straw=Straw("removed", 5.0, 10), rice_shrimp=True)  # fmt: skip
    assert e.ch4_kg_per_ha is None and e.ch4_reduction_kg_per_ha is None
    assert any("rice-shrimp" in m and "not yet published" in m for m in e.missing)


def test_what_is_missing_to_classify_is_named():
    no_water = season_water([], sown_on=SOWN, harvested_on=day(100))
    assert no_water.regime is None and "no irrigate entry" in no_water.missing[0]
    open_season = season_water(events((3, "irrigate"), (40, "drain")), sown_on=SOWN,
                               harvested_on=None)  # fmt: skip
    assert open_season.regime is None and "no harvest" in open_season.missing[0]
    # Two drainage periods already over: multiple drainage whatever the harvest brings.
    awd_so_far = season_water(
        events((3, "irrigate"), (20, "drain"), (25, "irrigate"), (35, "drain"), (40, "irrigate")),
        sown_on=SOWN,
        harvested_on=None,
    )
    assert awd_so_far.regime == WaterRegime.multiple_drainage
    unknown_pre = pre_season_water([], sown_on=SOWN, previous_crop_end=None)
    assert unknown_pre.regime is None and "pre-season" in unknown_pre.missing[0]


def test_a_drain_of_a_dry_field_and_entries_outside_the_season_count_nothing():
    water = season_water(
        events((-5, "irrigate"), (3, "irrigate"), (30, "drain"), (31, "drain"), (36, "irrigate"),
               (120, "irrigate")),
        sown_on=SOWN,
        harvested_on=day(100),
    )  # fmt: skip
    assert water.regime == WaterRegime.single_drainage
    assert water.drained_days == 6 and water.drains == 2 and water.irrigations == 2
    # Flooded 3→30 and 36→100 (the harvest): 27 + 64.
    assert water.flooded_days == 91 and water.end_season_days == 0


def test_flooded_pre_season():
    """Flooded 40 days before sowing and drained 5 days before it: 35 days flooded ≥ 30."""
    pre = pre_season_water(
        [WaterEvent(SOWN - timedelta(40), "irrigate"), WaterEvent(SOWN - timedelta(5), "drain")],
        sown_on=SOWN,
        previous_crop_end=SOWN - timedelta(60),
    )
    assert pre.regime == PreSeason.flooded and pre.flooded_days_before_sowing == 35


def test_an_office_sets_country_specific_factors():
    """With EFc 1.5 and single drainage 0.6: 1.5 × 0.6 × 1.00 × 1.00 × 100 = 90 kg/ha."""
    f = Factors().with_overrides({"efc": 1.5, "sfw": {"single_drainage": 0.6}})
    assert f.sfw["multiple_drainage"] == 0.55  # the rest of the table stays the IPCC's
    e = estimate(regime=WaterRegime.single_drainage, pre_season=PreSeason.non_flooded_short,
                 days=100, straw=Straw("removed", None, 10), factors=f)  # fmt: skip
    assert e.ch4_kg_per_ha == pytest.approx(90.0)
    with pytest.raises(ValueError, match="unknown emission factor"):
        Factors().with_overrides({"efcc": 1.0})
    assert sfo([], f) == 1.0
