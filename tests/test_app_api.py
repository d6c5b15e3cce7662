"""The farmers' app over HTTP: sign-in links, devices, the entry check, the pages."""

import json
import re
from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from traceability.models import SigninLink


def _link(client, admin_headers, farmer_id: int) -> str:
    r = client.post(f"/api/v1/farmers/{farmer_id}/signin-link", headers=admin_headers)
    assert r.status_code == 201, r.text
    return r.json()["url"]


def _token_of(url: str) -> str:
    return url.rsplit("/", 1)[1]


def _sign_in(client, admin_headers, farmer_id: int) -> str:
    """Open a fresh sign-in link like a phone; returns the device token."""
    token = _token_of(_link(client, admin_headers, farmer_id))
    r = client.post("/app/signin", data={"token": token})
    assert r.status_code == 200, r.text
    return r.cookies["agritrace_device"]


def test_admin_issues_a_link_that_works_once(client, factory, admin_headers):
    farmer = factory.farmer()
    r = client.post(f"/api/v1/farmers/{farmer.id}/signin-link", headers=admin_headers)
    assert r.status_code == 201
    body = r.json()
    assert body["url"].startswith("https://trace.example.vn/app/signin/")
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=71) < expires - datetime.now(UTC) <= timedelta(hours=72)
    token = _token_of(body["url"])
    # Opening the link (as a chat app's preview does) does not spend it.
    assert client.get(f"/app/signin/{token}").status_code == 200
    assert client.get(f"/app/signin/{token}/qr.png").headers["content-type"] == "image/png"
    first = client.post("/app/signin", data={"token": token})
    assert first.status_code == 200
    device = first.cookies["agritrace_device"]
    assert (
        client.get("/api/v1/me", headers={"Authorization": f"Bearer {device}"}).json()["farmer_id"]
        == farmer.id
    )
    again = client.post("/app/signin", data={"token": token})
    assert again.status_code == 410
    assert "agritrace_device" not in again.cookies
    assert client.get(f"/app/signin/{token}").status_code == 410


def test_an_expired_link_signs_nobody_in(client, factory, admin_headers, session):
    farmer = factory.farmer()
    token = _token_of(_link(client, admin_headers, farmer.id))
    link = session.exec(select(SigninLink)).one()
    link.expires_at = datetime.now(UTC) - timedelta(minutes=1)
    session.add(link)
    session.commit()
    assert client.post("/app/signin", data={"token": token}).status_code == 410


