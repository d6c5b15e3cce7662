"""The low-emission rice report's methane and targets, and the MRV evidence pack, on the
real databases, against figures worked out by hand (IPCC 2019 Refinement, Vol. 4, Ch. 5:
EFc 1.22, SFw 0.55 for multiple drainage, SFp 1.00 under 180 days non-flooded, SFo =
(1 + 5 × 1.00)^0.59 = 6^0.59 = 2.878122 for 5 t/ha of straw worked in under 30 days before
sowing; GWP100 28).

The scene:

- Field A (100 m × 200 m = 2.0 ha, commune 31957): a first crop sown 2025-08-01,
  harvested 2025-11-20; 5 t/ha of straw incorporated on 2025-11-22; the season sown
  2025-12-12 (20 days later), flooded 12-14, drained 01-01 → irrigated 01-06, drained
  01-16 → irrigated 01-21, drained 03-07 for the harvest on 2026-03-22 (100 days): two
  drainage periods, multiple drainage (AWD). 200 kg of seed (100 kg/ha: pass), 100 kg of
  urea at 46 % N (46 kg, 23 kg N/ha; against a reference of 100 kg N/ha: 77 % less,
  pass), one hand spray. Straw of the season: removed (pass).
  CH4 = 1.22 × 0.55 × 1.00 × 2.878122 × 100 = 193.1220 kg/ha; baseline 351.1309 kg/ha;
  reduction 158.0089 kg/ha, 4.4242 t CO2e/ha. On 2.0 ha: 386.2440, 702.2618, 316.0178 kg
  and 8.8485 t.
- Field B (1.0 ha, commune 31957), rice-shrimp (its ``rice_shrimp`` property), the same
  records: no methane figure, "not yet published".
- Field C (1.0 ha, commune 31951): the same records but no straw entry: unknown.
"""

import hashlib
import json
from datetime import date, datetime

import pytest
from sqlalchemy import text
from sqlmodel import select
from typer.testing import CliRunner

from agritrace.cli import app
from traceability.config import get_settings
from traceability.models import FarmField, TlogLeaf
from traceability.services import tlog

API = "/api/v1/reports"
CH4, BASE, CUT, CO2E = 193.1220, 351.1309, 158.0089, 4.4242


def vn(text):
    return datetime.fromisoformat(text + "T07:00:00+07:00")


def _records(factory, field, straw=True):
    put = lambda day, activity, **kw: factory.entry(  # noqa: E731
        field, occurred_at=vn(day), activity=activity, **kw
    )
    factory.season(field, crop="lúa", sown_on=date(2025, 8, 1), ended_on=date(2025, 11, 25))
    put("2025-11-20", "harvest")
    if straw:
        put("2025-11-22", "straw", straw_handling="incorporated", straw_t_per_ha=5.0)
    factory.season(field, crop="lúa", sown_on=date(2025, 12, 12))
    area = 2.0 if field.code == "A" else 1.0
    put("2025-12-12", "seed", input_code="SEED", quantity=100.0 * area, area_ha=area)
    for day, activity in [("2025-12-14", "irrigate"), ("2026-01-01", "drain"),
                          ("2026-01-06", "irrigate"), ("2026-01-16", "drain"),
                          ("2026-01-21", "irrigate"), ("2026-03-07", "drain")]:  # fmt: skip
        put(day, activity)
    put("2026-01-10", "fertilize", input_code="URE", quantity=50.0 * area, area_ha=area)
    put("2026-01-12", "spray", input_code="P1", quantity=0.5, area_ha=area)
    put("2026-03-22", "harvest")
    put("2026-03-25", "straw", straw_handling="removed")


