"""The office's and inspectors' reports against figures worked out by hand.

The scene (every figure below follows from it, not from the code):

- Field F1, 100 m x 200 m = 2.0 ha, commune 31957, farmer of cooperative HTX-A, season
  of "lúa" sown 2026-01-05. Field F2, 100 m x 100 m = 1.0 ha, commune 31906, a farmer
  of no cooperative.
- Pesticide P1 (litres) named "=SUM(1,2)" — a spreadsheet would evaluate it — and
  pesticide PK (kilograms).
- Drone D1 of the drone service DV-A flies M1 over F1 from 2026-03-01 08:00 Vietnam
  time (01:00 UTC, Sunday of ISO week 9): ten 10 m passes over y = -20..220 m at 5 m/s,
  one fix a second, 2 L/min of mix while spraying, 0.05 L of P1 per litre of mix.
  Each pass has 49 fixes; the 48 stretches from the first 48 fixes spray. So:
  - in F1: 40 one-second stretches a pass, 10 x 40 / 30 = 13.333 L of mix, so
    13.333 x 0.05 = 0.6667 L of P1 on 2.0 ha, 0.3333 L/ha (under the 1 L/ha label);
  - out of the drone: 10 x 48 / 30 = 16 L of mix, 16 x 0.05 = 0.8 L of P1;
  - outside F1: 10 passes x 8 stretches x 5 m x 10 m = 0.4 ha sprayed (overspray 17 %);
  - flight: 490 fixes 1 s apart, 489 s; spraying 480 s; 480 / 489 = 98.16 %;
    489 s = 0.135833 h, 2.0 ha / 0.135833 h = 14.724 ha/h.
  The mission ends with its last fix, 08:08:09 Vietnam time.
- By hand on F1: 1.5 L of P1 on 2026-02-27, withdrawn; 0.4 L of P1 on 1.0 ha at
  2026-03-01 23:30 Vietnam time (16:30 UTC, still ISO week 9).
- By hand on F2: 2.0 kg of PK on 1.0 ha at 2026-03-02 06:30 Vietnam time — Monday, ISO
  week 10, though still Sunday 2026-03-01 in UTC — corrected to 1.5 kg.
"""

import csv
import io
from datetime import datetime

import pandas as pd
import pytest
from typer.testing import CliRunner

from agritrace.cli import app
from tests.mqtt import lawnmower, lonlat
from tests.test_missions_measure import fly

API = "/api/v1/reports"
NAME = "=SUM(1,2)"


@pytest.fixture
def scene(session, factory):
    coop = factory.organisation("cooperative", code="HTX-A")
    service = factory.organisation("drone_service", code="DV-A")
    farmer_a = factory.farmer(organisation=coop)
    f1 = factory.field(
        farmer=farmer_a, code="F1", x0=0, y0=0, width=100, height=200, commune_code="31957"
    )
    f2 = factory.field(code="F2", x0=1000, y0=0, width=100, height=100, commune_code="31906")
    factory.season(f1, crop="lúa")
    factory.input(
        code="P1",
        name=NAME,
        unit="L",
        max_dose_per_ha=1.0,
        registration_no="BVTV-001",
        active_ingredient="Azoxystrobin 200 g/L",
    )
    factory.input(code="PK", name="Thuốc hạt", unit="kg", max_dose_per_ha=10.0)
    factory.drone(code="D1", swath_m=10.0, operator="Tổ bay Phong Thạnh", organisation=service)
    fly(
        session,
        "M1",
        lawnmower(mission_id="M1", y_from=-20.0, y_to=220.0),
        start={"product_code": "P1", "swath_m": 10.0, "tank_mix": {"product_per_l": 0.05}},
        end={},
    )
    vn = datetime.fromisoformat
    gone = factory.entry(
        f1, activity="spray", input_code="P1", quantity=1.5, area_ha=2.0,
        occurred_at=vn("2026-02-27T07:00:00+07:00"),
    )  # fmt: skip
    factory.entry(
        f1, activity="spray", corrects=gone.id, retracts=True, occurred_at=gone.occurred_at
    )
    factory.entry(
        f1, activity="spray", input_code="P1", quantity=0.4, area_ha=1.0,
        occurred_at=vn("2026-03-01T23:30:00+07:00"),
    )  # fmt: skip
    wrong = factory.entry(
        f2, activity="spray", input_code="PK", quantity=2.0, area_ha=1.0,
        occurred_at=vn("2026-03-02T06:30:00+07:00"),
    )  # fmt: skip
    factory.entry(
        f2, activity="spray", input_code="PK", quantity=1.5, area_ha=1.0,
        corrects=wrong.id, occurred_at=wrong.occurred_at,
    )  # fmt: skip


