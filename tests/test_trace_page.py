"""The buyer's trace page: what it says of a milled lot, and that it fits a 360 px phone.

The width checks run headless Chromium (Debian's build, as in test_app_e2e.py) against
the real server and measure ``document.documentElement.scrollWidth``; screenshots go to a
temporary folder, or to ``AGRITRACE_SCREENSHOTS`` (``docs/trace`` holds the committed ones).
"""

import os
import tempfile
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session

from tests.factories import Factory
from tests.test_app_e2e import PHONE, base_url, browser, server  # noqa: F401 (fixtures)
from tests.test_trace_phi import spray
from traceability.services import trace as svc
from traceability.words import LANGS, gettext

SHOTS = Path(
    os.environ.get("AGRITRACE_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / f"agritrace-trace-shots-{os.getpid()}"
)
NO_PESTICIDE = {lang: gettext(lang, "no_pesticide") for lang in LANGS}


@pytest.fixture(autouse=True)
def _fresh_cache():
    svc.clear_cache()


def make_lots(factory) -> dict[str, str]:
    """A plain lot, a lot with a PHI violation, and the lot milled from both the same day.

    The violation: a spray of a product with a 14-day PHI on 5 April, harvested on
    10 April (5 of 14 days). The plain lot's field had no pesticide at all.
    """
    coop = factory.organisation(
        "cooperative",
        name="HTX Nông nghiệp Vĩnh Hậu",
        address="Ấp Cái Cùng, xã Vĩnh Hậu, tỉnh Cà Mau",
        brand="Gạo Vĩnh Hậu",
        certificate_no="VG-BL-0123",
        certificate_issuer="Trung tâm Chứng nhận Phù hợp (QUACERT)",
        certificate_valid_from=date(2025, 6, 1),
        certificate_valid_to=date(2027, 5, 31),
    )
    farmer = factory.farmer(
        organisation=coop, name="Lê Văn Tám", village="Ấp Cái Cùng, xã Vĩnh Hậu"
    )
    fa = factory.field(farmer=farmer)
    fb = factory.field(farmer=farmer)
    factory.season(fa, sown_on=date(2026, 1, 5), variety="ST25")
    # Both fields grow ST25, the variety the lots ("Lúa ST25", "Gạo ST25") are sold as.
    factory.season(fb, sown_on=date(2026, 1, 5), variety="ST25")
    product = factory.input(
        name="Filia 525SE", phi_days=14, active_ingredient="Propiconazole + Tricyclazole"
    )
    spray(factory, fb, product, "2026-04-05T08:00:00")
    plain = factory.lot(
        fields_=[fa], code="LUA-A", gtin="8934567890120", harvested_on=date(2026, 4, 10)
    )
    bad = factory.lot(fields_=[fb], code="LUA-B", harvested_on=date(2026, 4, 10))
    milled = factory.lot(
        parents=[plain, bad],
        code="GAO-AB",
        gtin="8934567890120",
        harvested_on=date(2026, 4, 10),
        product_name="Gạo ST25",
        quantity_kg=6500,
        shelf_life_days=365,
    )
    return {"plain": plain.code, "violation": bad.code, "milled": milled.code}


# ---------------------------------------------------------------- what the page says


def test_milled_lot_with_a_violation_does_not_claim_no_pesticide(client, factory):
    codes = make_lots(factory)
    for lang in ("vi", "en"):
        html = client.get(f"/t/{codes['milled']}", params={"lang": lang}).text
        assert 'data-phi="false"' in html
        # The milled lot's own part of the PHI card, up to the next lot's.
        start = html.index("<strong>", html.index('id="phi"'))
        own = html[start : html.index("<p><strong>", start + 1)]
        assert "GAO-AB" in own
        assert NO_PESTICIDE[lang] not in own, lang
        assert gettext(lang, "rests_on_parents") in own
        # Each parent with its own verdict, the violation's among them.
        assert "LUA-A" in own and "LUA-B" in own
        assert gettext(lang, "phi_false") in own and gettext(lang, "phi_true") in own
    # The plain lot's own page still says it: no pesticide was used on its field.
    assert NO_PESTICIDE["vi"] in client.get(f"/t/{codes['plain']}").text


def test_milling_comes_after_the_harvests_it_milled(client, factory):
    """All three lots are dated 10 April: milling must still come after both harvests."""
    codes = make_lots(factory)
    events = client.get(f"/api/v1/trace/{codes['milled']}").json()["events"]
    lots = [(e["activity"], e["lot_codes"][0]) for e in events if e["kind"] == "lot"]
    assert lots[-1] == ("process", "GAO-AB")
    assert sorted(lots[:-1]) == [("harvest", "LUA-A"), ("harvest", "LUA-B")]
    html = client.get(f"/t/{codes['milled']}").text
    timeline = html[html.index('id="timeline"') :]
    assert timeline.index('class="harvest"') < timeline.index('class="process"')


# ---------------------------------------------------------------- 360 px in Chromium


def _pages(codes: dict[str, str]) -> list[tuple[str, str]]:
    pages = []
    for lang in ("vi", "en"):
        for kind, code in codes.items():
            pages.append((f"trace-{kind}-{lang}", f"/t/{code}?lang={lang}"))
        pages.append((f"label-{lang}", f"/api/v1/lots/{codes['milled']}/label?lang={lang}&count=4"))
        pages.append((f"bad-link-{lang}", f"/01/08934567890121/10/GAO-AB?lang={lang}"))
    pages.append(("resolver-vi", "/01/8934567890120/10/GAO-AB"))
    return pages


def test_every_trace_page_fits_a_360px_phone(server, base_url, browser):  # noqa: F811
    with Session(server[1]) as session:
        codes = make_lots(Factory(session))
    # A phone in Vietnam: Vietnamese first, so the resolver's default answer is too.
    context = browser.new_context(viewport=PHONE, device_scale_factor=1, locale="vi-VN")
    too_wide = {}
    try:
        page = context.new_page()
        SHOTS.mkdir(parents=True, exist_ok=True)
        for name, path in _pages(codes):
            response = page.goto(base_url + path)
            assert response.status in (200, 400), (path, response.status)
            width = page.evaluate("document.documentElement.scrollWidth")
            print(f"{name}: scrollWidth {width} px")
            if width > PHONE["width"]:
                too_wide[name] = width
            if not name.startswith("resolver"):  # the same page as the milled lot's
                page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    finally:
        context.close()
    assert too_wide == {}, f"wider than {PHONE['width']} px: {too_wide}"