@pytest.fixture
def scene(factory, monkeypatch):
    monkeypatch.setenv("AGRITRACE_N_REFERENCE_KG_PER_HA", "100")
    get_settings.cache_clear()
    factory.input(code="P1", unit="L", max_dose_per_ha=1.0, phi_days=14)
    factory.input(code="URE", kind="fertilizer", unit="kg", phi_days=None, nitrogen_pct=46.0,
                  max_dose_per_ha=300.0)  # fmt: skip
    factory.input(code="SEED", kind="seed", unit="kg", phi_days=None, max_dose_per_ha=200.0)
    a = factory.field(code="A", x0=0, width=100, height=200, commune_code="31957")
    b = factory.field(code="B", x0=1000, width=100, height=100, commune_code="31957",
                      rice_shrimp=True)  # fmt: skip
    c = factory.field(code="C", x0=2000, width=100, height=100, commune_code="31951")
    for f, straw in ((a, True), (b, True), (c, False)):
        _records(factory, f, straw)
    tlog.sequence(factory.session)  # the entries get their places in the transparency log
    yield
    get_settings.cache_clear()


def _rows(client, headers, name, **params):
    r = client.get(f"{API}/{name}", headers=headers, params=params)
    assert r.status_code == 200, r.text
    return r.json()["data"]


def test_methane_and_targets_per_season(client, admin_headers, scene):
    rows = _rows(client, admin_headers, "low-emission-rice", **{"from": "2025-12-01"})
    now = {r["field_code"]: r for r in rows if r["sown_on"] == "2025-12-12"}
    a = now["A"]
    assert a["water_regime"] == "multiple_drainage" and a["drainage_periods"] == 2
    assert (a["pre_season"], a["cultivation_days"]) == ("non_flooded_lt_180d", 100)
    assert (a["straw_before_sowing"], a["straw_t_per_ha"], a["straw_days_before_sowing"]) == (
        "incorporated", 5.0, 20,
    )  # fmt: skip
    assert a["ch4_kg_per_ha"] == pytest.approx(CH4, abs=1e-3)
    assert a["baseline_ch4_kg_per_ha"] == pytest.approx(BASE, abs=1e-3)
    assert a["ch4_reduction_kg_per_ha"] == pytest.approx(CUT, abs=1e-3)
    assert a["co2e_reduction_t_per_ha"] == pytest.approx(CO2E, abs=1e-4)
    assert a["ch4_reduction_kg"] == pytest.approx(CUT * a["field_area_ha"], abs=1e-3)
    assert a["field_area_ha"] == pytest.approx(2.0, abs=0.01)
    assert a["ch4_reason"] is None
    assert (a["seed_target"], a["n_target"], a["straw_target"], a["water_target"]) == (
        "pass", "pass", "pass", "pass",
    )  # fmt: skip
    assert a["n_reduction_pct"] == pytest.approx(77.0, abs=0.1)  # 23 kg N/ha vs 100
    assert (a["sprays_hand"], a["sprays_drone"], a["sprays_target"]) == (1, 0, "unknown")
    b, c = now["B"], now["C"]
    assert b["ch4_kg_per_ha"] is None and "not yet published" in b["ch4_reason"]
    assert b["water_regime"] == "multiple_drainage"  # the water is still classified
    assert c["ch4_kg_per_ha"] is None and "no straw entry" in c["ch4_reason"]