def test_only_an_admin_issues_links_and_revokes_devices(client, factory, admin_headers):
    farmer = factory.farmer()
    own = factory.token("farmer", farmer)
    assert client.post(f"/api/v1/farmers/{farmer.id}/signin-link", headers=own).status_code == 403
    assert client.post("/api/v1/farmers/999999/signin-link", headers=admin_headers).status_code == (
        404
    )
    device = _sign_in(client, admin_headers, farmer.id)
    bearer = {"Authorization": f"Bearer {device}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200
    devices = client.get(f"/api/v1/farmers/{farmer.id}/devices", headers=admin_headers).json()
    assert devices["count"] == 1
    assert client.get(f"/api/v1/farmers/{farmer.id}/devices", headers=own).status_code == 403
    device_id = devices["data"][0]["id"]
    r = client.delete(f"/api/v1/farmers/{farmer.id}/devices/{device_id}", headers=admin_headers)
    assert r.status_code == 204
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    client.cookies.set("agritrace_device", device)
    assert client.get("/app/").status_code == 401


def test_client_id_is_unique_per_farmer_not_across_farmers(client, factory):
    a, b = factory.farmer(), factory.farmer()
    field_a, field_b = factory.field(farmer=a), factory.field(farmer=b)
    body = {
        "occurred_at": "2026-02-01T08:00:00+07:00",
        "activity": "observe",
        "client_id": "phone-0001-abcdef",
    }
    ra = client.post(
        "/api/v1/diary",
        json=body | {"field_code": field_a.code},
        headers=factory.token("farmer", a),
    )
    assert ra.status_code == 201
    # Another farmer's phone happens to pick the same client_id: recorded, nothing leaks.
    rb = client.post(
        "/api/v1/diary",
        json=body | {"field_code": field_b.code},
        headers=factory.token("farmer", b),
    )
    assert rb.status_code == 201, rb.text
    assert rb.json()["id"] != ra.json()["id"]
    # The same farmer re-sending it is the same entry, from any of their phones.
    again = client.post(
        "/api/v1/diary",
        json=body | {"field_code": field_a.code},
        headers=factory.token("farmer", a),
    )
    assert again.status_code == 200
    assert again.json()["id"] == ra.json()["id"]


def test_the_check_warns_of_dose_phi_and_registration(client, factory, admin_headers):
    farmer = factory.farmer()
    field = factory.field(farmer=farmer, width=100.0, height=100.0)  # 1 ha
    factory.season(field, crop="lúa", planned_harvest_on=date(2026, 2, 10))
    factory.input(
        code="TILT",
        phi_days=14,
        max_dose_per_ha=0.3,
        registration_status="registered",
        registered_crops=["lúa"],
    )
    factory.input(code="COTTONONLY", registration_status="registered", registered_crops=["bông"])
    factory.input(code="FURADAN", unit="kg", registration_status="banned")
    headers = factory.token("farmer", farmer)
    entry = {
        "field_code": field.code,
        "occurred_at": "2026-02-01T08:00:00+07:00",
        "activity": "spray",
    }

    def codes(**kw):
        r = client.post("/api/v1/diary/check", json=entry | kw, headers=headers)
        assert r.status_code == 200, r.text
        return [w["code"] for w in r.json()["warnings"]]

    assert codes(input_code="TILT", quantity=0.5, area_ha=1.0) == [
        "dose_above_max",
        "phi_after_planned_harvest",
    ]
    assert codes(input_code="TILT", quantity=0.3, occurred_at="2026-01-20T08:00:00+07:00") == []
    # At the label's precision, three figures: 0.3002 L/ha is 0.300, 0.3005 is 0.301, over.
    early = {"occurred_at": "2026-01-20T08:00:00+07:00", "area_ha": 1.0, "input_code": "TILT"}
    assert codes(**early, quantity=0.3002) == []
    assert codes(**early, quantity=0.3005) == ["dose_above_max"]
    assert codes(input_code="COTTONONLY", occurred_at="2026-01-10T08:00:00+07:00") == [
        "not_registered_for_crop"
    ]
    assert "banned" in codes(input_code="FURADAN")
    r = client.post("/api/v1/diary/check", json=entry | {"input_code": "TILT"}, headers=headers)
    phi = r.json()["warnings"][0]
    assert phi["params"] == {
        "phi_days": 14,
        "safe_from": "2026-02-15",
        "planned_harvest_on": "2026-02-10",
    }
    # Nothing was written, and another farmer cannot probe this field.
    assert client.get("/api/v1/diary", headers=admin_headers).json()["count"] == 0
    other = factory.token("farmer", factory.farmer())
    assert client.post("/api/v1/diary/check", json=entry, headers=other).status_code == 403


def test_buying_a_pesticide_is_not_spraying_it(client, factory, admin_headers):
    farmer = factory.farmer()
    field = factory.field(farmer=farmer)
    factory.input(code="TILT", phi_days=14)
    factory.entry(
        field,
        activity="purchase",
        input_code="TILT",
        quantity=1.0,
        occurred_at=datetime.fromisoformat("2026-04-05T08:00:00+07:00"),
    )
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 4, 10))
    trace = client.get(f"/api/v1/trace/{lot.code}").json()
    assert trace["phi_compliant"] is True


def test_app_pages_show_only_the_farmers_own(client, factory, admin_headers):
    farmer, other = factory.farmer(name="Trần Thị Lúa"), factory.farmer()
    mine = factory.field(farmer=farmer, code="GR-MINE")
    theirs = factory.field(farmer=other, code="GR-THEIRS")
    factory.season(mine, planned_harvest_on=date(2026, 4, 20))
    factory.entry(mine, note="ghi chú riêng")
    assert client.get("/app/").status_code == 401
    client.cookies.set("agritrace_device", _sign_in(client, admin_headers, farmer.id))
    home = client.get("/app/")
    assert home.status_code == 200
    assert "GR-MINE" in home.text and "GR-THEIRS" not in home.text
    assert "Ruộng của tôi" in home.text
    assert "My fields" in client.get("/app/?lang=en").text
    assert client.get("/app/fields/GR-MINE").status_code == 200
    assert client.get(f"/app/fields/{theirs.code}").status_code == 404
    form = client.get("/app/new").text
    for name in ("field_code", "activity", "input_code", "quantity", "unit", "occurred_at", "note"):
        assert f'name="{name}"' in form
    assert "GR-THEIRS" not in form
    assert form.count('type="submit"') == 1
    diary = client.get("/app/diary").text
    assert "ghi chú riêng" in diary
    assert client.get("/app/lots").status_code == 200


