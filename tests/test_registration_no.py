"""A pesticide's registration number ("Số đăng ký"): no public list we could cite gives
one for the catalogue's products, so the fixtures leave it empty; the office records it
from the label or certificate, and until then every page and report says "chưa có / not
recorded" instead of leaving a blank."""

import io
from datetime import date, datetime

import pandas as pd
import pytest

from traceability.services import trace as svc


@pytest.fixture(autouse=True)
def _fresh_cache():
    svc.clear_cache()


def test_the_office_records_a_registration_number_through_the_api(client, factory):
    factory.input(code="TILT", phi_days=14)
    office = factory.token("office")
    farmer = factory.token("farmer", factory.farmer())

    r = client.patch("/api/v1/inputs/TILT", json={"registration_no": "x"}, headers=farmer)
    assert r.status_code == 403 and "office" in r.json()["detail"]
    r = client.patch(
        "/api/v1/inputs/TILT", json={"registration_no": "  ABC-123/2024  "}, headers=office
    )
    assert r.status_code == 200, r.text
    assert r.json()["registration_no"] == "ABC-123/2024"  # as printed, spaces trimmed
    assert (
        client.get("/api/v1/inputs/TILT", headers=office).json()["registration_no"]
        == "ABC-123/2024"
    )
    # Bad input names the problem; null clears it.
    for bad in ({"registration_no": "\u200b"}, {"registration_no": "x" * 65}, {"other": 1}):
        r = client.patch("/api/v1/inputs/TILT", json=bad, headers=office)
        assert r.status_code == 422, (bad, r.text)
    assert (
        client.patch(
            "/api/v1/inputs/NOPE", json={"registration_no": "1"}, headers=office
        ).status_code
        == 404
    )
    r = client.patch("/api/v1/inputs/TILT", json={"registration_no": None}, headers=office)
    assert r.status_code == 200 and r.json()["registration_no"] is None


def _lot_with_spray(factory, product):
    field = factory.field()
    factory.season(field, sown_on=date(2026, 1, 5))
    factory.entry(
        field,
        activity="spray",
        input_code=product.code,
        quantity=0.3,
        area_ha=1.0,
        occurred_at=datetime.fromisoformat("2026-03-01T08:00:00+07:00"),
    )
    return factory.lot(fields_=[field], harvested_on=date(2026, 4, 10))


def test_the_trace_says_not_recorded_until_the_office_records_it(client, factory):
    product = factory.input(code="TILT", name="Tilt Super 300EC", phi_days=14)
    lot = _lot_with_spray(factory, product)

    vi = client.get(f"/t/{lot.code}").text
    en = client.get(f"/t/{lot.code}", params={"lang": "en"}).text
    assert "Số đăng ký: chưa có" in vi and "Registration no.: not recorded" in en
    [p] = client.get(f"/api/v1/trace/{lot.code}").json()["phi"]["lots"][0]["products"]
    assert p["registration_no"] is None

    office = factory.token("office")
    client.patch("/api/v1/inputs/TILT", json={"registration_no": "ABC-123/2024"}, headers=office)
    svc.clear_cache()
    vi = client.get(f"/t/{lot.code}").text
    assert "Số đăng ký: ABC-123/2024" in vi and "Số đăng ký: chưa có" not in vi


def test_the_office_page_lists_pesticides_and_records_a_number(client, factory):
    factory.input(code="TILT", name="Tilt Super 300EC", phi_days=14)
    factory.input(code="URE", name="Urê", kind="fertilizer", unit="kg", phi_days=None)
    office = factory.token("office")["Authorization"].split()[1]
    client.post("/signin", data={"token": office}, follow_redirects=False)

    page = client.get("/office/").text
    row = page[page.index('data-product="TILT"') :].split("</tr>")[0]
    assert "chưa có" in row and 'data-product="URE"' not in page  # pesticides only
    assert "not recorded" in client.get("/office/", params={"lang": "en"}).text

    r = client.post(
        "/office/products/TILT/registration",
        data={"registration_no": "ABC-123/2024"},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"].endswith("/office/#products")
    page = client.get("/office/").text
    row = page[page.index('data-product="TILT"') :].split("</tr>")[0]
    assert "ABC-123/2024" in row and "chưa có" not in row
    r = client.post(
        "/office/products/TILT/registration",
        data={"registration_no": "\u202eevil"},
        headers={"Origin": "http://testserver"},
    )
    assert r.status_code == 422 and "registration_no" in r.text


def test_reports_write_not_recorded_for_a_missing_number(session, factory):
    from traceability import reports
    from traceability.reports import report_files

    product = factory.input(code="TILT", phi_days=14)
    _lot_with_spray(factory, product)
    frame = reports.REPORTS["pesticide-records"](session.connection(), reports.Filters())
    csv = report_files.render(frame, "csv", name="pesticide-records").decode()
    got = pd.read_csv(io.StringIO(csv))
    assert list(got["registration_no"]) == ["chưa có / not recorded"]