def test_mrv_pack_rests_on_hashed_entries_and_totals_are_sums(
    client, admin_headers, factory, scene
):
    rows = _rows(client, admin_headers, "low-emission-mrv", **{"from": "2025-12-01"})
    plots = [r for r in rows if r["section"] == "plot" and r["sown_on"] == "2025-12-12"]
    assert sorted(p["field_code"] for p in plots) == ["A", "B", "C"]
    evidence = [r for r in rows if r["section"] == "evidence" and r["field_code"] == "A"]
    by = {}
    for e in evidence:
        by.setdefault(e["evidence_for"], []).append(e)
    assert len(by["water"]) == 6 and len(by["straw"]) == 1 and len(by["seed"]) == 1
    assert by["straw"][0]["occurred_on"] == "2025-11-22"
    listed = client.get("/api/v1/diary", headers=admin_headers,
                        params={"field_code": "A", "limit": 100}).json()["data"]  # fmt: skip
    hashes = {d["id"]: d["hash"] for d in listed}
    for e in evidence:
        if e["entry_id"] is not None:
            assert e["entry_hash"] == hashes[e["entry_id"]]  # the diary's own hash
            # The leaf at log_index is the entry's, by RFC 9162 hashing done here by hand.
            leaf = factory.session.get(TlogLeaf, e["log_index"])
            body = json.dumps(
                {
                    "field": "A",
                    "hash": e["entry_hash"],
                    "kind": "diary-entry",
                    "seq": e["chain_seq"],
                },
                sort_keys=True,
                separators=(",", ":"),
            )
            assert leaf.leaf_hash == hashlib.sha256(b"\x00" + body.encode()).hexdigest()
    # Commune 31957 holds A (known) and B (rice-shrimp, unknown); 31951 holds C (unknown).
    communes = {r["commune_code"]: r for r in rows if r["section"] == "commune"}
    province = [r for r in rows if r["section"] == "province"]
    all_plots = [r for r in rows if r["section"] == "plot"]
    a = next(p for p in plots if p["field_code"] == "A")
    assert communes["31957"]["plots_estimated"] == 1
    assert communes["31957"]["ch4_reduction_kg"] == pytest.approx(a["ch4_reduction_kg"])
    assert communes["31951"]["plots_estimated"] == 0
    assert communes["31951"]["ch4_reduction_kg"] == 0
    assert len(province) == 1 and province[0]["plots"] == len(all_plots)
    for col in ("ch4_kg", "baseline_ch4_kg", "ch4_reduction_kg", "co2e_reduction_t"):
        assert province[0][col] == pytest.approx(sum(p[col] or 0 for p in all_plots))
        assert province[0][col] == pytest.approx(sum(c[col] for c in communes.values()))
    assert province[0]["co2e_reduction_t"] == pytest.approx(CO2E * a["field_area_ha"], abs=1e-3)


def test_mrv_pack_as_csv_xlsx_and_from_the_command_line(client, admin_headers, db, scene, tmp_path):
    r = client.get(f"{API}/low-emission-mrv", headers=admin_headers, params={"format": "csv"})
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
    header = r.content.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[:3] == ["section", "field_code", "commune_code"]
    assert "ch4_reduction_kg_per_ha" in header and "log_index" in header
    x = client.get(f"{API}/low-emission-mrv", headers=admin_headers, params={"format": "xlsx"})
    assert x.status_code == 200 and x.content[:2] == b"PK"
    out = tmp_path / "mrv.csv"
    url = db.url.render_as_string(hide_password=False)
    res = CliRunner().invoke(app, ["report", "low-emission-mrv", "--field", "A", "--out",
                                   str(out), "--format", "csv", "--database-url", url])  # fmt: skip
    assert res.exit_code == 0, res.output
    text = out.read_text(encoding="utf-8-sig")
    assert "multiple_drainage" in text and "evidence" in text


def test_a_farmer_reads_the_pack_of_their_own_fields_only(client, factory, scene):
    from sqlmodel import select

    from traceability.models import Farmer, FarmField

    field = factory.session.exec(select(FarmField).where(FarmField.code == "C")).one()
    farmer = factory.token("farmer", farmer=factory.session.get(Farmer, field.farmer_id))
    rows = _rows(client, farmer, "low-emission-mrv")
    assert {r["field_code"] for r in rows} == {"C"}  # no other plot, no totals of others
    operator = factory.token("operator")
    assert client.get(f"{API}/low-emission-mrv", headers=operator).status_code == 403


def test_straw_amount_is_checked(client, admin_headers, scene):
    body = {"field_code": "A", "occurred_at": "2026-03-26T07:00:00+07:00", "activity": "straw",
            "straw_handling": "removed", "straw_t_per_ha": 45}  # fmt: skip
    r = client.post("/api/v1/diary", headers=admin_headers, json=body)
    assert r.status_code == 422 and "straw_t_per_ha" in r.text