def get(client, headers, path, **params):
    r = client.get(f"{API}/{path}", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r


def rows(client, headers, path, **params):
    body = get(client, headers, path, **params).json()
    assert body["count"] == len(body["data"])
    return body["data"]


def test_pesticide_records_one_row_per_application(client, admin_headers, scene):
    drone, by_hand, kg = rows(client, admin_headers, "pesticide-records")
    assert (drone["source"], drone["field_code"], drone["product_code"]) == ("drone", "F1", "P1")
    assert drone["applied_at"] == "2026-03-01T08:08:09+07:00"
    assert drone["amount"] == pytest.approx(0.6667, abs=1e-3)
    assert drone["unit"] == "L" and drone["amount_of"] == "product"
    assert drone["treated_area_ha"] == pytest.approx(2.0, rel=1e-3)
    assert drone["dose_per_ha"] == pytest.approx(0.3333, abs=1e-3)
    assert (drone["product_name"], drone["registration_no"]) == (NAME, "BVTV-001")
    assert drone["active_ingredient"] == "Azoxystrobin 200 g/L"
    assert (drone["crop"], drone["commune_code"], drone["drone_code"]) == ("lúa", "31957", "D1")
    lon, lat = lonlat(50.0, 100.0)  # the middle of F1
    assert drone["lon"] == pytest.approx(lon, abs=1e-6) and drone["lat"] == pytest.approx(
        lat, abs=1e-6
    )

    assert (by_hand["source"], by_hand["amount"], by_hand["unit"]) == ("hand", 0.4, "L")
    assert by_hand["applied_at"] == "2026-03-01T23:30:00+07:00"
    assert (by_hand["treated_area_ha"], by_hand["dose_per_ha"]) == (1.0, 0.4)
    # The corrected 1.5 kg, not the 2.0 kg it replaced; F2 has no season: no crop.
    assert (kg["field_code"], kg["amount"], kg["unit"], kg["crop"]) == ("F2", 1.5, "kg", None)
    assert kg["commune_code"] == "31906" and kg["drone_code"] is None


def test_days_are_vietnam_days(client, admin_headers, scene):
    """06:30 on 2 March in Vietnam is still 1 March in UTC: it belongs to 2 March."""
    second = rows(
        client, admin_headers, "pesticide-records", **{"from": "2026-03-02", "to": "2026-03-02"}
    )
    assert [(r["field_code"], r["amount"]) for r in second] == [("F2", 1.5)]
    first = rows(
        client, admin_headers, "pesticide-records", **{"from": "2026-03-01", "to": "2026-03-01"}
    )
    assert [r["source"] for r in first] == ["drone", "hand"]
    assert rows(client, admin_headers, "pesticide-records", to="2026-02-28") == []
    r = client.get(
        f"{API}/province", headers=admin_headers, params={"from": "2026-03-02", "to": "2026-03-01"}
    )
    assert r.status_code == 422


def test_filters_by_commune_product_drone_and_organisation(client, admin_headers, scene):
    def pick(**params):
        return [(r["field_code"], r["product_code"], r["source"])
                for r in rows(client, admin_headers, "pesticide-records", **params)]  # fmt: skip

    assert pick(commune="31906") == [("F2", "PK", "hand")]
    assert pick(product="P1") == [("F1", "P1", "drone"), ("F1", "P1", "hand")]
    assert pick(drone="D1") == [("F1", "P1", "drone")]
    assert pick(organisation="DV-A") == [("F1", "P1", "drone")]  # the drone's service
    assert pick(organisation="HTX-A") == [("F1", "P1", "drone"), ("F1", "P1", "hand")]
    missions = rows(client, admin_headers, "missions", commune="31906")
    assert missions == []
    assert [
        m["mission_id"] for m in rows(client, admin_headers, "missions", organisation="DV-A")
    ] == ["M1"]


def test_province_hectares_and_flags_per_commune_and_week(client, admin_headers, scene):
    table = rows(client, admin_headers, "province")
    hectares = {
        (r["week"], r["commune_code"], r["product_code"]): (r["treated_area_ha"], r["applications"])
        for r in table
        if r["part"] == "hectares"
    }
    assert set(hectares) == {("2026-W09", "31957", "P1"), ("2026-W10", "31906", "PK")}
    # F1: 2.0 ha by drone + 1.0 ha by hand (the withdrawn 2.0 ha counts for nothing).
    area, count = hectares[("2026-W09", "31957", "P1")]
    assert area == pytest.approx(3.0, rel=1e-3) and count == 2
    assert hectares[("2026-W10", "31906", "PK")] == (1.0, 1)
    (flags,) = [r for r in table if r["part"] == "flags"]
    assert (flags["week"], flags["commune_code"], flags["commune_name"]) == (
        "2026-W09", "31957", "xã Phong Thạnh",
    )  # fmt: skip
    counts = [flags[k] for k in ("flagged_missions", "overspray", "dose_above_max", "nospray_zone")]
    assert counts == [1, 1, 0, 0]
    assert rows(client, admin_headers, "province", commune="31906")[0]["product_code"] == "PK"


def test_fleet_per_drone(client, admin_headers, scene):
    (d1,) = rows(client, admin_headers, "fleet")
    assert (d1["drone_code"], d1["operator"], d1["organisation_code"]) == (
        "D1", "Tổ bay Phong Thạnh", "DV-A",
    )  # fmt: skip
    assert d1["missions"] == 1
    assert d1["treated_area_ha"] == pytest.approx(2.0, rel=1e-3)
    assert d1["product_l"] == pytest.approx(0.8, rel=1e-6)
    assert (d1["product_kg"], d1["unconverted_mix_l"]) == (0.0, 0.0)
    assert d1["flight_hours"] == pytest.approx(489 / 3600, abs=1e-4)
    assert d1["ha_per_hour"] == pytest.approx(14.724, abs=0.02)
    assert d1["spraying_pct"] == pytest.approx(98.16, abs=0.01)
    by_week = rows(client, admin_headers, "fleet", by="week")
    assert [(r["period"], r["missions"]) for r in by_week] == [("2026-W09", 1)]
    by_day = rows(client, admin_headers, "fleet", by="day")
    assert [r["period"] for r in by_day] == ["2026-03-01"]


def test_csv_has_a_bom_vietnam_times_and_escaped_formulas(client, admin_headers, scene):
    r = get(client, admin_headers, "pesticide-records", format="csv")
    assert r.content.startswith(b"\xef\xbb\xbf")
    assert r.headers["content-disposition"] == 'attachment; filename="pesticide-records.csv"'
    table = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert table[0]["product_name"] == "'" + NAME
    assert table[0]["applied_at"] == "2026-03-01T08:08:09+07:00"
    assert table[2]["product_name"] == "Thuốc hạt"


def test_xlsx_opens_with_pandas_with_the_same_figures(client, admin_headers, scene):
    r = get(client, admin_headers, "pesticide-records", format="xlsx")
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats")
    sheet = pd.read_excel(io.BytesIO(r.content), engine="openpyxl")
    assert list(sheet["field_code"]) == ["F1", "F1", "F2"]
    assert list(sheet["amount"]) == pytest.approx([0.6667, 0.4, 1.5], abs=1e-3)
    assert list(sheet["unit"]) == ["L", "L", "kg"]
    # Text cells are text: the name reads back as registered and is never evaluated.
    assert sheet["product_name"][0] == NAME
    assert sheet["applied_at"][1] == pd.Timestamp("2026-03-01 23:30:00")  # Vietnam time

    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(r.content))
    ws = book.active
    assert ws.freeze_panes == "A2" and ws["A1"].font.bold
    assert ws.column_dimensions["A"].width >= len("2026-03-01 23:30:00")
    assert ws.cell(row=2, column=list(sheet.columns).index("product_name") + 1).data_type == "s"