def _control_row(html: str, name: str) -> tuple[str, bool, str, bool]:
    """A form control's row: ``(activities, row hidden, label, control disabled)``."""
    m = re.search(
        r'<div class="row" data-activities="([^"]*)"( hidden)?>\s*'
        rf'<label for="{name}">([^<]*)</label>\s*<input ([^>]*)>',
        html,
    )
    assert m, f"no labelled control {name!r}"
    attrs = m.group(4)
    assert f'name="{name}"' in attrs and 'maxlength="200"' in attrs, attrs
    return m.group(1), bool(m.group(2)), m.group(3), " disabled" in attrs


def test_the_form_asks_for_supplier_buyer_and_who_applied(client, factory, admin_headers):
    farmer = factory.farmer()
    field = factory.field(farmer=farmer, code="GR-VG")
    bought = factory.entry(field, activity="purchase", counterparty="Đại lý Chú Tư")
    factory.entry(field, activity="spray", applied_by="Lê Văn Tám")
    client.cookies.set("agritrace_device", _sign_in(client, admin_headers, farmer.id))
    form = client.get("/app/new").text
    # Each is a labelled control named as the API's field, in a row saying which work asks
    # for it. The form opens on a spray: who applied is asked; the supplier or buyer is
    # hidden and disabled (so not sent).
    assert _control_row(form, "counterparty") == (
        "purchase sale",
        True,
        "Nơi mua / Người mua",
        True,
    )
    assert _control_row(form, "applied_by") == ("spray fertilize", False, "Người phun/bón", False)
    english = client.get("/app/new?lang=en").text
    assert "Supplier / Buyer" in english and "Who applied" in english
    # Correcting a purchase shows its supplier, ready to be changed.
    fix = client.get(f"/app/new?corrects={bought.id}").text
    assert _control_row(fix, "counterparty")[1::2] == (False, False)
    assert 'value="Đại lý Chú Tư"' in fix
    diary = client.get("/app/diary").text
    assert "Nơi mua / Người mua: Đại lý Chú Tư" in diary
    assert "Người phun/bón: Lê Văn Tám" in diary


def test_the_app_is_installable_and_small(client):
    manifest = client.get("/app/manifest.webmanifest").json()
    assert manifest["start_url"] == "/app/" and manifest["display"] == "standalone"
    assert {i["sizes"] for i in manifest["icons"]} >= {"192x192", "512x512"}
    sw = client.get("/app/sw.js")
    assert sw.status_code == 200 and "caches" in sw.text
    # Its one sentence of its own comes from the catalogue, in both languages.
    assert "new Response(" + json.dumps("Không có mạng · Offline") in sw.text
    js = client.get("/app/static/app.js", headers={"Accept-Encoding": "gzip"})
    assert js.status_code == 200
    assert client.get("/app/static/nope.js").status_code == 404


def test_the_lots_tab_shows_each_lot_s_verdict(client, factory, admin_headers):
    farmer = factory.farmer()
    kept, broken, unsown = (factory.field(farmer=farmer) for _ in range(3))
    for f in (kept, broken):
        factory.season(f, sown_on=date(2026, 1, 5))
    product = factory.input(phi_days=14)
    for f, day in ((kept, "2026-03-20"), (broken, "2026-04-05")):
        factory.entry(
            f,
            activity="spray",
            input_code=product.code,
            quantity=0.5,
            occurred_at=datetime.fromisoformat(f"{day}T08:00:00+07:00"),
        )
    # A spray naming no product: the verdict cannot be judged.
    factory.entry(
        unsown,
        activity="spray",
        quantity=0.5,
        unit="L",
        occurred_at=datetime.fromisoformat("2026-04-01T08:00:00+07:00"),
    )
    codes = {}
    for name, f in (("kept", kept), ("broken", broken), ("unknown", unsown)):
        codes[name] = factory.lot(fields_=[f], harvested_on=date(2026, 4, 10)).code
    client.cookies.set("agritrace_device", _sign_in(client, admin_headers, farmer.id))

    html = client.get("/app/lots").text

    found = dict(
        re.findall(r"(LOT-\d+)<br><span class=\"verdict [^\"]+\" data-verdict=\"(\w+)\"", html)
    )
    assert found == {codes["kept"]: "true", codes["broken"]: "false", codes["unknown"]: "none"}
    assert "Không đạt thời gian cách ly" in html
    assert "PHI not respected" in client.get("/app/lots?lang=en").text