def test_the_printable_pack_page(client, admin_headers, factory, scene):
    vi = client.get("/mrv/", params={"field": "A"}, headers=admin_headers)
    assert vi.status_code == 200 and '<html lang="vi">' in vi.text
    # CH4 kg/ha, its reduction and t CO2e/ha, with Vietnamese decimal commas.
    assert "Ướt khô xen kẽ (rút nhiều lần)" in vi.text and "193,1" in vi.text
    assert "<dd>158</dd>" in vi.text and "4,42" in vi.text  # 158.0089: at most one decimal
    straw = [d for d in client.get("/api/v1/diary", headers=admin_headers,
             params={"field_code": "A", "activity": "straw"}).json()["data"]]  # fmt: skip
    assert any(d["hash"] in vi.text for d in straw)  # the hash an auditor checks
    en = client.get("/mrv/", params={"field": "B", "lang": "en"}, headers=admin_headers)
    assert "not yet published" in en.text and "AWD (multiple drainage)" in en.text
    office = client.get("/mrv/", headers=factory.token("office"))
    assert office.status_code == 200 and "31957" in office.text and "31951" in office.text
    # Commune 31957's total is A's alone (B's is not published): 8.8485 t CO2e; the
    # province's list of plots is not shown, a commune's is.
    assert "8,85" in office.text and "/mrv/?field=A" not in office.text
    commune = client.get("/mrv/", params={"commune": "31957"}, headers=factory.token("office"))
    assert "/mrv/?field=A" in commune.text and "/mrv/?field=B" in commune.text
    assert "/mrv/?field=C" not in commune.text
    assert client.get("/mrv/", headers=factory.token("operator")).status_code == 403


def test_an_empty_pack_is_an_empty_table(client, admin_headers):
    r = client.get(f"{API}/low-emission-mrv", headers=admin_headers, params={"commune": "00000"})
    assert r.status_code == 200 and r.json() == {"data": [], "count": 0}
    page = client.get("/mrv/", params={"commune": "00000"}, headers=admin_headers)
    assert page.status_code == 200


def test_the_cooperative_sees_its_members_plots_and_no_totals(client, factory, scene):
    coop = factory.organisation("cooperative", code="HTX-LUA")
    member = factory.farmer(organisation=coop)
    d = factory.field(farmer=member, code="D", x0=3000, width=100, height=100,
                      commune_code="31951")  # fmt: skip
    _records(factory, d)
    page = client.get("/mrv/", headers=factory.token("cooperative", organisation=coop))
    assert page.status_code == 200
    assert "?field=D" in page.text and "?field=A" not in page.text
    assert "reduction-map" not in page.text and "Toàn tỉnh" not in page.text


