"""The field-season and low-emission rice reports, and the fleet by crop season, against
figures worked out by hand.

The scene (every figure below follows from it, not from the code):

- Field F1, 100 m x 200 m = 2.0 ha, commune 31957, farmer A of cooperative HTX-A; season
  of "lúa" sown 2026-01-05, harvested 2026-03-20 (a ``harvest`` entry). Field F2, 100 m
  x 100 m = 1.0 ha, commune 31906, farmer B of no cooperative; season sown 2026-01-10,
  no harvest yet.
- Pesticides P1 (L, at most 1 L/ha, PHI 14 days) and PK (kg, at most 10 kg/ha, PHI 14);
  fertilisers URE (kg, 46 % N), DAP (kg, 18 % N) and NPKX (kg, N not recorded); seed GI.
- Drone D1 flies M1 over F1 on 2026-03-01 (ends 08:08:09 Vietnam time) with a tank mix of
  0.05 L of P1 per litre: 13.333 L of mix in F1, so 0.6667 L of P1 on 2.0 ha,
  0.3333 L/ha. Drone D2 flies M2 over F1 from 2026-03-05 07:00 Vietnam time, ten
  passes of 41 fixes over y = 0..200 m, 40 sprayed one-second stretches a pass at 2 L/min:
  10 x 40 / 30 = 13.333 L of mix on 2.0 ha (6.667 L/ha of mix), P1 named but its
  strength not reported: litres of tank mix, never added to litres of P1. It ends with
  its 410th fix, 409 s after the start, 07:06:49.
- By hand on F1: 200 kg of GI sown on 2026-01-05 (100 kg/ha); 50 kg of DAP on
  2026-01-10; 100 kg of URE on 2026-01-20 corrected to 80 kg; 20 kg of NPKX on
  2026-01-22; 1.5 L of P1 on 2026-02-27, withdrawn; 0.4 L of P1 on 1.0 ha on
  2026-03-01 23:30; 2.0 kg of PK on 0.1 ha on 2026-03-10 (20 kg/ha: over the label);
  5 L of P1 bought on 2026-03-04 (a purchase, never an application).
  So P1 in product litres: 0.6667 + 0.4 = 1.0667 L on 3.0 ha, 2 applications, the
  highest dose 0.4 L/ha (under 1), 0.5333 L per ha of the field; its last application
  2026-03-05 (M2), 15 days before the harvest: PHI kept, safe from 2026-03-19. PK's
  last application 2026-03-10, 10 days before the harvest: not kept, safe from
  2026-03-24.
- Water on F1: drain 01-25, irrigate 01-30 (5 days dry), drain 02-10, drain 02-12 (the
  field was already dry), irrigate 02-15 (5 days), a drain on 02-20 withdrawn, drain
  03-12 and the harvest on 03-20 (8 days): 3 drying events, 18 days, 2 irrigations.
  Nitrogen: 80 x 0.46 + 50 x 0.18 = 36.8 + 9.0 = 45.8 kg, 22.9 kg N/ha; NPKX cannot be
  counted (1). Straw: "burnt" on 03-22 with a note naming a phone number, corrected to
  "removed".
- On F2 by hand: 0.5 L of P1 on 1.0 ha on 2026-02-10 (no harvest yet, safe from
  2026-02-24); drain 2026-02-01, still dry.
"""

import io
import re
from datetime import datetime

import pandas as pd
import pytest
from typer.testing import CliRunner

from agritrace.cli import app
from tests.mqtt import lawnmower
from tests.test_missions_measure import fly
from traceability import reports

API = "/api/v1/reports"
PHONE = "0912 345 678"


def vn(text):
    return datetime.fromisoformat(text + "+07:00")


