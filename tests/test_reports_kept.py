"""The low-emission rice report's rows kept aside (``reports.kept``): a report served from
kept rows is the report computed afresh, and any change to what a row rests on — through
the API's factories or by hand in SQL — is in the next report.

The scene is ``test_reports_low_emission``'s (fields A, B and C, two seasons each); the
expected figures of each change are worked out in the test from the scene's records.
"""

from datetime import date

import pandas as pd
import pytest
from sqlalchemy import text
from sqlmodel import select

from tests import test_reports_low_emission as scenes
from traceability import reports
from traceability.models import FarmField
from traceability.reports.low_emission import LOW_EMISSION_COLUMNS, low_emission_rows

scene, vn = scenes.scene, scenes.vn  # the scene's fixture, and its days at 07:00 Vietnam time


def _afresh(db, filters=reports.Filters()) -> pd.DataFrame:
    """The report's rows computed from the records, never kept."""
    with db.connect() as conn:
        _, rows, _ = low_emission_rows(conn, filters)
    return pd.DataFrame(rows, columns=LOW_EMISSION_COLUMNS)


def _report(db, filters=reports.Filters()) -> pd.DataFrame:
    return reports.low_emission_rice_report(db, filters)


def _kept(db) -> dict[int, str]:
    with db.connect() as conn:
        rows = conn.execute(text("SELECT season_id, stamp FROM emission_rows"))
        return {season: stamp for season, stamp in rows}


def _row(frame, field, sown=date(2025, 12, 12)):
    rows = frame[(frame.field_code == field) & (frame.sown_on == sown)]
    assert len(rows) == 1
    return rows.iloc[0]


def _field(factory, code):
    return factory.session.exec(select(FarmField).where(FarmField.code == code)).one()


def test_kept_rows_are_the_rows_computed_afresh(db, scene):
    """Twice the same report, the second from what the first kept (on PostgreSQL), each
    equal to the rows computed from the records; so are a commune's, a field's and a
    cooperative-scoped one."""
    first = _report(db)
    assert len(first) == 6  # three fields, two seasons each
    pd.testing.assert_frame_equal(first, _afresh(db))
    kept = _kept(db)
    assert len(kept) == (6 if db.dialect.name == "postgresql" else 0)
    again = _report(db)
    pd.testing.assert_frame_equal(again, first)
    assert _kept(db) == kept  # nothing was computed again, so nothing written
    for filters in (
        reports.Filters(commune="31957"),
        reports.Filters(field="C"),
        reports.Filters(field_codes=frozenset({"A", "C"})),
    ):
        pd.testing.assert_frame_equal(_report(db, filters), _afresh(db, filters))
    if db.dialect.name == "postgresql":
        # What is served is what was kept: a kept row's body changed under its stamp
        # (which still holds) is what the next report shows.
        some = int(first.season_id.iloc[0])
        with db.begin() as conn:
            body = conn.execute(
                text("SELECT row FROM emission_rows WHERE season_id = :s"), {"s": some}
            ).scalar_one()
            marked = bytes(body).replace(b'"' + first.crop.iloc[0].encode() + b'"', b'"kept"', 1)
            conn.execute(
                text("UPDATE emission_rows SET row = :r WHERE season_id = :s"),
                {"r": marked, "s": some},
            )
        assert _report(db).crop.iloc[0] == "kept"


@pytest.fixture
def kept_once(db, scene):
    """The scene's report made once (and its rows kept, on PostgreSQL; SQLite computes
    every report afresh, and the tests below check its reports alike)."""
    _report(db)
    return _kept(db)


def test_a_new_entry_changes_its_fields_rows_only(db, factory, kept_once):
    """Field A's season had two drainage periods (01-01 → 01-06, 01-16 → 01-21) before the
    final drain; a drain on 02-10 and an irrigation on 02-15 make three. B's and C's rows
    are served as kept (their stamps unchanged); A's two seasons are computed again. Then
    a lot from C moves C's harvest."""
    a = _field(factory, "A")
    assert _row(_report(db), "A")["drainage_periods"] == 2
    factory.entry(a, occurred_at=vn("2026-02-10"), activity="drain")
    factory.entry(a, occurred_at=vn("2026-02-15"), activity="irrigate")
    after = _report(db)
    assert _row(after, "A")["drainage_periods"] == 3
    pd.testing.assert_frame_equal(after, _afresh(db))
    if db.dialect.name == "postgresql":
        now = _kept(db)
        changed = {sid for sid in now if now[sid] != kept_once[sid]}
        seasons_of_a = set(after[after.field_code == "A"].season_id)
        assert changed == seasons_of_a and len(changed) == 2

    # A lot from C harvested on 03-18, before C's harvest entry (03-22): C's harvest is
    # the lot's, 96 days after the sowing on 2025-12-12 (19 + 31 + 28 + 18).
    assert _row(after, "C")["cultivation_days"] == 100
    factory.lot(fields_=[_field(factory, "C")], harvested_on=date(2026, 3, 18))
    c = _row(_report(db), "C")
    assert (c["harvested_on"], c["cultivation_days"]) == (date(2026, 3, 18), 96)


