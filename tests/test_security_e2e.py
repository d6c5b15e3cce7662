"""Every kind of page under the Content-Security-Policy, in headless Chromium.

The policy forbids inline scripts but the ones it names, so a page that still needs one
breaks silently in a browser: here each page is opened (the landing page, a buyer's
trace, the printable label, the staff pages, the farmers' app, ``/docs``), what it does
with script is checked (Swagger UI draws the operations, the app registers its service
worker, the label's button prints), and no ``securitypolicyviolation`` may have fired.
"""

import os
import tempfile
from pathlib import Path

import httpx
import pytest
from sqlmodel import Session

from tests.conftest import ADMIN_TOKEN
from tests.factories import Factory
from tests.test_app_e2e import base_url, browser, server  # noqa: F401  (fixtures)
from tests.test_staff_e2e import tokens  # noqa: F401  (fixture)

PHONE = {"width": 360, "height": 740}
SHOTS = Path(
    os.environ.get("AGRITRACE_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / f"agritrace-csp-shots-{os.getpid()}"
)
# Recorded in every document before its own scripts run.
WATCH = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile);
});
window.print = () => { window.__printed = true; };
"""


@pytest.fixture(scope="module")
def lot(server) -> str:  # noqa: F811
    """A lot harvested from a farmer's field: its code."""
    with Session(server[1]) as session:
        factory = Factory(session)
        field = factory.field(code="CSP-01", farmer=factory.farmer(name="Lê Thị Hoa"))
        factory.season(field)
        return factory.lot(fields_=[field], code="LOT-CSP-1").code


class Watched:
    """A 360 px browser context whose pages report every policy violation."""

    def __init__(self, browser, base: str):  # noqa: F811
        self.base = base
        self.context = browser.new_context(
            viewport=PHONE, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh"
        )
        self.context.set_default_timeout(10_000)
        self.context.add_init_script(WATCH)
        self.console: list[str] = []
        self.page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda exc: self.console.append(f"page error: {exc}"))

    def _console(self, message) -> None:
        if message.type == "error" or "Content Security Policy" in message.text:
            self.console.append(message.text)

    def visit(self, path: str):
        """Open ``path``; the page, once loaded."""
        r = self.page.goto(self.base + path)
        assert r is not None and r.status < 500, (path, r and r.status)
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
        return self.page

    def assert_clean(self, where: str) -> None:
        """No violation in the page shown, nor in the console since the start; the page
        captured at 360 px (``SHOTS``), not scrolling sideways."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        name = "".join(c if c.isalnum() else "-" for c in where).strip("-") or "home"
        self.page.screenshot(path=str(SHOTS / f"csp-{name}.png"), full_page=True)
        scroll = self.page.evaluate("document.documentElement.scrollWidth")
        assert scroll <= PHONE["width"] or where.startswith("/docs"), (where, scroll)
        violations = self.page.evaluate("window.__csp")
        assert violations == [], (where, violations)
        csp = [m for m in self.console if "Content Security Policy" in m or "Refused" in m]
        assert csp == [], (where, csp)


@pytest.mark.integration
def test_public_pages_and_docs_run_under_the_policy(server, browser, lot):  # noqa: F811
    w = Watched(browser, server[0])
    for path in ("/", "/?lang=en", f"/t/{lot}", f"/t/{lot}?lang=en", "/signin", "/app/"):
        w.visit(path)
        w.assert_clean(path)
    label = w.visit(f"/api/v1/lots/{lot}/label")
    label.click("button")
    assert label.evaluate("window.__printed === true"), "the print button's handler was refused"
    w.assert_clean("label")
    reference = w.visit("/docs")
    assert reference.locator("details.op").count() > 40
    w.assert_clean("/docs")
    docs = w.visit("/docs/try")
    docs.wait_for_selector(".opblock", timeout=20_000)  # Swagger UI ran and read the spec
    assert docs.locator(".opblock").count() > 20
    w.assert_clean("/docs/try")
    w.context.close()


@pytest.mark.integration
def test_staff_pages_run_under_the_policy(server, browser, tokens):  # noqa: F811
    for role, home in (
        ("office", "/office/"),
        ("operator", "/operator/"),
        ("cooperative", "/coop/"),
    ):
        w = Watched(browser, server[0])
        page = w.visit("/signin")
        page.fill("input[name=token]", tokens[role])
        page.click("button[type=submit]")
        page.wait_for_url(f"{server[0]}{home}")
        w.assert_clean(home)
        w.visit(f"{home}?lang=en")
        w.assert_clean(f"{home} en")
        w.context.close()


@pytest.mark.integration
def test_the_farmers_app_runs_under_the_policy(base_url, server, browser):  # noqa: F811
    with Session(server[1]) as session:
        factory = Factory(session)
        farmer = factory.farmer(name="Trần Văn Phúc")
        field = factory.field(code="CSP-APP", farmer=farmer)
        factory.season(field)
        farmer_id = farmer.id
    r = httpx.post(
        f"{base_url}/api/v1/farmers/{farmer_id}/signin-link",
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    )
    assert r.status_code == 201, r.text
    w = Watched(browser, base_url)
    w.page.goto(r.json()["url"])
    w.page.wait_for_url(f"{base_url}/app/")
    w.assert_clean("signed in")
    for path in (
        "/app/",
        "/app/new",
        "/app/diary",
        "/app/lots",
        "/app/fields/CSP-APP",
        "/app/?lang=en",
    ):
        w.visit(path)
        w.assert_clean(path)
    registered = w.page.evaluate(
        "navigator.serviceWorker.getRegistration('/app/').then((r) => Boolean(r))"
    )
    assert registered, "the app's service worker was not registered"
    w.context.close()