def test_all_seasons_read_at_once_give_the_rows_one_season_at_a_time_gives(db, factory, scene):
    """The report reads every season's records in a few statements
    (``season.emission_records``); the field-season records, read season by season
    (``season.season_records``), are the independent path: both must give the same rows
    and the same evidence pack, with a corrected entry, a withdrawn one, a note, an entry
    written after a later one (its place in the chain is not its day's order) and a
    lot's harvest in the scene, and with a ``from`` bound cutting a season."""
    from unittest import mock

    import pandas as pd

    from traceability import reports
    from traceability.reports import low_emission
    from traceability.reports.low_emission import LOW_EMISSION_COLUMNS, low_emission_rows
    from traceability.reports.season import emission_records, season_records

    a = factory.session.exec(select(FarmField).where(FarmField.code == "A")).one()
    c = factory.session.exec(select(FarmField).where(FarmField.code == "C")).one()
    wrong = factory.entry(a, occurred_at=vn("2026-02-01"), activity="fertilize",
                          input_code="URE", quantity=80.0, area_ha=2.0)  # fmt: skip
    factory.entry(a, occurred_at=vn("2026-02-01"), activity="fertilize", input_code="URE",
                  quantity=40.0, area_ha=2.0, corrects=wrong.id)  # fmt: skip
    gone = factory.entry(c, occurred_at=vn("2026-02-02"), activity="spray", input_code="P1",
                         quantity=0.4, area_ha=1.0)  # fmt: skip
    factory.entry(c, activity="spray", corrects=gone.id, retracts=True,
                  occurred_at=gone.occurred_at)  # fmt: skip
    factory.entry(c, occurred_at=vn("2026-02-03"), activity="observe", note="lúa đẻ nhánh")
    factory.entry(c, occurred_at=vn("2025-12-20"), activity="drain")  # written late
    factory.lot(fields_=[c], harvested_on=date(2026, 3, 20))
    with db.connect() as conn:
        for filters in (reports.Filters(), reports.Filters(since=date(2026, 1, 1))):
            _, now, _ = low_emission_rows(conn, filters, load=emission_records)
            _, each, _ = low_emission_rows(conn, filters, load=season_records)
            pd.testing.assert_frame_equal(
                pd.DataFrame(now, columns=LOW_EMISSION_COLUMNS),
                pd.DataFrame(each, columns=LOW_EMISSION_COLUMNS),
            )
            assert len(now) == 6  # three fields, two seasons each
    pack = reports.low_emission_mrv_report(db, reports.Filters())
    with db.begin() as conn:  # what the first pack kept (PostgreSQL) is not the other path
        conn.execute(text("DELETE FROM emission_rows"))
    with mock.patch.object(low_emission.low_emission_rows, "__defaults__", (None, season_records)):
        pack_each = reports.low_emission_mrv_report(db, reports.Filters())
    pd.testing.assert_frame_equal(pack, pack_each)
    assert (pack["section"] == "evidence").sum() > 20


def test_targets_say_which_reference_they_use_and_where_it_comes_from(
    client, admin_headers, scene, monkeypatch
):
    """The scene's office set a nitrogen reference of 100 kg N/ha with no source and no
    spray reference: the nitrogen verdict names the setting, the spray verdict stays
    unknown with that reason. With a source and 5 sprays, one hand spray is at most
    5 × (1 - 0.30) = 3.5 sprays: pass."""
    a = next(
        r
        for r in _rows(client, admin_headers, "low-emission-rice", field="A")
        if r["sown_on"] == "2025-12-12"
    )
    assert (a["n_reference_kg_per_ha"], a["n_target"], a["n_target_reason"]) == (
        100.0, "pass", None,
    )  # fmt: skip
    assert "AGRITRACE_N_REFERENCE_KG_PER_HA" in a["n_reference_source"]
    assert "no source given" in a["n_reference_source"]
    assert (a["sprays_reference"], a["sprays_reference_source"], a["sprays_target"]) == (
        None, None, "unknown",
    )  # fmt: skip
    assert "no reference number of pesticide sprays" in a["sprays_target_reason"]
    refs = client.get(f"{API}/low-emission-rice/references", headers=admin_headers).json()
    assert refs["n_reference"]["kg_per_ha"] == 100.0
    assert refs["sprays_reference"]["sprays"] is None
    assert "AGRITRACE_SPRAYS_REFERENCE" in refs["sprays_reference"]["missing"]
    assert refs["emission_factors"]["efc"] == 1.22

    source = "Sở Nông nghiệp và Môi trường Cà Mau, điều tra vụ Đông Xuân 2024-2025"
    monkeypatch.setenv("AGRITRACE_N_REFERENCE_SOURCE", source)
    monkeypatch.setenv("AGRITRACE_SPRAYS_REFERENCE", "5")
    monkeypatch.setenv("AGRITRACE_SPRAYS_REFERENCE_SOURCE", source)
    get_settings.cache_clear()
    a = next(
        r
        for r in _rows(client, admin_headers, "low-emission-rice", field="A")
        if r["sown_on"] == "2025-12-12"
    )
    assert (a["n_reference_source"], a["sprays_reference"], a["sprays_target"]) == (
        source, 5.0, "pass",
    )  # fmt: skip
    assert a["sprays_target_reason"] is None
    monkeypatch.delenv("AGRITRACE_N_REFERENCE_KG_PER_HA")
    get_settings.cache_clear()
    a = _rows(client, admin_headers, "low-emission-rice", field="A")[-1]
    assert (a["n_reference_kg_per_ha"], a["n_target"]) == (None, "unknown")
    assert "no reference nitrogen rate" in a["n_target_reason"]