def test_the_farmer_is_warned_before_changing_a_harvested_lot_s_verdict(client, factory):
    farmer = factory.farmer()
    field = factory.field(farmer=farmer)
    factory.season(field, sown_on=date(2026, 1, 5))
    factory.input(code="TILT", phi_days=14, registration_status="registered")
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 4, 10))
    headers = factory.token("farmer", farmer)

    def check(**kw) -> list[dict]:
        entry = {"field_code": field.code, "activity": "spray", "input_code": "TILT"} | kw
        r = client.post("/api/v1/diary/check", json=entry, headers=headers)
        assert r.status_code == 200, r.text
        return [w for w in r.json()["warnings"] if w["code"] == "changes_harvested_lot"]

    # A spray 3 days before that harvest, written now, would make the lot fail its PHI.
    [w] = check(occurred_at="2026-04-07T08:00:00+07:00")
    assert w["params"] == {
        "lot_code": lot.code,
        "harvested_on": "2026-04-10",
        "before": True,
        "after": False,
    }
    # 20 days before: the PHI is kept, the verdict stays; after the harvest: the next crop's.
    assert check(occurred_at="2026-03-21T08:00:00+07:00") == []
    assert check(occurred_at="2026-04-11T08:00:00+07:00") == []
    assert check(occurred_at="2026-04-07T08:00:00+07:00", activity="observe", input_code=None) == []
    # Nothing was written: the lot is as it was.
    assert client.get(f"/api/v1/trace/{lot.code}").json()["phi_compliant"] is True


def test_farmers_and_their_cooperative_plan_the_harvest_and_phi_warnings_follow(
    client, factory, admin_headers
):
    coop = factory.organisation("cooperative")
    farmer = factory.farmer(organisation=coop)
    field = factory.field(farmer=farmer, code="GR-PLAN")
    season = factory.season(field, sown_on=date(2026, 1, 5))
    factory.input(code="TILT", phi_days=14, registration_status="registered")
    mine = factory.token("farmer", farmer)
    entry = {
        "field_code": field.code,
        "occurred_at": "2026-02-01T08:00:00+07:00",
        "activity": "spray",
        "input_code": "TILT",
    }

    def phi_warnings() -> list[dict]:
        r = client.post("/api/v1/diary/check", json=entry, headers=mine)
        return [w for w in r.json()["warnings"] if w["code"] == "phi_after_planned_harvest"]

    assert phi_warnings() == []  # no harvest planned: nothing to hold the PHI against
    r = client.patch(
        f"/api/v1/seasons/{season.id}", json={"planned_harvest_on": "2026-02-10"}, headers=mine
    )
    assert r.status_code == 200 and r.json()["planned_harvest_on"] == "2026-02-10"
    # Sprayed 1 February with a 14-day PHI: safe from the 15th, harvest planned the 10th.
    [w] = phi_warnings()
    assert w["params"]["safe_from"] == "2026-02-15"
    # The cooperative moves it later; the warning goes.
    r = client.patch(
        f"/api/v1/seasons/{season.id}",
        json={"planned_harvest_on": "2026-02-20"},
        headers=factory.token("cooperative", organisation=coop),
    )
    assert r.status_code == 200 and phi_warnings() == []
    # A day before sowing, another farmer, no such season, a huge id, an unknown key.
    bad = client.patch(
        f"/api/v1/seasons/{season.id}", json={"planned_harvest_on": "2026-01-01"}, headers=mine
    )
    assert bad.status_code == 422 and "before the season was sown (2026-01-05)" in bad.text
    other = factory.token("farmer", factory.farmer())
    assert (
        client.patch(
            f"/api/v1/seasons/{season.id}", json={"planned_harvest_on": None}, headers=other
        ).status_code
        == 403
    )
    assert (
        client.patch(
            "/api/v1/seasons/999999", json={"planned_harvest_on": None}, headers=mine
        ).status_code
        == 404
    )
    assert (
        client.patch(
            f"/api/v1/seasons/{2**40}", json={"planned_harvest_on": None}, headers=mine
        ).status_code
        == 422
    )
    assert (
        client.patch(
            f"/api/v1/seasons/{season.id}", json={"sown_on": "2026-01-01"}, headers=mine
        ).status_code
        == 422
    )
    # Null clears the plan.
    r = client.patch(
        f"/api/v1/seasons/{season.id}", json={"planned_harvest_on": None}, headers=mine
    )
    assert r.status_code == 200 and r.json()["planned_harvest_on"] is None