def test_a_change_by_hand_in_sql_is_in_the_next_report(db, factory, kept_once):
    """Changes no API call made, each under a row that was kept:

    - the urea's nitrogen halved (46 % → 23 %): A spread 100 kg of urea on 2 ha, 23 kg N,
      11.5 kg N/ha instead of 23;
    - C marked as rice-shrimp: its methane becomes "not yet published";
    - A's season given an end on 2026-03-10, before its harvest entry (03-22): the
      harvest is no longer in the season, so its cultivation days are unknown.
    """
    assert _row(_report(db), "A")["nitrogen_kg_per_ha"] == pytest.approx(23.0)
    with db.begin() as conn:
        conn.execute(text("UPDATE inputs SET nitrogen_pct = 23 WHERE code = 'URE'"))
    assert _row(_report(db), "A")["nitrogen_kg_per_ha"] == pytest.approx(11.5)

    c = _field(factory, "C")
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE fields SET properties = :p WHERE id = :id"
                if db.dialect.name == "sqlite"
                else "UPDATE fields SET properties = CAST(:p AS json) WHERE id = :id"
            ),
            {"p": '{"rice_shrimp": true}', "id": c.id},
        )
    assert "not yet published" in _row(_report(db), "C")["ch4_reason"]

    a_now = _row(_report(db), "A")
    assert a_now["cultivation_days"] == 100 and a_now["harvested_on"] == date(2026, 3, 22)
    with db.begin() as conn:
        conn.execute(
            text("UPDATE seasons SET ended_on = '2026-03-10' WHERE id = :id"),
            {"id": int(a_now["season_id"])},
        )
    a_now = _row(_report(db), "A")
    assert a_now["harvested_on"] is None and pd.isna(a_now["cultivation_days"])
    pd.testing.assert_frame_equal(_report(db), _afresh(db))


def test_a_kept_row_whose_stamp_does_not_hold_is_computed_again(db, kept_once):
    """A kept row altered by hand (its body, under a stamp that no longer holds) is not
    served: the report computes it again and keeps it with the right stamp."""
    if db.dialect.name != "postgresql":
        pytest.skip("rows are kept on PostgreSQL only (SQLite has no row versions)")
    some = next(iter(kept_once))
    with db.begin() as conn:
        conn.execute(
            text("UPDATE emission_rows SET stamp = 'x', row = :r WHERE season_id = :s"),
            {"s": some, "r": b"[]"},
        )
    pd.testing.assert_frame_equal(_report(db), _afresh(db))
    assert _kept(db) == kept_once


def test_the_mrv_pack_from_kept_rows_is_the_pack_computed_afresh(db, factory, kept_once):
    """The evidence pack reads each season's evidence from what was kept: the same frame
    as a pack computed with nothing kept. An entry's index in the transparency log is not
    kept: a drain recorded after the pack has none until the log sequences it, and then
    the next pack gives it, as a pack computed afresh does."""
    from traceability.services import tlog

    first = reports.low_emission_mrv_report(db, reports.Filters())
    pd.testing.assert_frame_equal(reports.low_emission_mrv_report(db, reports.Filters()), first)
    a = _field(factory, "A")
    drain = factory.entry(a, occurred_at=vn("2026-02-10"), activity="drain")
    factory.entry(a, occurred_at=vn("2026-02-15"), activity="irrigate")
    pack = reports.low_emission_mrv_report(db, reports.Filters())
    mine = pack[pack.entry_id == drain.id]
    assert list(mine.evidence_for) == ["water"] and mine.log_index.isna().all()
    tlog.sequence(factory.session)
    pack = reports.low_emission_mrv_report(db, reports.Filters())
    assert pack[pack.entry_id == drain.id].log_index.notna().all()
    with db.begin() as conn:
        conn.execute(text("DELETE FROM emission_rows"))
    pd.testing.assert_frame_equal(reports.low_emission_mrv_report(db, reports.Filters()), pack)


def test_a_drone_missions_result_changed_by_hand_is_in_the_next_report(db, factory, kept_once):
    """A drone spreads urea (46 % N) over field A: 10 passes of 40 s at 6 kg a minute,
    40 kg of urea, 18.4 kg N; with the 100 kg spread by hand (46 kg N), 64.4 kg N on 2 ha,
    32.2 kg N/ha. The mission's result on A doubled by hand in SQL (80 kg of urea, 36.8 kg
    N) makes 82.8 kg, 41.4 kg N/ha, in the next report: the stamp holds the missions."""
    from tests.mqtt import lawnmower
    from tests.test_missions_measure import fly

    factory.drone(code="D1", swath_m=10.0)
    points = lawnmower(mission_id="MU", flow_lpm=None, flow_kgpm=6.0)  # 2026-03-01
    fly(factory.session, "MU", points, end={},
        start={"product_code": "URE", "type": "fertilize", "swath_m": 10.0})  # fmt: skip
    assert _row(_report(db), "A")["nitrogen_kg_per_ha"] == pytest.approx(32.2, rel=1e-3)
    with db.begin() as conn:
        conn.execute(
            text(
                "UPDATE mission_fields SET product_amount = 2 * product_amount, "
                "applied_amount = 2 * applied_amount"
            )
        )
    assert _row(_report(db), "A")["nitrogen_kg_per_ha"] == pytest.approx(41.4, rel=1e-3)
    pd.testing.assert_frame_equal(_report(db), _afresh(db))
