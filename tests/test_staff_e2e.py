"""The staff pages in headless Chromium: signing in through the form, then the office's
dashboard (360 and 1280 px), the operator's day and the cooperative's page (360 px).

Each page is captured on every run into a temporary folder, or into ``docs/pages`` with
``AGRITRACE_SCREENSHOTS=docs/pages``; no page may scroll sideways at 360 px.
"""

import os
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import Session

from tests.factories import Factory
from tests.test_app_e2e import browser, server  # noqa: F401  (fixtures)
from tests.test_maps import build_communes, build_flown
from traceability.services.common import LOCAL_TZ

SHOTS = Path(
    os.environ.get("AGRITRACE_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / f"agritrace-staff-shots-{os.getpid()}"
)
PHONE = {"width": 360, "height": 740}
DESK = {"width": 1280, "height": 900}


@pytest.fixture(scope="module")
def tokens(server) -> dict[str, str]:  # noqa: F811
    """The world of test_maps in the server's database, and a token per staff role."""
    _url, engine = server
    with Session(engine) as session:
        factory = Factory(session)
        service = build_flown(session, factory)
        build_communes(factory)
        coop = factory.organisation("cooperative", name="HTX Nông nghiệp Vĩnh Hưng")
        for n, name in enumerate(("Nguyễn Văn Ba", "Trần Thị Bốn")):
            farmer = factory.farmer(organisation=coop, name=name)
            field = factory.field(
                farmer=farmer, code=f"VH-{n + 1:02d}", x0=5300 + 150 * n, commune_code="31825"
            )
            factory.season(field, sown_on=datetime.now(LOCAL_TZ).date() - timedelta(days=60))
        product = factory.input(code="VALI5SL", name="Validacin 5SL", phi_days=7)
        factory.entry(
            field, activity="spray", input_code=product.code, quantity=0.5, unit="L",
            area_ha=1.0, occurred_at=datetime.now(LOCAL_TZ) - timedelta(days=2),
        )  # fmt: skip
        tok = {
            "office": factory.token("office"),
            "operator": factory.token("operator", organisation=service),
            "cooperative": factory.token("cooperative", organisation=coop),
        }
    return {role: h["Authorization"].split()[1] for role, h in tok.items()}


def _signed_in(browser, base_url: str, token: str, viewport: dict):  # noqa: F811
    context = browser.new_context(
        viewport=viewport, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", device_scale_factor=1
    )
    context.set_default_timeout(10_000)
    # Nothing may come from outside this server.
    context.route(
        "**/*",
        lambda route: (
            route.continue_() if route.request.url.startswith(base_url) else route.abort()
        ),
    )
    page = context.new_page()
    page.goto(f"{base_url}/signin")
    if viewport is PHONE:
        _check_and_shoot(page, "signin-360", 360)
    page.fill("input[name=token]", token)
    page.click("button[type=submit]")
    return context, page


def _check_and_shoot(page, name: str, width: int) -> None:
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{name}: the page scrolls sideways ({scroll} px > {width} px)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


@pytest.mark.integration
@pytest.mark.parametrize(("viewport", "suffix"), [(PHONE, "360"), (DESK, "1280")])
def test_office_dashboard_in_chromium(server, browser, tokens, viewport, suffix):  # noqa: F811
    base_url, _engine = server
    context, page = _signed_in(browser, base_url, tokens["office"], viewport)
    page.wait_for_url(f"{base_url}/office/")
    # Four weeks of test_maps' world, and this week's spray on VH-02.
    assert page.locator("#chart-week rect.bar").count() == 5
    assert page.locator("#map svg #communes circle").count() == 2
    assert page.locator("#flagged a", has_text="M2").count() == 1
    _check_and_shoot(page, f"office-dashboard-{suffix}", viewport["width"])
    context.close()


@pytest.mark.integration
def test_operator_day_in_chromium(server, browser, tokens):  # noqa: F811
    base_url, _engine = server
    context, page = _signed_in(browser, base_url, tokens["operator"], PHONE)
    page.wait_for_url(f"{base_url}/operator/")
    page.goto(f"{base_url}/operator/?day=2026-03-01")
    assert page.locator("article.mission").count() == 2
    # Each mission's map is an image the browser loads once it is scrolled near.
    maps = page.locator("article.mission .mapbox img")
    assert maps.count() == 2
    for i in range(2):
        maps.nth(i).scroll_into_view_if_needed()
        page.wait_for_function(
            "(img) => img.complete && img.naturalWidth > 0", arg=maps.nth(i).element_handle()
        )
    _check_and_shoot(page, "operator-day-360", 360)
    page.click("text=Ngày sau →")
    assert "day=2026-03-02" in page.url
    context.close()


@pytest.mark.integration
def test_cooperative_page_in_chromium(server, browser, tokens):  # noqa: F811
    base_url, _engine = server
    context, page = _signed_in(browser, base_url, tokens["cooperative"], PHONE)
    page.wait_for_url(f"{base_url}/coop/")
    assert page.locator("section.member").count() == 2
    assert page.locator("#pending-phi tr.phi").count() == 1
    _check_and_shoot(page, "cooperative-360", 360)
    page.locator("section.member button", has_text="Tạo liên kết").first.click()
    assert "/app/signin/" in page.locator("code.link").inner_text()
    _check_and_shoot(page, "cooperative-signin-link-360", 360)
    context.close()
