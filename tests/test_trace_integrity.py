"""Diary integrity on the trace: each field's hash chain, as ``diary.verify_chain`` sees it."""

from datetime import date

import pytest
from sqlalchemy import text

from tests.test_trace_phi import spray
from traceability.services import diary
from traceability.services import trace as svc


@pytest.fixture(autouse=True)
def _fresh_cache():
    svc.clear_cache()


@pytest.fixture
def two_fields(factory):
    product = factory.input(phi_days=14)
    a, b = factory.field(), factory.field()
    for field in (a, b):
        factory.season(field, sown_on=date(2026, 1, 5))
        spray(factory, field, product, "2026-02-01T08:00:00")
        spray(factory, field, product, "2026-03-01T08:00:00")
        factory.entry(field, activity="observe")
    lot = factory.lot(fields_=[a, b])
    return a, b, lot


def _chains(client, lot) -> dict[str, dict]:
    body = client.get(f"/api/v1/trace/{lot.code}").json()
    return {c["field_code"]: c for c in body["diary_integrity"]["fields"]}, body


def test_untouched_diaries_verify(client, session, two_fields):
    a, b, lot = two_fields
    chains, body = _chains(client, lot)
    assert body["diary_integrity"]["valid"] is True
    for field in (a, b):
        official = diary.verify_chain(session, field_code=field.code)
        assert chains[field.code]["valid"] is official.valid is True
        assert chains[field.code]["entries"] == official.entries == 3
        assert chains[field.code]["head_hash"] == official.head_hash


def test_an_edit_behind_the_api_breaks_that_field_only(client, session, db, two_fields):
    a, b, lot = two_fields
    # Someone with database access moves a spray date to hide a PHI breach.
    with db.begin() as conn:
        conn.execute(
            text("UPDATE diary_entries SET quantity = 0.1 WHERE field_id = :f AND chain_seq = 2"),
            {"f": a.id},
        )

    chains, body = _chains(client, lot)

    assert body["diary_integrity"]["valid"] is False
    assert chains[a.code]["valid"] is False and chains[b.code]["valid"] is True
    official = diary.verify_chain(session, field_code=a.code)
    assert [(x["entry_id"], x["problem"]) for x in chains[a.code]["breaks"]] == [
        (x.entry_id, x.problem) for x in official.breaks
    ]
    page = client.get(f"/t/{lot.code}").text
    assert 'data-chain="broken"' in page and "Chuỗi mã băm bị phá vỡ" in page


def test_a_deleted_entry_is_a_missing_link(client, session, db, two_fields):
    a, _, lot = two_fields
    with db.begin() as conn:
        conn.execute(
            text("DELETE FROM diary_entries WHERE field_id = :f AND chain_seq = 1"), {"f": a.id}
        )

    chains, _ = _chains(client, lot)

    problems = [x["problem"] for x in chains[a.code]["breaks"]]
    assert any("missing" in p for p in problems)
    assert [p for p in problems] == [
        x.problem for x in diary.verify_chain(session, field_code=a.code).breaks
    ]


def test_deleting_a_field_s_newest_entry_breaks_its_chain_on_the_trace(
    client, session, db, two_fields
):
    a, _, lot = two_fields
    before, _ = _chains(client, lot)
    assert before[a.code]["valid"] is True
    with db.begin() as conn:
        conn.execute(
            text(
                "DELETE FROM diary_entries WHERE field_id = :f AND chain_seq = "
                "(SELECT max(chain_seq) FROM diary_entries WHERE field_id = :f)"
            ),
            {"f": a.id},
        )
    chains, _ = _chains(client, lot)
    assert chains[a.code]["valid"] is False
    assert [x["problem"] for x in chains[a.code]["breaks"]] == [
        x.problem for x in diary.verify_chain(session, field_code=a.code).breaks
    ]


def test_new_entries_show_up_although_the_lot_structure_is_cached(client, factory, two_fields):
    a, _, lot = two_fields
    before, _ = _chains(client, lot)
    factory.entry(a, activity="observe")
    after, _ = _chains(client, lot)
    assert after[a.code]["entries"] == before[a.code]["entries"] + 1
    assert after[a.code]["valid"] is True


def test_a_cached_trace_is_rebuilt_after_an_edit_behind_the_api(client, db, two_fields):
    a, _, lot = two_fields
    for _ in range(2):  # built, then (on PostgreSQL) answered from the cache
        before, _ = _chains(client, lot)
        page = client.get(f"/t/{lot.code}").text
        assert before[a.code]["valid"] is True and 'data-chain="broken"' not in page
    with db.begin() as conn:
        conn.execute(
            text("UPDATE diary_entries SET note = 'nothing' WHERE field_id = :f AND chain_seq = 1"),
            {"f": a.id},
        )
    after, _ = _chains(client, lot)
    assert after[a.code]["valid"] is False
    assert 'data-chain="broken"' in client.get(f"/t/{lot.code}").text


def test_repeat_scans_are_served_from_the_stored_trace(
    client, db, factory, two_fields, monkeypatch
):
    a, _, lot = two_fields
    builds = []
    real = svc.build_trace
    monkeypatch.setattr(svc, "build_trace", lambda *a, **kw: builds.append(1) or real(*a, **kw))
    first = client.get(f"/api/v1/trace/{lot.code}").content
    second = client.get(f"/api/v1/trace/{lot.code}").content
    assert first == second
    assert len(builds) == 1  # on both backends: the second scan reads the stored trace
    factory.entry(a, activity="observe")  # a new diary line must show at once
    third = client.get(f"/api/v1/trace/{lot.code}").json()
    assert len(builds) == 2
    chains = {c["field_code"]: c for c in third["diary_integrity"]["fields"]}
    assert chains[a.code]["entries"] == 4