def test_who_sees_which_rows(client, factory, scene):
    service = factory.organisation("drone_service")
    operator = factory.token("operator", organisation=_org(client, "DV-A", factory))
    other_operator = factory.token("operator", organisation=service)
    farmer = factory.token("farmer", factory.farmer())
    cooperative = factory.token("cooperative")
    office = factory.token("office")
    assert [r["source"] for r in rows(client, operator, "pesticide-records")] == ["drone"]
    assert rows(client, other_operator, "pesticide-records") == []
    assert [r["drone_code"] for r in rows(client, operator, "fleet")] == ["D1"]
    assert rows(client, other_operator, "fleet") == []
    for name in ("province", "field-applications"):
        assert client.get(f"{API}/{name}", headers=operator).status_code == 403
    for name in ("pesticide-records", "province", "fleet"):
        assert client.get(f"{API}/{name}", headers=farmer).status_code == 403
    for name in ("province", "fleet"):
        assert client.get(f"{API}/{name}", headers=cooperative).status_code == 403
    # A cooperative reads its members' fields' records: this one has no member.
    assert rows(client, cooperative, "pesticide-records") == []
    assert len(rows(client, office, "pesticide-records")) == 3


def _org(client, code, factory):
    from sqlmodel import select

    from traceability.models import Organisation

    return factory.session.exec(select(Organisation).where(Organisation.code == code)).one()