def test_the_app_s_field_page_sets_the_planned_harvest(client, factory, admin_headers):
    farmer = factory.farmer()
    field = factory.field(farmer=farmer, code="GR-APP")
    today = datetime.now(UTC).date()
    factory.season(field, sown_on=today - timedelta(days=60))
    client.cookies.set("agritrace_device", _sign_in(client, admin_headers, farmer.id))
    page = client.get("/app/fields/GR-APP").text
    assert 'action="/app/fields/GR-APP/planned-harvest"' in page
    day = today + timedelta(days=30)

    r = client.post(
        "/app/fields/GR-APP/planned-harvest",
        data={"planned_harvest_on": day.isoformat()},
        follow_redirects=False,
    )

    assert r.status_code == 303 and r.headers["location"] == "/app/fields/GR-APP"
    page = client.get("/app/fields/GR-APP").text
    assert f"Dự kiến thu hoạch {day:%d/%m/%Y}" in page
    assert f'value="{day.isoformat()}"' in page
    r = client.post(
        "/app/fields/GR-APP/planned-harvest",
        data={"planned_harvest_on": (today - timedelta(days=90)).isoformat()},
    )
    assert r.status_code == 422 and "before the season was sown" in r.text
    r = client.post("/app/fields/GR-APP/planned-harvest", data={"planned_harvest_on": "31/12"})
    assert r.status_code == 422 and "is not a day" in r.text


def test_the_app_s_field_page_states_the_pre_season_water(client, factory, admin_headers):
    """A season with no earlier crop in the diary: the farmer states the field's water
    before sowing on the field page, and the season's methane estimate then rests on it
    (``pre_season_basis`` "farmer", SFp 0.89 for dry over 180 days)."""
    farmer = factory.farmer()
    field = factory.field(farmer=farmer, code="GR-PRE")
    today = datetime.now(UTC).date()
    factory.season(field, sown_on=today - timedelta(days=60))
    client.cookies.set("agritrace_device", _sign_in(client, admin_headers, farmer.id))
    page = client.get("/app/fields/GR-PRE").text
    assert 'action="/app/fields/GR-PRE/pre-season"' in page
    assert "Nước trên ruộng trước khi gieo" in page

    r = client.post(
        "/app/fields/GR-PRE/pre-season",
        data={"pre_season_water": "non_flooded_gt_180d"},
        follow_redirects=False,
    )

    assert r.status_code == 303 and r.headers["location"] == "/app/fields/GR-PRE#low-emission"
    page = client.get("/app/fields/GR-PRE").text
    assert '<option value="non_flooded_gt_180d" selected>Khô, trên 180 ngày</option>' in page
    rows = client.get(
        "/api/v1/reports/low-emission-rice", params={"field": "GR-PRE"}, headers=admin_headers
    ).json()["data"]
    assert (rows[0]["pre_season"], rows[0]["pre_season_basis"], rows[0]["sfp"]) == (
        "non_flooded_gt_180d", "farmer", 0.89,
    )  # fmt: skip
    r = client.post("/app/fields/GR-PRE/pre-season", data={"pre_season_water": "wet"})
    assert r.status_code == 422 and "is none of" in r.text
    client.post("/app/fields/GR-PRE/pre-season", data={"pre_season_water": ""})
    rows = client.get(
        "/api/v1/reports/low-emission-rice", params={"field": "GR-PRE"}, headers=admin_headers
    ).json()["data"]
    assert rows[0]["pre_season_basis"] == "ipcc_aggregated"