@pytest.fixture
def scene(session, factory):
    coop = factory.organisation("cooperative", code="HTX-A")
    service = factory.organisation("drone_service", code="DV-A")
    farmer_a = factory.farmer(organisation=coop)
    farmer_b = factory.farmer()
    f1 = factory.field(
        farmer=farmer_a, code="F1", x0=0, y0=0, width=100, height=200, commune_code="31957"
    )
    f2 = factory.field(
        farmer=farmer_b, code="F2", x0=1000, y0=0, width=100, height=100, commune_code="31906"
    )
    s1 = factory.season(f1, crop="lúa")
    s2 = factory.season(f2, crop="lúa", sown_on=datetime(2026, 1, 10).date())
    factory.input(code="P1", unit="L", max_dose_per_ha=1.0, phi_days=14)
    factory.input(code="PK", unit="kg", max_dose_per_ha=10.0, phi_days=14)
    fert = {"kind": "fertilizer", "unit": "kg", "phi_days": None, "max_dose_per_ha": 150.0}
    factory.input(code="URE", nitrogen_pct=46.0, **fert)
    factory.input(code="DAP", nitrogen_pct=18.0, **fert)
    factory.input(code="NPKX", **fert)
    factory.input(code="GI", kind="seed", unit="kg", phi_days=None, max_dose_per_ha=120.0)
    factory.drone(code="D1", swath_m=10.0, organisation=service)
    factory.drone(code="D2", swath_m=10.0, organisation=service)
    fly(
        session,
        "M1",
        lawnmower(mission_id="M1", y_from=-20.0, y_to=220.0),
        start={"product_code": "P1", "swath_m": 10.0, "tank_mix": {"product_per_l": 0.05}},
        end={},
    )
    t0 = vn("2026-03-05T07:00:00")
    fly(
        session,
        "M2",
        lawnmower(mission_id="M2", y_from=0.0, y_to=200.0, t0=t0),
        drone="D2",
        start={"product_code": "P1", "swath_m": 10.0, "ts": t0.isoformat()},
        end={},
    )
    _diary(factory, f1, f2)
    return {"f1": f1, "f2": f2, "s1": s1, "s2": s2, "farmer_a": farmer_a, "farmer_b": farmer_b}


def _diary(factory, f1, f2):
    def put(field, when, activity, **kw):
        return factory.entry(field, occurred_at=vn(when), activity=activity, **kw)

    put(f1, "2026-01-05T07:00:00", "seed", input_code="GI", quantity=200.0, area_ha=2.0)
    put(f1, "2026-01-10T07:00:00", "fertilize", input_code="DAP", quantity=50.0, area_ha=2.0)
    urea = put(f1, "2026-01-20T07:00:00", "fertilize", input_code="URE", quantity=100.0,
               area_ha=2.0)  # fmt: skip
    put(f1, "2026-01-20T07:00:00", "fertilize", input_code="URE", quantity=80.0, area_ha=2.0,
        corrects=urea.id)  # fmt: skip
    put(f1, "2026-01-22T07:00:00", "fertilize", input_code="NPKX", quantity=20.0, area_ha=2.0)
    gone = put(f1, "2026-02-27T07:00:00", "spray", input_code="P1", quantity=1.5, area_ha=2.0)
    put(f1, "2026-02-27T07:00:00", "spray", corrects=gone.id, retracts=True)
    put(f1, "2026-03-01T23:30:00", "spray", input_code="P1", quantity=0.4, area_ha=1.0)
    put(f1, "2026-03-10T07:00:00", "spray", input_code="PK", quantity=2.0, area_ha=0.1)
    put(f1, "2026-03-04T10:00:00", "purchase", input_code="P1", quantity=5.0)  # not applied
    water = [("01-25", "drain"), ("01-30", "irrigate"), ("02-10", "drain"),
             ("02-12", "drain"), ("02-15", "irrigate"), ("03-12", "drain")]  # fmt: skip
    for day, activity in water:
        put(f1, f"2026-{day}T06:00:00", activity)
    wrong = put(f1, "2026-02-20T06:00:00", "drain")
    put(f1, "2026-02-20T06:00:00", "drain", corrects=wrong.id, retracts=True)
    put(f1, "2026-03-20T09:00:00", "harvest")
    burnt = put(f1, "2026-03-22T16:00:00", "straw", straw_handling="burnt",
                note=f"gọi anh Ba {PHONE}")  # fmt: skip
    put(f1, "2026-03-22T16:00:00", "straw", straw_handling="removed", corrects=burnt.id,
        note=f"anh Ba {PHONE} mua rơm")  # fmt: skip
    put(f2, "2026-02-01T06:00:00", "drain")
    put(f2, "2026-02-10T07:00:00", "spray", input_code="P1", quantity=0.5, area_ha=1.0)


def rows(client, headers, name, **params):
    r = client.get(f"{API}/{name}", headers=headers, params=params)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["count"] == len(body["data"])
    return body["data"]


def section(table, name):
    return [r for r in table if r["section"] == name]


