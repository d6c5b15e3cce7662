"""The low-emission rice MRV pack page in headless Chromium at 360 px, Vietnamese and
English: a plot's season with its records, and the office's commune totals.

Captured into a temporary folder (or ``AGRITRACE_SCREENSHOTS``); no page may scroll
sideways at 360 px.
"""

from datetime import date

import pytest
from sqlmodel import Session

from tests.factories import Factory
from tests.test_app_e2e import _sign_in, base_url, browser, server  # noqa: F401  (fixtures)
from tests.test_reports_low_emission import _records, vn
from tests.test_staff_e2e import PHONE, _check_and_shoot, _signed_in


@pytest.fixture(scope="module")
def world(server) -> dict:  # noqa: F811
    """Test_reports_low_emission's fields A (AWD, straw worked in) and C (no straw entry)."""
    _url, engine = server
    with Session(engine) as session:
        factory = Factory(session)
        factory.input(code="P1", unit="L", max_dose_per_ha=1.0, phi_days=14)
        factory.input(code="URE", kind="fertilizer", unit="kg", phi_days=None,
                      nitrogen_pct=46.0, max_dose_per_ha=300.0)  # fmt: skip
        factory.input(code="SEED", kind="seed", unit="kg", phi_days=None, max_dose_per_ha=200.0)
        a = factory.field(code="A", x0=0, width=100, height=200, commune_code="31957")
        c = factory.field(code="C", x0=2000, width=100, height=100, commune_code="31951")
        _records(factory, a)
        _records(factory, c, straw=False)
        # Field D: one season and no earlier crop in its diary.
        d = factory.field(code="D", x0=3000, width=100, height=100, commune_code="31906")
        factory.season(d, crop="lúa", sown_on=date(2026, 1, 5))
        for day, activity in [("2026-01-07", "irrigate"), ("2026-01-27", "drain"),
                              ("2026-02-01", "irrigate"), ("2026-04-15", "harvest")]:  # fmt: skip
            factory.entry(d, occurred_at=vn(day), activity=activity)
        return {
            "office": factory.token("office")["Authorization"].split()[1],
            "admin": factory.token("admin"),
            "farmer_a": a.farmer_id,
            "farmer_d": d.farmer_id,
        }


@pytest.mark.integration
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_mrv_pack_page_at_360_px(server, browser, world, lang):  # noqa: F811
    url, _engine = server
    context, page = _signed_in(browser, url, world["office"], PHONE)
    page.wait_for_url(f"{url}/office/")
    suffix = "&lang=en" if lang == "en" else ""
    page.goto(f"{url}/mrv/?field=A{suffix}")
    words = "AWD (multiple drainage)" if lang == "en" else "Ướt khô xen kẽ"
    assert page.locator("dl.figs", has_text=words).count() == 1
    assert page.locator("code.h").count() >= 8  # the records' hashes
    _check_and_shoot(page, f"mrv-plot-{lang}-360", 360)
    page.goto(f"{url}/mrv/?{suffix[1:]}")
    assert page.locator("a", has_text="31951").count() == 1
    assert page.locator("#reduction-map svg").count() == 1  # the commune map of reductions
    _check_and_shoot(page, f"mrv-communes-{lang}-360", 360)
    context.close()


@pytest.mark.integration
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_farmer_sees_the_season_against_the_targets(base_url, browser, world, lang):  # noqa: F811
    """Field A's season: AWD, 193 kg CH4/ha, 158 kg/ha less (test_reports_low_emission)."""
    context = browser.new_context(viewport=PHONE, locale="vi-VN", device_scale_factor=1)
    page = context.new_page()
    _sign_in(page, base_url, world["farmer_a"], world["admin"])
    page.goto(f"{base_url}/app/fields/A" + ("?lang=en" if lang == "en" else ""))
    card = page.locator("#low-emission")
    words = "Alternate wetting and drying" if lang == "en" else "Ướt khô xen kẽ"
    assert words in card.inner_text() and "193" in card.inner_text()
    assert "158" in card.inner_text()
    assert card.locator("li b.v-pass").count() == 3  # seed, straw, water
    _check_and_shoot(page, f"app-field-low-emission-{lang}-360", 360)
    context.close()


@pytest.mark.integration
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_farmer_states_the_pre_season_water(base_url, browser, world, lang):  # noqa: F811
    """Field D has no earlier crop in its diary: its card offers the pre-season classes
    of IPCC 2019 Table 5.13; stated, the page keeps the choice."""
    context = browser.new_context(viewport=PHONE, locale="vi-VN", device_scale_factor=1)
    page = context.new_page()
    _sign_in(page, base_url, world["farmer_d"], world["admin"])
    page.goto(f"{base_url}/app/fields/D" + ("?lang=en" if lang == "en" else ""))
    card = page.locator("#low-emission")
    card.locator("select#pre_season_water").select_option("non_flooded_gt_180d")
    card.locator("form.plan button").click()
    page.wait_for_load_state()
    selected = page.locator("select#pre_season_water option:checked").inner_text()
    assert selected == ("Dry, over 180 days" if lang == "en" else "Khô, trên 180 ngày")
    _check_and_shoot(page, f"app-field-pre-season-{lang}-360", 360)
    context.close()


@pytest.mark.integration
@pytest.mark.parametrize("lang", ["vi", "en"])
def test_why_a_figure_is_unknown_is_in_the_readers_words(server, browser, world, lang):  # noqa: F811
    """Field C has no straw entry before sowing: its methane is unknown, and the page says
    why in the reader's language (the Vietnamese page once said it in English)."""
    url, _engine = server
    context, page = _signed_in(browser, url, world["office"], PHONE)
    page.wait_for_url(f"{url}/office/")
    page.goto(f"{url}/mrv/?field=C" + ("&lang=en" if lang == "en" else ""))
    text = page.locator("body").inner_text()
    english = "straw: no straw entry before sowing"
    vietnamese = "không có ghi chép xử lý rơm trước khi gieo"
    assert (english in text) == (lang == "en") and (vietnamese in text) == (lang == "vi")
    context.close()
