"""Every role finds its way in on the demo's own machine, on a port other than the default.

The demo runs as a user runs it (its own HTTP server, on a free port, with no public URL
given) and is visited over real HTTP: the landing page's local sign-in block signs each
staff role in to its pages, the farmer's link opens the farmers' app, the operator sees the
drones the demo flew, and every link the demo hands out names the port it listens on.
"""

import html
import re
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from rich.console import Console

from tests.mqtt import free_port

HOMES = {"cooperative": "/coop/", "operator": "/operator/", "office": "/office/"}
HOMES["admin"] = "/office/"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    from agritrace.demo import DemoConfig, run_demo

    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    config = DemoConfig(database_url=url, port=free_port(), drones=2, speed=float("inf"), day=False)
    stop = threading.Event()
    out: dict = {}
    thread = threading.Thread(
        target=lambda: out.update(
            result=run_demo(config, console=Console(quiet=True), stop_event=stop)
        )
    )
    thread.start()
    base = f"http://127.0.0.1:{config.port}"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and thread.is_alive():
        try:
            page = httpx.get(f"{base}/", timeout=2)
            if page.status_code == 200 and "<form" in page.text:
                break
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    else:
        stop.set()
        thread.join(30)
        pytest.fail("the demo did not get ready")
    try:
        yield config, base
    finally:
        stop.set()
        thread.join(60)


def _forms(page: str) -> dict[str, dict[str, str]]:
    """The landing page's sign-in forms: role -> hidden fields."""
    forms = {}
    for role, body in re.findall(
        r'<form method="post" action="/signin" data-role="(\w+)">(.*?)</form>', page, re.S
    ):
        forms[role] = {
            k: html.unescape(v)
            for k, v in re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', body)
        }
    return forms


def test_each_role_signs_in_from_the_landing_page(demo):
    config, base = demo
    with httpx.Client(base_url=base, timeout=10) as web:
        page = web.get("/").text
    forms = _forms(page)
    assert set(forms) == set(HOMES)
    tokens = re.findall(r"<code>([A-Za-z0-9_-]{40,})</code>", page)
    assert len(set(tokens)) == 5  # farmer, cooperative, operator, office, admin
    for role, home in HOMES.items():
        # A fresh browser per role: the form signs it in and lands on the role's page.
        with httpx.Client(base_url=base, timeout=10) as browser:
            answer = browser.post("/signin", data=forms[role])
            assert answer.status_code == 303 and answer.headers["location"] == home, role
            landed = browser.get(home)
            assert landed.status_code == 200 and "<h1" in landed.text, role


def test_the_operator_sees_the_demos_drones_and_their_missions(demo):
    config, base = demo
    with httpx.Client(base_url=base, timeout=10) as browser:
        assert browser.post("/signin", data=_forms(browser.get("/").text)["operator"]).is_redirect
        # The story's flights were flown forty days ago (Vietnam day).
        day = (datetime.now(UTC) - timedelta(days=40) + timedelta(hours=7)).date()
        page = browser.get(f"/operator/?day={day.isoformat()}").text
    assert "BL-DR-001" in page and "BL-DR-002" in page
    assert re.search(r"M-BL-DR-001-\w+-001", page)


def test_the_farmers_link_opens_the_app_and_links_name_the_demos_port(demo):
    config, base = demo
    with httpx.Client(base_url=base, timeout=10) as browser:
        page = browser.get("/").text
        link = re.search(r'href="(/app/signin/[^"?]+)', page).group(1)
        assert browser.get(link).status_code == 200  # opening it does not spend it
        signed = browser.post("/app/signin", data={"token": link.rsplit("/", 1)[1]})
        assert signed.status_code == 200 and "agritrace_device" in browser.cookies
        admin = re.findall(r"<code>([A-Za-z0-9_-]{40,})</code>", page)[-1]
        me = browser.get("/api/v1/me", headers={"Authorization": f"Bearer {admin}"}).json()
        assert me["role"] == "admin"
        farmers = browser.get(
            "/api/v1/farmers?limit=1", headers={"Authorization": f"Bearer {admin}"}
        )
        farmer_id = farmers.json()["data"][0]["id"]
        issued = browser.post(
            f"/api/v1/farmers/{farmer_id}/signin-link",
            headers={"Authorization": f"Bearer {admin}"},
        ).json()
    # No public URL was given: links name localhost and the port the demo listens on.
    assert issued["url"].startswith(f"http://localhost:{config.port}/app/signin/"), issued
    assert config.port != 8000