def test_field_season_applications(client, admin_headers, scene):
    table = rows(client, admin_headers, "field-season", field="F1")
    assert {r["field_code"] for r in table} == {"F1"}
    assert {r["season_id"] for r in table} == {scene["s1"].id}
    apps = section(table, "application")
    assert [(a["product_code"], a["source"], a["amount"], a["unit"]) for a in apps] == [
        ("GI", "hand", 200.0, "kg"),
        ("DAP", "hand", 50.0, "kg"),
        ("URE", "hand", 80.0, "kg"),  # the correction, not the 100 kg it replaced
        ("NPKX", "hand", 20.0, "kg"),
        ("P1", "drone", pytest.approx(0.6667, abs=1e-3), "L"),
        ("P1", "hand", 0.4, "L"),
        ("P1", "drone", pytest.approx(13.333, abs=1e-2), "L"),
        ("PK", "hand", 2.0, "kg"),
    ]  # the withdrawn 1.5 L of P1 is not there
    m1, hand, m2, pk = apps[4:]
    assert m1["applied_at"] == "2026-03-01T08:08:09+07:00" and m1["mission_id"] == "M1"
    assert (m1["amount_of"], m1["dose_status"]) == ("product", "under")
    assert m1["dose_per_ha"] == pytest.approx(0.3333, abs=1e-3)
    assert (hand["dose_per_ha"], hand["dose_status"]) == (0.4, "under")
    assert m2["applied_at"] == "2026-03-05T07:06:49+07:00"
    assert (m2["amount_of"], m2["dose_status"]) == ("tank mix", None)
    assert m2["dose_per_ha"] == pytest.approx(6.667, abs=1e-2)
    assert (pk["dose_per_ha"], pk["max_dose_per_ha"], pk["dose_status"]) == (20.0, 10.0, "over")
    assert (pk["crop"], pk["sown_on"], pk["harvested_on"]) == ("lúa", "2026-01-05", "2026-03-20")


def test_field_season_products_doses_and_phi(client, admin_headers, scene):
    table = rows(client, admin_headers, "field-season", field="F1", season=scene["s1"].id)
    products = {(r["product_code"], r["amount_of"]): r for r in section(table, "product")}
    assert set(products) == {
        ("GI", "product"), ("DAP", "product"), ("URE", "product"), ("NPKX", "product"),
        ("P1", "product"), ("P1", "tank mix"), ("PK", "product"),
    }  # fmt: skip
    p1 = products[("P1", "product")]
    assert p1["amount"] == pytest.approx(1.0667, abs=1e-3) and p1["unit"] == "L"
    assert p1["treated_area_ha"] == pytest.approx(3.0, rel=1e-3) and p1["applications"] == 2
    assert (p1["dose_per_ha"], p1["dose_status"]) == (0.4, "under")
    assert p1["season_amount_per_ha"] == pytest.approx(0.5333, abs=1e-3)
    phi = ["last_applied_on", "days_to_harvest", "safe_harvest_from", "phi_status"]
    assert [p1[k] for k in phi] == ["2026-03-05", 15, "2026-03-19", "kept"]
    mix = products[("P1", "tank mix")]
    assert mix["amount"] == pytest.approx(13.333, abs=1e-2) and mix["dose_status"] is None
    pk = products[("PK", "product")]
    assert (pk["amount"], pk["unit"], pk["dose_status"]) == (2.0, "kg", "over")
    assert [pk[k] for k in phi] == ["2026-03-10", 10, "2026-03-24", "not kept"]
    urea = products[("URE", "product")]
    assert (urea["amount"], urea["dose_per_ha"], urea["dose_status"]) == (80.0, 40.0, "under")
    assert urea["phi_status"] is None  # a fertiliser has no PHI
    missions = section(table, "mission")
    assert [(m["mission_id"], m["drone_code"]) for m in missions] == [("M1", "D1"), ("M2", "D2")]
    for m in missions:
        assert m["treated_area_ha"] == pytest.approx(2.0, rel=1e-3)
        assert m["coverage_pct"] == pytest.approx(100.0, abs=0.5)