def test_the_command_line_writes_the_same_report(db, scene, tmp_path):
    url = db.url.render_as_string(hide_password=False)
    out = tmp_path / "records.xlsx"
    args = ["report", "pesticide-records", "--from", "2026-03-02", "--to", "2026-03-02"]
    done = CliRunner().invoke(app, [*args, "--out", str(out), "--database-url", url])
    assert done.exit_code == 0, done.output
    sheet = pd.read_excel(out, engine="openpyxl")
    assert list(zip(sheet["field_code"], sheet["amount"], strict=True)) == [("F2", 1.5)]
    shown = CliRunner().invoke(app, [*args, "--format", "csv", "--database-url", url])
    assert shown.exit_code == 0, shown.output
    assert "F2" in shown.output and "'" + NAME not in shown.output
    bad = CliRunner().invoke(app, ["report", "province", "--format", "pdf", "--database-url", url])
    assert bad.exit_code == 2


NOT_RECORDED = "chưa có / not recorded"


def test_csv_figures_are_rounded_and_a_missing_registration_says_so(client, admin_headers, scene):
    r = get(client, admin_headers, "pesticide-records", format="csv")
    drone, by_hand, pk = csv.DictReader(io.StringIO(r.content.decode("utf-8-sig")))
    # 13.333 L of mix x 0.05 L/L = 0.66667 L of P1: 3 decimals of a litre.
    assert (drone["source"], drone["amount"], drone["dose_per_ha"]) == ("drone", "0.667", "0.333")
    # The measured 2.0 ha, to 4 decimals of a hectare (a square metre).
    area = drone["treated_area_ha"]
    assert float(area) == pytest.approx(2.0, abs=1e-3) and len(area.split(".")[1]) <= 4
    assert (by_hand["amount"], by_hand["treated_area_ha"]) == ("0.4", "1.0")
    assert (drone["registration_no"], pk["registration_no"]) == ("BVTV-001", NOT_RECORDED)
    as_json = get(client, admin_headers, "pesticide-records").json()["data"]
    assert as_json[2]["registration_no"] is None


def test_the_command_line_shows_a_dash_where_a_figure_is_missing(db, scene):
    url = db.url.render_as_string(hide_password=False)
    shown = CliRunner().invoke(app, ["report", "province", "--database-url", url])
    assert shown.exit_code == 0, shown.output
    for token in ("NaN", "<NA>", "None", "nan"):
        assert token not in shown.output, token
    header, *lines = shown.output.splitlines()
    assert header.split()[:4] == ["week", "commune_code", "commune_name", "part"]
    (flags,) = [line for line in lines if " flags " in line]
    # The flags row names no product, activity, area or count of applications.
    assert flags.split().count("—") == 5


