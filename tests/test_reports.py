"""Reports for the agriculture office, from missions flown through the real pipeline."""

import csv
import io
from datetime import datetime

import pytest

from tests.mqtt import lawnmower
from tests.test_missions_measure import fly
from traceability import reports


@pytest.fixture
def flown(session, factory):
    """One field, a drone mission over it (with overspray), and a hand spray in its diary."""
    field = factory.field(code="F1", x0=0, y0=0, width=100, height=200)
    product = factory.input(code="P1", max_dose_per_ha=10.0)
    factory.drone(code="D1", swath_m=10.0, operator="HTX Phong Thạnh")
    points = lawnmower(mission_id="M1", y_from=-20.0, y_to=220.0)
    start = {"product_code": "P1", "swath_m": 10.0, "tank_mix": {"product_per_l": 0.05}}
    mission = fly(session, "M1", points, start=start, end={})
    factory.entry(
        field,
        activity="spray",
        input_code=product.code,
        quantity=1.5,
        area_ha=2.0,
        occurred_at=datetime.fromisoformat("2026-02-03T07:00:00+07:00"),
    )
    return mission


def test_missions_and_fleet_reports(db, flown):
    missions = reports.missions_report(db)
    assert list(missions["mission_id"]) == ["M1"]
    row = missions.iloc[0]
    assert row["treated_area_ha"] == pytest.approx(flown.treated_area_ha)
    assert row["overspray_area_ha"] == pytest.approx(0.4, rel=0.02)  # 10 x 2 x 20 m x 10 m
    assert row["flag_count"] == len(flown.flags)

    fleet = reports.fleet_report(db)
    (drone,) = fleet.to_dict("records")
    assert (drone["drone_code"], drone["operator"], drone["missions"]) == (
        "D1",
        "HTX Phong Thạnh",
        1,
    )
    expected = 100 * flown.overspray_area_ha / (flown.treated_area_ha + flown.overspray_area_ha)
    assert drone["overspray_pct"] == pytest.approx(expected, abs=0.01)


def test_field_applications_by_drone_and_by_hand(db, flown):
    frame = reports.field_applications_report(db)
    by_source = {r["source"]: r for r in frame.to_dict("records")}
    assert set(by_source) == {"drone", "hand"}
    assert by_source["drone"]["field_code"] == by_source["hand"]["field_code"] == "F1"
    # The drone's amount is the product in the tank mix: 13.33 L of mix at 0.05 L/L.
    assert by_source["drone"]["amount"] == pytest.approx(flown.fields[0].applied_amount * 0.05)
    assert (by_source["drone"]["unit"], by_source["drone"]["amount_of"]) == ("L", "product")
    assert by_source["hand"]["amount"] == pytest.approx(1.5)


def test_field_applications_use_the_corrected_view_and_the_products_unit(db, session, factory):
    """A 2 kg hand spray corrected to 1.5 kg is one application of 1.5 kg; a drone's
    1.5 % tank mix reports kilograms of product, not litres of mix."""
    field = factory.field(code="F2", x0=0, y0=0, width=100, height=200)
    factory.input(code="PK", unit="kg", max_dose_per_ha=10.0)
    factory.drone(code="D1", swath_m=10.0)
    wrong = factory.entry(field, activity="spray", input_code="PK", quantity=2.0, area_ha=2.0)
    factory.entry(
        field,
        activity="spray",
        input_code="PK",
        quantity=1.5,
        area_ha=2.0,
        corrects=wrong.id,
        occurred_at=wrong.occurred_at,
    )
    # Ten 10 m passes over y -20..220 m at 5 m/s, 2 L/min while spraying: each pass has
    # 40 one-second stretches over the 200 m field, 10 x 40 / 30 = 13.333 L of mix on it.
    points = lawnmower(mission_id="M2", y_from=-20.0, y_to=220.0)
    mix = {"product_per_l": 0.015, "product_unit": "kg"}
    fly(
        session,
        "M2",
        points,
        start={"product_code": "PK", "swath_m": 10.0, "tank_mix": mix},
        end={},
    )

    rows = reports.field_applications_report(db).to_dict("records")
    by_source = {r["source"]: r for r in rows}
    assert len(rows) == 2, rows
    hand, drone = by_source["hand"], by_source["drone"]
    assert (hand["amount"], hand["unit"], hand["applications"]) == (1.5, "kg", 1)
    assert drone["amount"] == pytest.approx(13.333 * 0.015, rel=1e-3)  # 0.2 kg, not 13.3
    assert (drone["unit"], drone["amount_of"], drone["applications"]) == ("kg", "product", 1)


def test_a_withdrawn_hand_spray_is_not_reported(db, factory):
    field = factory.field(code="F3")
    factory.input(code="PW", unit="L")
    entry = factory.entry(field, activity="spray", input_code="PW", quantity=1.0, area_ha=1.0)
    factory.entry(
        field,
        activity="spray",
        corrects=entry.id,
        retracts=True,
        occurred_at=entry.occurred_at,
    )
    assert reports.field_applications_report(db).empty


def test_reports_over_http_as_csv_and_json(client, admin_headers, factory, flown):
    r = client.get("/api/v1/reports/missions?format=csv", headers=admin_headers)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [row["mission_id"] for row in rows] == ["M1"]
    r = client.get("/api/v1/reports/fleet", headers=admin_headers)
    assert r.status_code == 200 and r.json()["count"] == 1
    assert r.json()["data"][0]["drone_code"] == "D1"
    r = client.get("/api/v1/reports/nothing", headers=admin_headers)
    assert r.status_code == 404 and "missions" in r.json()["detail"]
    farmer = factory.farmer()
    r = client.get("/api/v1/reports/missions", headers=factory.token("farmer", farmer))
    assert r.status_code == 403
    assert client.get("/api/v1/reports/missions").status_code == 401


def test_empty_database_gives_empty_reports(db):
    for build in reports.REPORTS.values():
        assert build(db).empty