def test_field_season_no_harvest_yet_and_filters(client, admin_headers, scene):
    (app_row, product) = rows(client, admin_headers, "field-season", field="F2")
    assert (app_row["section"], product["section"]) == ("application", "product")
    phi = ["last_applied_on", "days_to_harvest", "safe_harvest_from", "phi_status"]
    assert [product[k] for k in phi] == ["2026-02-10", None, "2026-02-24", "no harvest yet"]
    march = rows(client, admin_headers, "field-season", field="F1", product="P1",
                 **{"from": "2026-03-02", "to": "2026-03-31"})  # fmt: skip
    assert [(r["section"], r["mission_id"]) for r in march] == [
        ("application", "M2"), ("product", None), ("mission", "M2"),
    ]  # fmt: skip
    assert rows(client, admin_headers, "field-season", commune="31906")[0]["field_code"] == "F2"
    urea = rows(client, admin_headers, "field-season", field="F1", product="URE")
    assert [(r["section"], r["amount"], r["phi_status"]) for r in urea] == [
        ("application", 80.0, None), ("product", 80.0, None),
    ]  # fmt: skip
    assert rows(client, admin_headers, "field-season", field="F1", product="NONE") == []
    for bad in ({"season": "x"}, {"season": "0"}, {"group": "year"}):
        r = client.get(f"{API}/field-season", headers=admin_headers, params=bad)
        assert r.status_code == 422, bad
    everything = rows(client, admin_headers, "field-season")
    assert {r["field_code"] for r in everything} == {"F1", "F2"}


def test_a_lot_is_a_harvest_of_its_fields_season(client, admin_headers, factory, scene):
    # F2 has no harvest line in its diary, but a lot from it harvested on 2026-02-20:
    # 10 days after the P1 spray of 2026-02-10, its 14-day PHI not kept.
    factory.lot(fields_=[scene["f2"]], harvested_on=datetime(2026, 2, 20).date())
    (_app_row, product) = rows(client, admin_headers, "field-season", field="F2")
    phi = ["harvested_on", "last_applied_on", "days_to_harvest", "phi_status"]
    assert [product[k] for k in phi] == ["2026-02-20", "2026-02-10", 10, "not kept"]


def test_low_emission_rice(client, admin_headers, scene):
    f1, f2 = rows(client, admin_headers, "low-emission-rice")
    assert (f1["field_code"], f1["season_id"], f1["harvested_on"]) == (
        "F1", scene["s1"].id, "2026-03-20",
    )  # fmt: skip
    water = ["irrigations", "drying_events", "drying_days", "dry_since"]
    assert [f1[k] for k in water] == [2, 3, 18, None]
    assert f1["nitrogen_kg"] == pytest.approx(45.8)
    assert f1["nitrogen_kg_per_ha"] == pytest.approx(22.9) and f1["nitrogen_unknown"] == 1
    assert f1["seed_kg_per_ha"] == 100.0
    assert (f1["straw_handling"], f1["straw_burnt"]) == ("removed", False)
    assert [f2[k] for k in water] == [0, 1, 0, "2026-02-01"]
    assert (f2["nitrogen_kg"], f2["seed_kg_per_ha"], f2["straw_handling"]) == (0.0, None, None)
    assert (
        rows(client, admin_headers, "low-emission-rice", organisation="HTX-A")[0]["field_code"]
        == "F1"
    )
    r = client.get(f"{API}/low-emission-rice", headers=admin_headers, params={"format": "csv"})
    assert PHONE not in r.content.decode("utf-8-sig")


def test_the_straw_code_is_checked(client, factory, scene):
    headers = factory.token("farmer", scene["farmer_a"])
    entry = {"field_code": "F1", "occurred_at": "2026-03-23T08:00:00+07:00"}
    r = client.post("/api/v1/diary", headers=headers,
                    json=entry | {"activity": "spray", "straw_handling": "burnt"})  # fmt: skip
    assert r.status_code == 422 and "straw" in r.text
    r = client.post("/api/v1/diary", headers=headers,
                    json=entry | {"activity": "straw", "straw_handling": "eaten"})  # fmt: skip
    assert r.status_code == 422
    kept = entry | {"activity": "straw", "straw_handling": "incorporated"}
    r = client.post("/api/v1/diary", headers=headers, json=kept)
    assert r.status_code in (200, 201), r.text
    assert r.json()["straw_handling"] == "incorporated"


