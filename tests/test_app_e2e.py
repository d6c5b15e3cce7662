"""The farmers' app end to end: headless Chromium (Playwright) against the real server.

The server runs in a thread on a free port over a SQLite database of its own. The
browser is Debian's chromium; under ``CI=true`` a missing browser fails the run.
Screenshots of the main screens at 360 px are taken on every run, into a temporary
folder; ``AGRITRACE_SCREENSHOTS=docs/app ./run test tests/test_app_e2e.py`` refreshes the
ones the README shows.
"""

import os
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import uvicorn
from sqlmodel import Session, select

from tests.conftest import ADMIN_TOKEN, unavailable
from tests.factories import Factory
from tests.ports import free_port
from traceability.config import get_settings
from traceability.db import make_engine, migrate
from traceability.models import DiaryEntry, Farmer, InputProduct, Mission, MissionField
from traceability.services.common import LOCAL_TZ

CHROMIUM = os.environ.get("AGRITRACE_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(
    os.environ.get("AGRITRACE_SCREENSHOTS")
    or Path(tempfile.gettempdir()) / f"agritrace-app-shots-{os.getpid()}"
)
PHONE = {"width": 360, "height": 740}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, object]]:
    """The API server on a free port over a fresh SQLite database: ``(base_url, engine)``."""
    from traceability.api.main import create_app

    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'app.db'}")
    migrate(engine)
    app = create_app(engine=engine)

    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}", engine
    srv.should_exit = True
    thread.join(timeout=5)
    engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium, Debian's build."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        unavailable("Playwright", exc)
    if not Path(CHROMIUM).exists():
        unavailable(f"Chromium at {CHROMIUM}", "not installed (apt-get install chromium)")
    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield b
        b.close()


@pytest.fixture
def base_url(server, monkeypatch: pytest.MonkeyPatch) -> str:
    """The server's URL, also what sign-in links and QR codes point at."""
    url, _engine = server
    monkeypatch.setenv("AGRITRACE_PUBLIC_BASE_URL", url)
    get_settings.cache_clear()
    return url


@pytest.fixture
def factory(server) -> Iterator[Factory]:
    with Session(server[1]) as s:
        yield Factory(s)


@pytest.fixture
def phone(browser) -> Iterator[object]:
    """A fresh phone: a 360 px wide browser context in Vietnam time."""
    context = browser.new_context(
        viewport=PHONE, locale="vi-VN", timezone_id="Asia/Ho_Chi_Minh", device_scale_factor=1
    )
    context.set_default_timeout(8000)
    yield context
    context.close()


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    # A full-page capture would paint the sticky tab bar mid-page; show it where it ends up.
    page.add_style_tag(content="nav.tabs{position:static}")
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def _today():
    return datetime.now(LOCAL_TZ).date()


def _farm(factory: Factory, *, n: int, planned_in_days: int = 60, farmer=None):
    """A farmer (new unless given) with one 1 ha rice field under a season."""
    farmer = farmer or factory.farmer(name=f"Nguyễn Văn Ba {n}")
    field = factory.field(farmer=farmer, code=f"GR-E2E-{n}", width=100.0, height=100.0)
    factory.season(
        field,
        crop="lúa",
        variety="ST25",
        sown_on=_today() - timedelta(days=40),
        planned_harvest_on=_today() + timedelta(days=planned_in_days),
    )
    return farmer, field


@pytest.fixture
def catalogue(factory: Factory) -> None:
    from traceability.models import InputProduct

    known = set(factory.session.exec(select(InputProduct.code)).all())
    if "TILTSUPER300EC" in known:
        return
    factory.input(
        code="TILTSUPER300EC",
        name="Tilt Super 300EC",
        unit="L",
        phi_days=14,
        max_dose_per_ha=0.3,
        registration_status="registered",
        registered_crops=["lúa"],
    )
    factory.input(
        code="URE46",
        name="Đạm Urê Phú Mỹ 46%",
        kind="fertilizer",
        unit="kg",
        phi_days=None,
        max_dose_per_ha=150.0,
    )
    factory.input(
        code="CHESS50WG",
        name="Chess 50WG",
        unit="kg",
        phi_days=7,
        max_dose_per_ha=0.3,
        registration_status="registered",
        registered_crops=["lúa"],
    )


def _admin(base_url: str) -> httpx.Client:
    return httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})