@pytest.fixture
def other_work(session, factory, scene):
    """Fertiliser and seed on top of the scene: by hand, 100 kg of URE on F1's 2.0 ha on
    2026-03-03 (ISO week 10) and 50 kg of GI seed on F2's 1.0 ha on 2026-02-24 (week 9);
    drone D2 spreads URE over all of F2 (1.0 ha) on 2026-03-01 10:00 Vietnam time (week 9)."""
    from sqlmodel import select

    from traceability.models import FarmField

    fields = {f.code: f for f in session.exec(select(FarmField)).all()}
    factory.input(code="URE", kind="fertilizer", unit="kg", phi_days=None, max_dose_per_ha=150.0)
    factory.input(code="GI", kind="seed", unit="kg", phi_days=None, max_dose_per_ha=120.0)
    vn = datetime.fromisoformat
    factory.entry(
        fields["F1"], activity="fertilize", input_code="URE", quantity=100.0, unit="kg",
        area_ha=2.0, occurred_at=vn("2026-03-03T07:00:00+07:00"),
    )  # fmt: skip
    factory.entry(
        fields["F2"], activity="seed", input_code="GI", quantity=50.0, unit="kg",
        area_ha=1.0, occurred_at=vn("2026-02-24T07:00:00+07:00"),
    )  # fmt: skip
    t0 = vn("2026-03-01T10:00:00+07:00")
    factory.drone(code="D2", swath_m=10.0)
    fly(
        session,
        "M2",
        lawnmower(mission_id="M2", x0=1000.0, y_to=100.0, flow_lpm=None, flow_kgpm=1.0, t0=t0),
        drone="D2",
        start={"type": "fertilize", "product_code": "URE", "swath_m": 10.0, "ts": t0.isoformat()},
        end={},
    )


def test_only_spraying_counts_as_hectares_sprayed(client, admin_headers, session, other_work):
    from traceability import reports
    from traceability.services import maps, pages

    table = rows(client, admin_headers, "province")
    work = {
        (r["week"], r["commune_code"], r["product_code"], r["activity"]): r["treated_area_ha"]
        for r in table
        if r["part"] == "hectares"
    }
    assert set(work) == {
        ("2026-W09", "31957", "P1", "spray"),
        ("2026-W10", "31906", "PK", "spray"),
        ("2026-W10", "31957", "URE", "fertilize"),
        ("2026-W09", "31906", "GI", "seed"),
        ("2026-W09", "31906", "URE", "fertilize"),
    }
    assert work[("2026-W10", "31957", "URE", "fertilize")] == 2.0
    assert work[("2026-W09", "31906", "URE", "fertilize")] == pytest.approx(1.0, rel=1e-3)
    # Sprayed: P1 on F1 (2.0 ha by drone + 1.0 ha by hand) in week 9, PK on F2 in week 10;
    # with fertiliser and seed the weeks would read 5.0 and 3.0.
    figures = pages.province_figures(session, reports.Filters())
    assert figures.by_week == [
        ("2026-W09", pytest.approx(3.0, rel=1e-3)),
        ("2026-W10", pytest.approx(1.0, rel=1e-3)),
    ]
    communes = {c.code: c.hectares for c in maps.commune_map(session, filters=reports.Filters())}
    assert communes == {
        "31957": pytest.approx(3.0, rel=1e-3),
        "31906": pytest.approx(1.0, rel=1e-3),
    }
    # Per product every treatment counts, fertiliser too (2.0 ha + 1.0 ha of URE).
    assert dict(figures.by_product)[_name(session, "URE")] == pytest.approx(3.0, rel=1e-3)


def _name(session, code):
    from sqlmodel import select

    from traceability.models import InputProduct

    return session.exec(select(InputProduct.name).where(InputProduct.code == code)).one()