def test_field_season_xlsx_and_csv(client, admin_headers, scene):
    r = client.get(f"{API}/field-season", headers=admin_headers,
                   params={"field": "F1", "format": "xlsx"})  # fmt: skip
    assert r.status_code == 200
    sheet = pd.read_excel(io.BytesIO(r.content), engine="openpyxl")
    assert list(sheet["section"]).count("application") == 8
    pk = sheet[(sheet["section"] == "product") & (sheet["product_code"] == "PK")].iloc[0]
    assert (pk["amount"], pk["dose_status"], pk["phi_status"]) == (2.0, "over", "not kept")
    r = client.get(f"{API}/field-season", headers=admin_headers,
                   params={"field": "F1", "format": "csv"})  # fmt: skip
    assert r.content.startswith(b"\xef\xbb\xbf")
    assert r.headers["content-disposition"] == 'attachment; filename="field-season.csv"'


def test_fleet_by_day_week_and_crop_season(client, admin_headers, scene):
    def grouped(group):
        table = rows(client, admin_headers, "fleet", group=group)
        return [(r["period"], r["drone_code"], r["missions"]) for r in table]

    assert grouped("day") == [("2026-03-01", "D1", 1), ("2026-03-05", "D2", 1)]
    # Sunday 1 March closes ISO week 9; Thursday 5 March is in week 10.
    assert grouped("week") == [("2026-W09", "D1", 1), ("2026-W10", "D2", 1)]
    assert grouped("season") == [("2026-1 Đông Xuân", "D1", 1), ("2026-1 Đông Xuân", "D2", 1)]
    r = client.get(f"{API}/fleet", headers=admin_headers, params={"group": "day", "by": "week"})
    assert r.status_code == 422 and "group" in r.text
    assert client.get(f"{API}/fleet", headers=admin_headers,
                      params={"group": "month"}).status_code == 422  # fmt: skip


def test_province_sums_the_record_in_the_database(client, admin_headers, scene):
    """The province's hectares (summed by the database) count what the field-season lists:
    P1 on F1 in ISO week 9 is M1's 2.0 ha and the 1.0 ha by hand (M1's diary line is its
    evidence; the withdrawn spray counts nothing); in week 10, M2's 2.0 ha (not the
    purchase); PK's 0.1 ha in week 11 (Tuesday 10 March); F2's 1.0 ha in week 7."""
    table = rows(client, admin_headers, "province")
    hectares = {
        (r["week"], r["commune_code"], r["product_code"]): (r["treated_area_ha"], r["applications"])
        for r in table
        if r["part"] == "hectares" and r["product_code"] in ("P1", "PK")
    }
    assert hectares == {
        ("2026-W09", "31957", "P1"): (pytest.approx(3.0, rel=1e-3), 2),
        ("2026-W10", "31957", "P1"): (pytest.approx(2.0, rel=1e-3), 1),
        ("2026-W11", "31957", "PK"): (0.1, 1),
        ("2026-W07", "31906", "P1"): (1.0, 1),
    }
    by_drone = rows(client, admin_headers, "province", drone="D2")
    assert [(r["week"], r["applications"]) for r in by_drone if r["part"] == "hectares"] == [
        ("2026-W10", 1)
    ]
    htx = rows(client, admin_headers, "province", organisation="HTX-A", product="P1")
    assert {r["commune_code"] for r in htx if r["part"] == "hectares"} == {"31957"}


def test_crop_seasons_turn_on_vietnam_days():
    # 30 November 17:30 UTC is already 1 December in Vietnam: next year's Đông Xuân.
    at = pd.Series(pd.to_datetime([
        "2026-11-30T16:59:00Z", "2026-11-30T17:00:00Z", "2026-03-31T17:00:00Z",
        "2026-07-31T16:59:00Z",
    ]))  # fmt: skip
    assert reports.crop_season(at).tolist() == [
        "2026-3 Thu Đông", "2027-1 Đông Xuân", "2026-2 Hè Thu", "2026-2 Hè Thu",
    ]  # fmt: skip


