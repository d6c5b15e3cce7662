"""The public trace over HTTP: page (vi/en), JSON, the GS1 resolver, 404s and privacy."""

import re
from datetime import date

import pytest

from tests.test_trace_phi import local, make_mission, spray
from traceability.services import trace as svc

GTIN13 = "8934567890120"
GTIN14 = "08934567890120"
PHONE = "0987654321"
NATIONAL_ID = "079123456789"
OPERATOR = "OP-NGUYEN-0913555777"


@pytest.fixture(autouse=True)
def _fresh_cache():
    svc.clear_cache()


@pytest.fixture
def lot(session, factory):
    """A GTIN lot from one field sprayed by hand and by drone (PHI 14, both kept)."""
    farmer = factory.farmer(
        name="Trần Thị Hồng", phone=PHONE, national_id=NATIONAL_ID, village="Ấp Láng Trâm"
    )
    field = factory.field(farmer=farmer, code="GR-0042")
    factory.season(field, sown_on=date(2026, 1, 5), variety="ST25")
    product = factory.input(
        code="ANVIL5SC", name="Anvil 5SC", phi_days=14, active_ingredient="Hexaconazole"
    )
    spray(factory, field, product, "2026-03-01T08:00:00")
    make_mission(
        session, field=field, product=product, at=local("2026-03-20T07:00:00"), operator_id=OPERATOR
    )
    return factory.lot(
        fields_=[field], harvested_on=date(2026, 4, 10), gtin=GTIN13, product_name="Gạo ST25"
    )


def test_trace_page_is_vietnamese_by_default(client, lot):
    r = client.get(f"/t/{lot.code}")

    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert '<html lang="vi">' in html
    for words in ("Truy xuất nguồn gốc", "Ngày thu hoạch", "Thời gian cách ly", "Đạt"):
        assert words in html
    assert "Gạo ST25" in html and lot.code in html and "10/04/2026" in html
    assert "Trần Thị Hồng" in html and "Ấp Láng Trâm" in html
    assert "Anvil 5SC" in html and "bằng máy bay không người lái" in html
    assert "21/14 ngày" in html and "lúa" in html
    assert 'data-phi="true"' in html
    assert 'data-chain="valid"' in html
    assert "<svg" in html and "GR-0042" in html


def test_trace_page_in_english(client, lot):
    html = client.get(f"/t/{lot.code}", params={"lang": "en"}).text

    assert '<html lang="en">' in html
    assert "Harvest date" in html and "2026-04-10" in html
    assert "PHI respected" in html and "by drone" in html and "Spraying" in html
    assert "Kept" not in html
    # The last spray was the drone's on 20 March, 21 days before the 10 April harvest.
    assert "21 of 14 days" in html
    # The season's crop is recorded as "lúa"; in English it is rice.
    assert "rice" in html and "lúa" not in html
    assert "Ngày thu hoạch" not in html


def test_trace_page_loads_nothing_from_elsewhere(client, lot):
    html = client.get(f"/t/{lot.code}").text

    assert not re.search(r"\ssrc\s*=", html)
    assert "<link" not in html
    assert "@import" not in html and "url(" not in html
    assert "<script" not in html


def test_trace_json_shape(client, lot):
    r = client.get(f"/api/v1/trace/{lot.code}")

    assert r.status_code == 200
    body = r.json()
    assert body["phi_compliant"] is True
    assert body["lot"]["code"] == lot.code
    assert body["lot"]["gtin"] == GTIN14
    assert body["lot"]["digital_link"] == f"https://trace.example.vn/01/{GTIN14}/10/{lot.code}"
    assert body["lot"]["harvested_on"] == "2026-04-10"
    field = body["fields"][0]
    assert field["farmer"] == {"name": "Trần Thị Hồng", "village": "Ấp Láng Trâm"}
    assert field["geometry"]["type"] == "Polygon"
    assert abs(field["area_ha"] - 2.0) < 0.01
    assert field["diary_chain"]["valid"] is True
    assert body["diary_integrity"]["valid"] is True
    kinds = [(e["kind"], e["activity"]) for e in body["events"]]
    assert kinds == [("diary", "spray"), ("drone_mission", "spray"), ("lot", "harvest")]
    stamps = [e["at"] for e in body["events"]]
    assert stamps == sorted(stamps)


def _all_keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | set().union(*(_all_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_all_keys(v) for v in value)) if value else set()
    return set()


def test_no_personal_data_or_token_in_public_output(client, factory, lot):
    farmer_headers = factory.token("farmer", factory.farmer(phone="0911222333"))
    token = farmer_headers["Authorization"].split()[1]
    outputs = {
        "page vi": client.get(f"/t/{lot.code}").text,
        "page en": client.get(f"/t/{lot.code}?lang=en").text,
        "json": client.get(f"/api/v1/trace/{lot.code}").text,
        "resolver": client.get(f"/01/{GTIN14}/10/{lot.code}").text,
        "epcis": client.get(f"/api/v1/lots/{lot.code}/epcis").text,
        "label": client.get(f"/api/v1/lots/{lot.code}/label").text,
    }
    for name, text in outputs.items():
        assert "Trần Thị Hồng" in text or name in ("epcis", "label"), name
        for secret in (PHONE, NATIONAL_ID, OPERATOR, token, "0911222333"):
            assert secret not in text, f"{secret} leaked in {name}"
    keys = _all_keys(client.get(f"/api/v1/trace/{lot.code}").json())
    assert not keys & {"phone", "national_id", "operator_id", "author_id", "farmer_id", "note"}