def test_a_season_with_no_earlier_crop_on_record(client, admin_headers, factory, scene):
    """Field D (1.0 ha) has one season only, sown 2026-01-05, and no water entry before
    it: the diary cannot say the pre-season. Worked by hand from the IPCC 2019 tables:
    flooded 01-07, drained 01-27 → irrigated 02-01, drained 02-11 → irrigated 02-16,
    drained 03-31 for the harvest on 2026-04-15: multiple drainage (SFw 0.55), 100 days;
    straw removed (SFo 1), 6 t/ha (the baseline's SFo = (1 + 6 × 1.00)^0.59 = 7^0.59).

    - Nothing stated: Table 5.13's aggregated case, SFp 1.22:
      CH4 = 1.22 × 0.55 × 1.22 × 1 × 100 = 81.862 kg/ha;
      baseline = 1.22 × 1.00 × 1.22 × 7^0.59 × 100 = 148.84 × 3.15216 = 469.167 kg/ha.
    - The farmer states non-flooded over 180 days (SFp 0.89):
      CH4 = 1.22 × 0.55 × 0.89 × 100 = 59.719 kg/ha.
    """
    d = factory.field(code="D", x0=3000, width=100, height=100, commune_code="31906")
    season = factory.season(d, crop="lúa", sown_on=date(2026, 1, 5))
    factory.entry(d, occurred_at=vn("2025-12-10"), activity="straw", straw_handling="removed",
                  straw_t_per_ha=6.0)  # fmt: skip
    for day_, activity in [("2026-01-07", "irrigate"), ("2026-01-27", "drain"),
                           ("2026-02-01", "irrigate"), ("2026-02-11", "drain"),
                           ("2026-02-16", "irrigate"), ("2026-03-31", "drain"),
                           ("2026-04-15", "harvest")]:  # fmt: skip
        factory.entry(d, occurred_at=vn(day_), activity=activity)
    (row,) = _rows(client, admin_headers, "low-emission-rice", field="D")
    assert (row["pre_season"], row["pre_season_basis"], row["sfp"]) == (
        "not_known", "ipcc_aggregated", 1.22,
    )  # fmt: skip
    assert row["ch4_reason"] is None
    assert row["ch4_kg_per_ha"] == pytest.approx(1.22 * 0.55 * 1.22 * 100, abs=1e-3)
    assert row["ch4_kg_per_ha"] == pytest.approx(81.862, abs=1e-3)
    assert row["baseline_ch4_kg_per_ha"] == pytest.approx(469.167, abs=1e-2)

    put = f"/api/v1/seasons/{season.id}/pre-season"
    r = client.put(put, headers=admin_headers, json={"pre_season_water": "non_flooded_gt_180d"})
    assert r.status_code == 200, r.text
    assert r.json()["pre_season_water"] == "non_flooded_gt_180d"
    (row,) = _rows(client, admin_headers, "low-emission-rice", field="D")
    assert (row["pre_season"], row["pre_season_basis"], row["sfp"]) == (
        "non_flooded_gt_180d", "farmer", 0.89,
    )  # fmt: skip
    assert row["ch4_kg_per_ha"] == pytest.approx(59.719, abs=1e-3)
    bad = client.put(put, headers=admin_headers, json={"pre_season_water": "wet"})
    assert bad.status_code == 422 and "pre_season_water" in bad.text
    # The diary's own evidence comes first: field A's season follows a crop on record.
    a = _rows(client, admin_headers, "low-emission-rice", field="A")[-1]
    assert (a["pre_season"], a["pre_season_basis"]) == ("non_flooded_lt_180d", "diary")