def test_who_reads_field_reports(client, factory, scene):
    farmer_a = factory.token("farmer", scene["farmer_a"])
    farmer_b = factory.token("farmer", scene["farmer_b"])
    coop = factory.token("cooperative", organisation=_org(factory, "HTX-A"))
    other_coop = factory.token("cooperative")
    operator = factory.token("operator", organisation=_org(factory, "DV-A"))
    mine = rows(client, farmer_a, "field-season")
    assert {r["field_code"] for r in mine} == {"F1"} and len(mine) == 8 + 7 + 2
    assert [r["field_code"] for r in rows(client, farmer_b, "low-emission-rice")] == ["F2"]
    r = client.get(f"{API}/field-season", headers=farmer_b, params={"field": "F1"})
    assert r.status_code == 403 and "F1" in r.text
    r = client.get(f"{API}/field-season", headers=farmer_b, params={"field": "NOPE"})
    assert r.status_code == 404
    for name in ("pesticide-records", "province", "fleet", "missions", "field-applications"):
        assert client.get(f"{API}/{name}", headers=farmer_a).status_code == 403
    assert {r["field_code"] for r in rows(client, coop, "pesticide-records")} == {"F1"}
    assert [r["field_code"] for r in rows(client, coop, "low-emission-rice")] == ["F1"]
    assert {r["field_code"] for r in rows(client, coop, "field-applications")} == {"F1"}
    assert rows(client, other_coop, "field-season") == []
    r = client.get(f"{API}/field-season", headers=other_coop, params={"field": "F1"})
    assert r.status_code == 403
    for name in ("province", "fleet", "missions"):
        assert client.get(f"{API}/{name}", headers=coop).status_code == 403
    # An operator reads its own drones' rows of the field-season, never a hand entry.
    drone_rows = rows(client, operator, "field-season", field="F1")
    assert {r["source"] for r in drone_rows} == {"drone"}
    assert client.get(f"{API}/low-emission-rice", headers=operator).status_code == 403


def _org(factory, code):
    from sqlmodel import select

    from traceability.models import Organisation

    return factory.session.exec(select(Organisation).where(Organisation.code == code)).one()


def test_the_command_line_writes_the_new_reports(db, scene, tmp_path):
    url = db.url.render_as_string(hide_password=False)
    out = tmp_path / "rice.xlsx"
    done = CliRunner().invoke(
        app, ["report", "low-emission-rice", "--field", "F1", "--out", str(out),
              "--database-url", url],
    )  # fmt: skip
    assert done.exit_code == 0, done.output
    sheet = pd.read_excel(out, engine="openpyxl")
    assert list(sheet["drying_days"]) == [18]
    shown = CliRunner().invoke(
        app, ["report", "fleet", "--group", "season", "--format", "csv", "--database-url", url]
    )
    assert shown.exit_code == 0, shown.output
    assert "2026-1 Đông Xuân" in shown.output


def test_the_farmers_form_records_what_became_of_the_straw(client, factory, admin_headers):
    from tests.test_app_api import _sign_in

    farmer = factory.farmer()
    field = factory.field(farmer=farmer, code="GR-RR")
    kept = factory.entry(field, activity="straw", straw_handling="composted")
    client.cookies.set("agritrace_device", _sign_in(client, admin_headers, farmer.id))
    form = client.get("/app/new").text
    # The form opens on a spray: the straw control is hidden and disabled (so not sent).
    row = re.search(
        r'<div class="row" data-activities="straw"( hidden)?>\s*<label for="straw_handling">'
        r'([^<]*)</label>\s*<select name="straw_handling" id="straw_handling"( disabled)?>',
        form,
    )
    assert row and row.groups() == (" hidden", "Rơm rạ", " disabled")
    for code in ("removed", "incorporated", "composted", "burnt"):
        assert f'<option value="{code}">' in form
    fix = client.get(f"/app/new?corrects={kept.id}").text
    assert '<option value="composted" selected>' in fix
    assert "Rơm rạ: Ủ phân / trồng nấm" in client.get("/app/diary").text
    assert "The straw: Composted / mushrooms" in client.get("/app/diary?lang=en").text


def test_fleet_days_and_weeks_are_vietnam_time(client, admin_headers, session, scene):
    """M3 starts at 00:30 on Monday 9 March in Vietnam, still Sunday 8 March (ISO week 10)
    in UTC: it belongs to 9 March and week 11."""
    t0 = vn("2026-03-09T00:30:00")
    fly(
        session,
        "M3",
        lawnmower(mission_id="M3", x0=1000.0, y_from=0.0, y_to=100.0, t0=t0),
        start={"product_code": "P1", "swath_m": 10.0, "ts": t0.isoformat()},
        end={},
    )
    by_day = rows(client, admin_headers, "fleet", group="day", drone="D1")
    assert [(r["period"], r["missions"]) for r in by_day] == [("2026-03-01", 1), ("2026-03-09", 1)]
    by_week = rows(client, admin_headers, "fleet", group="week", drone="D1")
    assert [(r["period"], r["missions"]) for r in by_week] == [("2026-W09", 1), ("2026-W11", 1)]