def test_unknown_lot_is_a_friendly_404(client, lot):
    r = client.get("/t/NO-SUCH-LOT")
    assert r.status_code == 404
    assert "Không tìm thấy lô hàng" in r.text and "NO-SUCH-LOT" in r.text
    r = client.get("/t/NO-SUCH-LOT?lang=en")
    assert r.status_code == 404 and "Lot not found" in r.text
    r = client.get("/api/v1/trace/NO-SUCH-LOT")
    assert r.status_code == 404 and "NO-SUCH-LOT" in r.json()["detail"]
    for path in ("qr.png", "qr.svg", "label", "epcis"):
        assert client.get(f"/api/v1/lots/NO-SUCH-LOT/{path}").status_code == 404


def test_markup_in_a_code_is_escaped(client):
    r = client.get('/t/"><img src=x onerror=alert(1)>')
    assert r.status_code == 404
    assert "<img" not in r.text and "&lt;img" in r.text


def test_digital_link_resolves_to_the_same_page(client, lot):
    for gtin in (GTIN14, GTIN13):
        r = client.get(f"/01/{gtin}/10/{lot.code}")
        assert r.status_code == 200, gtin
        assert 'data-phi="true"' in r.text and lot.code in r.text
    r = client.get(f"/01/{GTIN14}/10/{lot.code}", params={"lang": "en"})
    assert r.status_code == 200 and "Harvest date" in r.text


def test_digital_link_with_a_bad_or_wrong_gtin(client, lot):
    r = client.get(f"/01/08934567890121/10/{lot.code}")
    assert r.status_code == 400
    assert "Số kiểm tra" in r.text and "check digit" not in r.text
    r = client.get(f"/01/08934567890121/10/{lot.code}", params={"lang": "en"})
    assert r.status_code == 400 and "check digit" in r.text
    r = client.get(f"/01/12ab/10/{lot.code}")
    assert r.status_code == 400
    # A valid GTIN of another product does not open this lot.
    r = client.get(f"/01/04006381333931/10/{lot.code}")
    assert r.status_code == 404


def test_lot_code_opens_nothing_but_its_trace(client, lot):
    for path in (
        f"/api/v1/lots/{lot.code}",
        "/api/v1/lots",
        "/api/v1/farmers",
        "/api/v1/fields/GR-0042",
        "/api/v1/diary",
    ):
        assert client.get(path).status_code == 401, path
        r = client.get(path, headers={"Authorization": f"Bearer {lot.code}"})
        assert r.status_code == 401, path
    assert client.get(f"/api/v1/trace/{lot.code}").status_code == 200


def test_a_phone_holding_the_current_version_gets_304(client, factory):
    field = factory.field()
    lot = factory.lot(fields_=[field])
    for path in (f"/api/v1/trace/{lot.code}", f"/t/{lot.code}"):
        first = client.get(path)
        etag = first.headers["etag"]
        again = client.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.content == b""
        # A new diary line is a new version: the full body again, with another ETag.
        factory.entry(field, activity="observe", note=f"checked {path}")
        changed = client.get(path, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag


def test_counterparty_and_applied_by_stay_off_the_public_trace(client, admin_headers, factory):
    """Who sold the inputs, who sprayed them, who bought the rice: never public."""
    field = factory.field(code="GR-0043")
    factory.season(field, sown_on=date(2026, 1, 5), variety="ST25")
    product = factory.input(code="TILT", name="Tilt Super 300EC", unit="L", phi_days=14)
    common = {"field_code": field.code, "input_code": product.code, "quantity": 0.25}
    for body in (
        common
        | {"activity": "purchase", "occurred_at": "2026-02-28T08:00:00+07:00"}
        | {"counterparty": "Đại lý Chú Tư Lành"},
        common
        | {"activity": "spray", "occurred_at": "2026-03-01T08:00:00+07:00"}
        | {"applied_by": "Lê Văn Tám thuê phun"},
    ):
        r = client.post("/api/v1/diary", json=body, headers=admin_headers)
        assert r.status_code == 201, r.text
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 4, 10), product_name="Gạo ST25")
    outputs = {
        "page vi": client.get(f"/t/{lot.code}").text,
        "page en": client.get(f"/t/{lot.code}?lang=en").text,
        "json": client.get(f"/api/v1/trace/{lot.code}").text,
        "epcis": client.get(f"/api/v1/lots/{lot.code}/epcis").text,
    }
    assert "Tilt Super 300EC" in outputs["page vi"]  # the spray itself is on the trace
    for name, text in outputs.items():
        for secret in ("Chú Tư Lành", "Lê Văn Tám"):
            assert secret not in text, f"{secret} leaked in {name}"
    keys = _all_keys(client.get(f"/api/v1/trace/{lot.code}").json())
    assert not keys & {"counterparty", "applied_by"}