def _cooperative(base_url: str, code: str) -> dict[str, str]:
    """A cooperative registered by the admin, and the headers of a user who speaks for it."""
    with _admin(base_url) as admin:
        r = admin.post(
            "/api/v1/organisations",
            json={"code": code, "name": f"HTX Lúa Tôm {code}", "kind": "cooperative"},
        )
        assert r.status_code == 201, r.text
        r = admin.post(
            "/api/v1/users",
            json={"name": f"Cán bộ {code}", "role": "cooperative", "organisation_code": code},
        )
        assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['token']}"}


def _sign_in(page, base_url: str, farmer_id: int, issuer: dict[str, str] | None = None) -> None:
    """Open a sign-in link issued by ``issuer`` (the admin unless given) on the phone."""
    headers = issuer or {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    r = httpx.post(f"{base_url}/api/v1/farmers/{farmer_id}/signin-link", headers=headers)
    assert r.status_code == 201, r.text
    page.goto(r.json()["url"])
    page.wait_for_url(f"{base_url}/app/")


def _entries(engine, note: str) -> list[DiaryEntry]:
    with Session(engine) as s:
        return list(s.exec(select(DiaryEntry).where(DiaryEntry.note == note)).all())


def _drone_pass(factory: Factory, field) -> None:
    """A drone mission over the field, as the ingester would have measured it."""
    s = factory.session
    ended = datetime.now(UTC) - timedelta(days=3)
    m = Mission(
        mission_id=f"M-{field.code}",
        drone_code="BL-DR-007",
        type="spray",
        product_code="CHESS50WG",
        status="complete",
        started_at=ended - timedelta(minutes=9),
        ended_at=ended,
        amount_unit="L",
        product_unit="kg",
        applied_amount=15.0,
        product_amount=0.27,
        treated_area_ha=0.96,
        dirty=False,
    )
    s.add(m)
    s.flush()
    s.add(
        MissionField(
            mission_pk=m.id,
            field_id=field.id,
            treated_area_ha=0.96,
            coverage_pct=96.0,
            applied_amount=15.0,
            dose_per_ha=15.6,
            product_amount=0.27,
            product_dose_per_ha=0.28,
        )
    )
    s.commit()


def test_signed_in_farmer_logs_a_spray_seen_on_timeline_and_trace(
    base_url, server, phone, factory, catalogue
):
    # The farmer's cooperative registers them and issues the sign-in link; another
    # cooperative cannot.
    coop = _cooperative(base_url, "HTX-E2E")
    elsewhere = _cooperative(base_url, "HTX-E2E-KHAC")
    r = httpx.post(
        f"{base_url}/api/v1/farmers",
        json={"name": "Nguyễn Văn Ba", "phone": "0912345678", "organisation_code": "HTX-E2E"},
        headers=coop,
    )
    assert r.status_code == 201, r.text
    farmer, field = _farm(factory, n=1, farmer=factory.session.get(Farmer, r.json()["id"]))
    _drone_pass(factory, field)
    refused = httpx.post(f"{base_url}/api/v1/farmers/{farmer.id}/signin-link", headers=elsewhere)
    assert refused.status_code == 403, refused.text
    page = phone.new_page()
    _sign_in(page, base_url, farmer.id, issuer=coop)
    assert page.get_by_text("Ruộng của tôi").is_visible()
    assert page.locator("svg.map path").count() == 1
    _shot(page, "home")

    page.get_by_role("link", name="Ghi", exact=True).click()
    page.wait_for_url("**/app/new")
    page.get_by_text("Phun thuốc").click()
    page.get_by_label("Tìm theo tên").fill("tilt")
    assert page.locator("select[name=input_code]").input_value() == "TILTSUPER300EC"
    assert page.locator("select[name=unit]").input_value() == "L"
    page.get_by_label("Số lượng").fill("0,25")
    # A spray asks who applied it, not where it was bought.
    assert page.get_by_label("Nơi mua / Người mua").is_hidden()
    page.get_by_label("Người phun/bón").fill("Lê Văn Tám")
    page.get_by_label("Ghi chú").fill("phun lem lép hạt")
    _shot(page, "new-entry")
    page.get_by_role("button", name="Lưu").click()
    page.wait_for_url("**/app/diary")

    entries = _entries(server[1], "phun lem lép hạt")
    assert len(entries) == 1 and entries[0].quantity == 0.25 and entries[0].area_ha == 1.0
    assert entries[0].applied_by == "Lê Văn Tám" and entries[0].counterparty is None
    first = page.locator("ol.timeline li").first
    assert "Tilt Super 300EC" in first.inner_text()
    assert "Người phun/bón: Lê Văn Tám" in first.inner_text()
    drone = page.locator("ol.timeline li.drone")
    assert "Chess 50WG" in drone.inner_text() and "96%" in drone.inner_text()
    _shot(page, "diary")

    # The cooperative records the harvest as a lot.
    r = httpx.post(
        f"{base_url}/api/v1/lots",
        headers=coop,
        json={
            "code": "LOT-E2E-1",
            "field_codes": [field.code],
            "harvested_on": (_today() + timedelta(days=1)).isoformat(),
            "quantity_kg": 6200,
            "product_name": "Lúa ST25",
        },
    )
    assert r.status_code == 201, r.text
    page.goto(f"{base_url}/app/lots")
    assert page.locator("ul.lots svg").count() == 1
    _shot(page, "lots")
    page.get_by_role("link", name="Xem trang truy xuất").click()
    page.wait_for_url("**/t/LOT-E2E-1")
    assert "Tilt Super 300EC" in page.content()
    assert farmer.phone not in page.content()
    assert "Lê Văn Tám" not in page.content()

    for name in ("", "new", "diary", "lots"):
        page.goto(f"{base_url}/app/{name}?lang=en")
        _shot(page, f"{name or 'home'}-en")
    page.goto(f"{base_url}/app/diary?lang=en")
    assert "My diary" in page.content()


def test_an_entry_made_offline_is_sent_once_when_the_signal_returns(
    base_url, server, phone, factory, catalogue
):
    farmer, _field = _farm(factory, n=2)
    page = phone.new_page()
    _sign_in(page, base_url, farmer.id)
    page.goto(f"{base_url}/app/new")
    # Once the service worker controls the app, a page it fetched opens without signal.
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("!!navigator.serviceWorker.controller", polling=100)
    page.wait_for_function("caches.match('/app/new').then(Boolean)", polling=100)

    phone.set_offline(True)
    page.get_by_text("Mua vật tư").click()
    page.get_by_label("Nơi mua / Người mua").fill("Đại lý Chú Tư")
    assert page.get_by_label("Người phun/bón").is_hidden()
    page.get_by_label("Ghi chú").fill("sâu cuốn lá, chưa phun")
    page.get_by_role("button", name="Lưu").click()
    page.locator("#outbox li").wait_for()
    assert "Đang chờ gửi" in page.locator("#outbox").inner_text()
    page.reload()  # no signal: the service worker opens the page, the outbox is still there
    page.locator("#outbox li").wait_for()
    _shot(page, "offline-waiting")
    assert _entries(server[1], "sâu cuốn lá, chưa phun") == []

    phone.set_offline(False)
    page.locator("#outbox").wait_for(state="hidden")
    (sent,) = _entries(server[1], "sâu cuốn lá, chưa phun")
    assert sent.activity == "purchase" and sent.counterparty == "Đại lý Chú Tư"
    assert sent.applied_by is None  # hidden on a purchase, so not sent
    page.reload()
    page.wait_for_load_state("networkidle")
    page.goto(f"{base_url}/app/diary")
    assert "sâu cuốn lá, chưa phun" in page.content()
    assert len(_entries(server[1], "sâu cuốn lá, chưa phun")) == 1


def test_dose_and_phi_warnings_appear_before_saving(base_url, server, phone, factory, catalogue):
    # Harvest planned in 5 days: a 14-day pesticide today would not have cleared.
    farmer, _field = _farm(factory, n=3, planned_in_days=5)
    page = phone.new_page()
    _sign_in(page, base_url, farmer.id)
    page.goto(f"{base_url}/app/new")
    page.get_by_text("Phun thuốc").click()
    page.get_by_label("Tìm theo tên").fill("tilt")
    page.get_by_label("Số lượng").fill("0,6")
    dose = page.locator("#warnings .dose_above_max")
    phi = page.locator("#warnings .phi_after_planned_harvest")
    dose.wait_for()
    phi.wait_for()
    assert "0,6 L/ha" in dose.inner_text() and "0,3 L/ha" in dose.inner_text()
    assert "14 ngày" in phi.inner_text()
    _shot(page, "warnings")

    # Without signal the page warns from what it holds, in the same words.
    phone.set_offline(True)
    # The label's precision, as the server reads it: 0.3002 L/ha is 0.300, 0.3005 is over.
    page.get_by_label("Số lượng").fill("0,3002")
    dose.wait_for(state="detached")
    page.get_by_label("Số lượng").fill("0,3005")
    dose.wait_for()
    page.get_by_label("Số lượng").fill("0,7")
    page.locator("#warnings .dose_above_max", has_text="0,7 L/ha").wait_for()
    assert phi.is_visible()
    page.get_by_role("button", name="Lưu").click()
    page.get_by_role("button", name="Vẫn lưu").wait_for()
    phone.set_offline(False)


def test_another_farmers_field_cannot_be_reached(base_url, server, phone, factory, catalogue):
    farmer, _mine = _farm(factory, n=4)
    _other, theirs = _farm(factory, n=5)
    page = phone.new_page()
    _sign_in(page, base_url, farmer.id)
    response = page.goto(f"{base_url}/app/fields/{theirs.code}")
    assert response.status == 404
    assert "Không tìm thấy thửa ruộng này" in page.content()
    page.goto(f"{base_url}/app/new")
    assert page.locator(f"input[name=field_code][value='{theirs.code}']").count() == 0
    status = page.evaluate(
        """async (code) => {
            const auth = {Authorization: 'Bearer ' + localStorage.getItem('agritrace.device'),
                          'Content-Type': 'application/json'};
            const write = await fetch('/api/v1/diary', {method: 'POST', headers: auth,
              body: JSON.stringify({field_code: code, activity: 'observe',
                                    occurred_at: '2026-02-01T08:00:00+07:00'})});
            const read = await fetch('/api/v1/diary?field_code=' + code, {headers: auth});
            return [write.status, read.status];
        }""",
        theirs.code,
    )
    assert status == [403, 403]


def test_straw_work_asks_what_became_of_the_straw(base_url, server, phone, factory, catalogue):
    farmer, field = _farm(factory, n=6)
    page = phone.new_page()
    _sign_in(page, base_url, farmer.id)
    page.goto(f"{base_url}/app/new")
    assert page.get_by_label("Rơm rạ", exact=True).is_hidden()
    page.get_by_text("Xử lý rơm rạ").click()
    assert page.get_by_label("Rơm rạ", exact=True).is_visible()
    page.get_by_label("Rơm rạ", exact=True).select_option("incorporated")
    page.get_by_label("Ghi chú").fill("vùi rơm sau gặt")
    _shot(page, "straw")
    page.get_by_role("button", name="Lưu").click()
    page.wait_for_url("**/app/diary")
    (entry,) = _entries(server[1], "vùi rơm sau gặt")
    assert (entry.activity, entry.straw_handling) == ("straw", "incorporated")
    assert "Rơm rạ: Vùi vào đất" in page.locator("ol.timeline li").first.inner_text()


def test_an_entry_made_offline_leaves_when_the_signal_returns_without_a_reload(
    base_url, server, phone, factory, catalogue
):
    farmer, _field = _farm(factory, n=7)
    page = phone.new_page()
    _sign_in(page, base_url, farmer.id)
    page.goto(f"{base_url}/app/new")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("!!navigator.serviceWorker.controller", polling=100)
    # A mark on this very page: a reload would lose it.
    page.evaluate("window.__same_page = true")

    phone.set_offline(True)
    page.get_by_text("Thăm đồng").click()
    page.get_by_label("Ghi chú").fill("mất sóng ngoài đồng")
    page.get_by_role("button", name="Lưu").click()
    page.locator("#outbox li").wait_for()
    assert _entries(server[1], "mất sóng ngoài đồng") == []
    # Where the browser has Background Sync, the service worker is asked to wake the page too.
    tags = page.evaluate(
        "navigator.serviceWorker.ready.then(r => r.sync ? r.sync.getTags() : ['no sync'])"
    )
    assert tags in (["agritrace-outbox"], ["no sync"]), tags

    phone.set_offline(False)
    page.locator("#outbox").wait_for(state="hidden", timeout=5000)
    (sent,) = _entries(server[1], "mất sóng ngoài đồng")
    assert sent.activity == "observe"
    # Still the same page: nothing was reloaded to send it.
    assert page.evaluate("window.__same_page === true")
    if tags != ["no sync"]:
        # The service worker got its sync event when the signal returned, and handled it.
        page.wait_for_function(
            "navigator.serviceWorker.ready.then(r => r.sync.getTags()).then(t => !t.length)",
            polling=100,
        )


def test_a_harvested_lot_s_verdict_warning_appears_without_signal(
    base_url, server, phone, factory, catalogue
):
    """The warning /diary/check gives before an entry that would change a harvested lot's
    verdict, given by the page from what it holds when there is no signal, before the
    entry is queued; and for the same entries as the server gives it."""
    farmer, field = _farm(factory, n=8)
    harvested = _today() - timedelta(days=2)
    lot = factory.lot(fields_=[field], harvested_on=harvested, code="LOT-E2E-8")
    known = set(factory.session.exec(select(InputProduct.code)).all())
    if "FURADANE2E" not in known:
        factory.input(code="FURADANE2E", name="Furadan 3GR", unit="kg", phi_days=30,
                      max_dose_per_ha=30.0, registration_status="banned")  # fmt: skip
    page = phone.new_page()
    _sign_in(page, base_url, farmer.id)
    page.goto(f"{base_url}/app/new")
    page.evaluate("navigator.serviceWorker.ready.then(() => true)")
    page.reload()
    page.wait_for_function("!!navigator.serviceWorker.controller", polling=100)
    page.wait_for_function("caches.match('/app/new').then(Boolean)", polling=100)
    token = page.evaluate("localStorage.getItem('agritrace.device')")

    def server_says(code: str, day) -> bool:
        body = {"field_code": field.code, "activity": "spray", "input_code": code,
                "quantity": 0.3, "occurred_at": f"{day}T08:00:00+07:00"}  # fmt: skip
        r = httpx.post(
            f"{base_url}/api/v1/diary/check",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        return any(w["code"] == "changes_harvested_lot" for w in r.json()["warnings"])

    # Counted by hand: Tilt (PHI 14 days) 3 days before the harvest fails the lot, 20 days
    # before it holds, the day after the harvest is the next crop's; urea sprayed the day
    # before is no pesticide; Furadan, banned, fails it even 35 days before (its PHI 30).
    # The server says so online.
    cases = [
        ("tilt", "TILTSUPER300EC", harvested - timedelta(days=3), True),
        ("tilt", "TILTSUPER300EC", harvested - timedelta(days=20), False),
        ("tilt", "TILTSUPER300EC", harvested + timedelta(days=1), False),
        ("urê", "URE46", harvested - timedelta(days=1), False),
        ("furadan", "FURADANE2E", harvested - timedelta(days=35), True),
    ]
    assert [server_says(code, day) for _q, code, day, _w in cases] == [w for *_, w in cases]

    phone.set_offline(True)
    page.reload()  # opened from the phone's cache
    page.get_by_text("Phun thuốc").click()
    page.get_by_label("Số lượng").fill("0,3")
    warning = page.locator("#warnings .changes_harvested_lot")
    for query, code, day, warned in cases:
        page.get_by_label("Tìm theo tên").fill(query)
        assert page.locator("#input_code").input_value() == code
        page.locator("#occurred_at").fill(f"{day.isoformat()}T08:00")
        if warned:
            warning.wait_for()
            assert lot.code in warning.inner_text()
            assert harvested.strftime("%d/%m/%Y") in warning.inner_text()
        else:
            page.wait_for_timeout(600)  # past the form's 250 ms pause
            assert warning.count() == 0, (code, day)
    page.get_by_label("Tìm theo tên").fill("tilt")
    page.locator("#occurred_at").fill(f"{cases[0][2].isoformat()}T08:00")
    warning.wait_for()
    _shot(page, "warning-harvested-lot-offline")
    page.get_by_role("button", name="Lưu").click()
    # Warned before queueing: nothing is in the outbox until the second tap.
    page.get_by_role("button", name="Vẫn lưu").wait_for()
    assert page.locator("#outbox li").count() == 0
    page.get_by_role("button", name="Vẫn lưu").click()
    page.locator("#outbox li").wait_for()
    phone.set_offline(False)
    page.locator("#outbox").wait_for(state="hidden")
    assert httpx.get(f"{base_url}/api/v1/trace/{lot.code}").json()["phi_compliant"] is False