def test_the_dashboards_hectares_are_the_reports_hectares_rows_alone(engine, scene):
    """The office's dashboard reads only the hectares part: the same rows, figure by
    figure, as the report's, and no flags row (the hand-worked figures are above)."""
    from traceability import reports
    from traceability.reports.province import province_hectares

    whole = reports.province_report(engine, reports.Filters())
    alone = province_hectares(engine, reports.Filters())
    assert set(alone["part"]) == {"hectares"} and (whole["part"] == "flags").any()
    expected = whole[whole["part"] == "hectares"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone.reset_index(drop=True), expected)
    assert province_hectares(engine, reports.Filters(commune="31906"))["product_code"].tolist() == [
        "PK"
    ]


def _record_sums(session, organisation=None):
    """The applications of the record as Python builds them (``applications.load_all``,
    the rule over rows, not SQL), summed by hand per ISO week of Vietnam time, commune and
    product: area and count. Only named products, as the province report counts."""
    from collections import defaultdict
    from zoneinfo import ZoneInfo

    from sqlmodel import select

    from traceability.models import Drone, Farmer, FarmField, Organisation
    from traceability.services import applications

    conn = session.connection()
    communes = dict(session.exec(select(FarmField.id, FarmField.commune_code)).all())
    farmer_org = dict(
        session.exec(
            select(FarmField.id, Organisation.code)
            .join(Farmer, Farmer.id == FarmField.farmer_id)
            .join(Organisation, Organisation.id == Farmer.organisation_id)
        ).all()
    )
    drone_org = dict(
        session.exec(
            select(Drone.code, Organisation.code).join(
                Organisation, Organisation.id == Drone.organisation_id
            )
        ).all()
    )
    sums = defaultdict(lambda: [0.0, 0])
    for a in applications.load_all(conn):
        if not a.product_code:
            continue
        if organisation and organisation not in (
            farmer_org.get(a.field_id),
            drone_org.get(a.drone_code),
        ):
            continue
        year, week, _ = a.at.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).isocalendar()
        key = (f"{year}-W{week:02d}", communes[a.field_id], a.product_code)
        sums[key][0] += a.area_ha or 0.0
        sums[key][1] += 1
    return dict(sums)


@pytest.mark.parametrize("organisation", [None, "HTX-A", "DV-A"])
def test_the_province_sums_are_the_records_sums(session, factory, other_work, organisation):
    """Each source summed apart in SQL, then added up: the same figures as the record's
    applications summed one by one in Python, with a withdrawal, a correction, a drone's
    diary line (its mission's evidence), a purchase and two kinds of work in the scene."""
    from sqlmodel import select

    from traceability.models import FarmField
    from traceability.reports.province import province_hectares

    f2 = session.exec(select(FarmField).where(FarmField.code == "F2")).one()
    factory.entry(
        f2, activity="purchase", input_code="P1", quantity=5.0,
        occurred_at=datetime.fromisoformat("2026-03-02T08:00:00+07:00"),
    )  # fmt: skip
    session.commit()
    frame = province_hectares(session.connection(), reports_filters(organisation))
    got = {}
    for r in frame.itertuples():
        key = (r.week, r.commune_code, r.product_code)
        area, count = got.get(key, (0.0, 0))
        got[key] = (area + r.treated_area_ha, count + int(r.applications))
    expected = _record_sums(session, organisation)
    assert set(got) == set(expected) and expected
    for key, (area, count) in expected.items():
        assert got[key] == (pytest.approx(area, rel=1e-9), count), key


def reports_filters(organisation):
    from traceability import reports

    return reports.Filters(organisation=organisation)


def test_summing_puts_the_planners_settings_back(engine):
    """The season's sums are planned without JIT and sorts; the rest of the transaction is
    planned as the database's settings say."""
    from sqlalchemy import text

    from traceability.reports import report_sql

    if engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL's planner settings")
    with engine.begin() as conn:
        before = [conn.execute(text(f"SHOW {n}")).scalar_one() for n in ("jit", "enable_sort")]
        with report_sql.summing(conn):
            inside = [conn.execute(text(f"SHOW {n}")).scalar_one() for n in ("jit", "enable_sort")]
        after = [conn.execute(text(f"SHOW {n}")).scalar_one() for n in ("jit", "enable_sort")]
    assert inside == ["off", "off"] and before == after and before[1] == "on"
