"""Traces stored ahead of the scan: byte for byte a fresh build, and never older than the record.

Every check runs on SQLite and PostgreSQL. "Fresh" means built here and now with
``build_trace`` and rendered the way the routes render it, with nothing stored or cached.
"""

from datetime import date, timedelta

import orjson
import pytest
from sqlalchemy import event, text
from sqlmodel import Session
from typer.testing import CliRunner

from tests.test_trace_phi import local, make_mission, spray
from traceability import errors as svc_errors
from traceability.api import trace_cache
from traceability.api.pages import RENDERINGS
from traceability.db import READ_POOL_NAME
from traceability.services import trace as svc
from traceability.services.trace import snapshot

BASE = "https://trace.example.vn"
# The builder itself, taken before any test counts its calls.
BUILD = svc.build_trace


@pytest.fixture(autouse=True)
def _fresh_cache():
    svc.clear_cache()


def fresh(db, code: str, variant: str) -> bytes:
    """The trace of ``code`` built now (in a session of its own) and rendered as the routes
    render it."""
    svc.clear_cache()
    rendering = RENDERINGS[variant]
    with Session(db) as session:
        data = BUILD(session, code=code, base_url=BASE, with_map=rendering.with_map)
    return rendering.render(data)


def stored(db, code: str, variant: str) -> bytes | None:
    with db.connect() as conn:
        row = conn.execute(
            text(
                "SELECT s.body FROM trace_snapshots s JOIN lots l ON l.id = s.lot_id "
                "WHERE l.code = :c AND s.variant = :v"
            ),
            {"c": code, "v": variant},
        ).first()
    return None if row is None else bytes(row[0])


URL = {"json": "/api/v1/trace/{}", "page:vi": "/t/{}", "page:en": "/t/{}?lang=en"}


def scan(client, code: str, variant: str = "json") -> bytes:
    response = client.get(URL[variant].format(code))
    assert response.status_code == 200
    return response.content


@pytest.fixture
def builds(monkeypatch) -> list[str]:
    """The codes of the traces built from here on (by scans or ahead of them)."""
    out: list[str] = []
    real = svc.build_trace
    monkeypatch.setattr(
        svc, "build_trace", lambda *a, **kw: out.append(kw["code"]) or real(*a, **kw)
    )
    return out


@pytest.fixture
def record(session, factory):
    """A plain lot, a lot with a drone mission, and a milled lot made from both."""
    product = factory.input(phi_days=14)
    other = factory.input(phi_days=7)
    plain_field, drone_field = factory.field(), factory.field()
    for f in (plain_field, drone_field):
        factory.season(f, sown_on=date(2026, 1, 5))
    spray(factory, plain_field, product, "2026-02-01T08:00:00")
    spray(factory, plain_field, other, "2026-03-20T08:00:00")
    factory.entry(plain_field, activity="observe")
    mission = make_mission(
        session, field=drone_field, product=product, at=local("2026-03-01T07:00:00")
    )
    plain = factory.lot(fields_=[plain_field])
    drone = factory.lot(fields_=[drone_field])
    milled = factory.lot(
        parents=[plain, drone], harvested_on=date(2026, 4, 20), product_name="Gạo ST25"
    )
    return {
        "plain": plain,
        "drone": drone,
        "milled": milled,
        "fields": (plain_field, drone_field),
        "product": product,
        "mission": mission,
    }


# ---------------------------------------------------------------- the same bytes


@pytest.mark.parametrize("variant", sorted(RENDERINGS))
def test_a_stored_trace_is_byte_for_byte_a_fresh_build(client, db, session, record, variant):
    for name in ("plain", "drone", "milled"):
        code = record[name].code
        served = scan(client, code, variant)
        assert stored(db, code, variant) == served == fresh(db, code, variant), name
        assert scan(client, code, variant) == served  # now read from the store


def test_traces_stored_ahead_are_the_fresh_build_of_every_rendering(db, session, record):
    seen, built = trace_cache.refresh(session, base_url=BASE, renderings=RENDERINGS)
    assert (seen, built) == (3, 3)
    for name in ("plain", "drone", "milled"):
        for variant in RENDERINGS:
            code = record[name].code
            assert stored(db, code, variant) == fresh(db, code, variant), (name, variant)
    # Nothing changed: nothing to build; everything: all of them again.
    assert trace_cache.refresh(session, base_url=BASE, renderings=RENDERINGS) == (3, 0)
    assert trace_cache.refresh(session, base_url=BASE, renderings=RENDERINGS, everything=True) == (
        3,
        3,
    )


def test_a_drone_trace_shows_its_mission(client, record):
    events = orjson.loads(scan(client, record["drone"].code))["events"]
    assert [e["mission_id"] for e in events if e["kind"] == "drone_mission"] == [
        record["mission"].mission_id
    ]


# ---------------------------------------------------------------- served from the store


def test_a_first_scan_of_a_lot_stored_ahead_builds_nothing(client, session, record, builds):
    trace_cache.refresh(session, base_url=BASE, renderings=RENDERINGS)
    built_ahead = len(builds)
    svc.clear_cache()  # a worker that has never seen these lots
    for name in ("plain", "drone", "milled"):
        for variant in RENDERINGS:
            scan(client, record[name].code, variant)
    assert len(builds) == built_ahead == 3  # one build per lot, for all its renderings


def test_a_new_release_or_base_url_rebuilds(client, session, record, builds, monkeypatch):
    code = record["plain"].code
    scan(client, code)
    scan(client, code)
    assert builds == [code]
    monkeypatch.setattr(snapshot, "CODE_VERSION", "another-release")
    scan(client, code)
    assert builds == [code, code]
    monkeypatch.setenv("AGRITRACE_PUBLIC_BASE_URL", "https://other.example.vn")
    from traceability.config import get_settings

    get_settings.cache_clear()
    body = orjson.loads(scan(client, code))
    assert builds == [code, code, code]
    assert body["lot"]["trace_url"].startswith("https://other.example.vn/")


def test_a_repeat_scan_on_postgresql_does_not_fetch_the_body_again(db, session, record):
    code = record["plain"].code
    trace_cache.refresh(session, base_url=BASE, renderings=RENDERINGS)
    first = snapshot.scan(session, code=code, variant="json", base_url=BASE)
    assert first.fresh and first.body == fresh(db, code, "json")
    again = snapshot.scan(session, code=code, variant="json", base_url=BASE, known=first.stamp)
    assert again.fresh and again.stamp == first.stamp
    # PostgreSQL leaves out the body the caller holds; SQLite reads it in any case.
    assert (again.body is None) is (db.dialect.name == "postgresql")


def test_a_scan_outlives_the_database_dropping_its_connections(client, db, record):
    if db.dialect.name != "postgresql":
        pytest.skip("a SQLite file has no connection to drop")
    code = record["plain"].code
    first = scan(client, code)
    with db.connect() as conn:  # as a restart of the server would
        dropped = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE application_name = :name AND datname = current_database()"
            ),
            {"name": READ_POOL_NAME},
        ).scalar()
    assert dropped >= 1
    assert scan(client, code) == first
    assert scan(client, code, "page:vi") == scan(client, code, "page:vi")


def test_an_unknown_lot_is_still_a_404(client):
    assert client.get("/api/v1/trace/NO-SUCH-LOT").status_code == 404
    assert client.get("/t/NO-SUCH-LOT").status_code == 404


# ---------------------------------------------------------------- never older than the record


def _sql(db, statement: str, **params) -> None:
    with db.begin() as conn:
        assert conn.execute(text(statement), params).rowcount >= 1


def _edit_entry_through_the_api(client, admin_headers, db, record):
    plain_field = record["fields"][0]
    with db.connect() as conn:
        entry_id = conn.execute(
            text("SELECT min(id) FROM diary_entries WHERE field_id = :f AND activity = 'spray'"),
            {"f": plain_field.id},
        ).scalar()
    response = client.post(
        "/api/v1/diary",
        json={
            "field_code": plain_field.code,
            "occurred_at": "2026-02-02T08:00:00+07:00",
            "activity": "spray",
            "input_code": record["product"].code,
            "quantity": 1.0,
            "area_ha": 1.5,
            "corrects": entry_id,
        },
        headers=admin_headers,
    )
    assert response.status_code == 201, response.text


EDITS = {
    "an entry corrected through the API": _edit_entry_through_the_api,
    "a product's PHI in SQL": lambda client, headers, db, r: _sql(
        db, "UPDATE inputs SET phi_days = 60 WHERE id = :i", i=r["product"].id
    ),
    "a mission's dates in SQL": lambda client, headers, db, r: _sql(
        db,
        "UPDATE missions SET started_at = :at, ended_at = :at WHERE id = :m",
        at=local("2026-04-05T07:00:00"),
        m=r["mission"].id,
    ),
    "a parent lot's field diary": lambda client, headers, db, r: _sql(
        db, "UPDATE diary_entries SET quantity = 9.5 WHERE field_id = :f AND chain_seq = 1",
        f=r["fields"][0].id,
    ),
    "a farmer's name in SQL": lambda client, headers, db, r: _sql(
        db,
        "UPDATE farmers SET name = 'Nguyễn Văn Đổi' WHERE id = "
        "(SELECT farmer_id FROM fields WHERE id = :f)",
        f=r["fields"][1].id,
    ),
    "a parent lot's quantity in SQL": lambda client, headers, db, r: _sql(
        db, "UPDATE lots SET quantity_kg = 1234.5 WHERE id = :l", l=r["drone"].id
    ),
    "a season's sowing date in SQL": lambda client, headers, db, r: _sql(
        db, "UPDATE seasons SET sown_on = :d WHERE field_id = :f",
        d=date(2026, 1, 20), f=r["fields"][0].id,
    ),
}  # fmt: skip


@pytest.mark.parametrize("edit", sorted(EDITS))
@pytest.mark.parametrize("variant", ["json", "page:vi"])
def test_a_change_anywhere_shows_on_the_next_scan_of_the_milled_lot(
    client, admin_headers, db, session, record, builds, edit, variant
):
    code = record["milled"].code
    before = scan(client, code, variant)
    assert scan(client, code, variant) == before and builds == [code]  # from the store

    EDITS[edit](client, admin_headers, db, record)

    after = scan(client, code, variant)
    assert after != before
    assert after == fresh(db, code, variant)
    assert stored(db, code, variant) == after
    assert scan(client, code, variant) == after


def test_the_edits_show_what_changed(client, admin_headers, db, record):
    code = record["milled"].code
    scan(client, code)
    for edit in EDITS.values():
        edit(client, admin_headers, db, record)
    data = orjson.loads(scan(client, code))
    phi = next(x for x in data["phi"]["lots"] if x["lot_code"] == record["drone"].code)
    # The PHI edited in SQL is not the one chained when the drone's line was written: the
    # verdict keeps the chained 14 days and the trace names the disagreement.
    assert {p["phi_days"] for p in phi["products"]} == {14}
    named = {
        (d["what"], d["chained"], d["recorded"]) for d in data["diary_integrity"]["discrepancies"]
    }
    assert ("phi_days", 14, 60) in named
    drone = next(e for e in data["events"] if e["kind"] == "drone_mission")
    assert drone["started_at"] == "2026-04-05T00:00:00Z"
    assert (
        next(x for x in data["lineage"] if x["code"] == record["drone"].code)["quantity_kg"]
        == 1234.5
    )
    farmers = {f["code"]: f["farmer"]["name"] for f in data["fields"]}
    assert farmers[record["fields"][1].code] == "Nguyễn Văn Đổi"
    plain_chain = next(
        c for c in data["diary_integrity"]["fields"] if c["field_code"] == record["fields"][0].code
    )
    assert plain_chain["valid"] is False  # the quantity edited in SQL breaks the chain
    assert plain_chain["entries"] == 4  # three, and the correction sent through the API
    season = next(s for s in data["seasons"] if s["field_code"] == record["fields"][0].code)
    assert season["sown_on"] == "2026-01-20"


def test_a_write_between_the_stamp_and_the_build_is_rebuilt(
    client, db, session, record, builds, monkeypatch
):
    """The stamp is taken before the rows are read: a write in between leaves it older."""
    code = record["plain"].code
    real = snapshot.stamp

    def stamp_then_write(*args, **kwargs):
        out = real(*args, **kwargs)
        _sql(db, "UPDATE diary_entries SET quantity = 7.5 WHERE id = "
                 "(SELECT max(id) FROM diary_entries WHERE field_id = :f)",
             f=record["fields"][0].id)  # fmt: skip
        return out

    monkeypatch.setattr(snapshot, "stamp", stamp_then_write)
    scan(client, code)
    monkeypatch.setattr(snapshot, "stamp", real)
    assert builds == [code]
    second = scan(client, code)
    # The first build may or may not have seen the write; the stored stamp is older than
    # it either way, so the next scan rebuilds, and from then on the store holds.
    assert builds == [code, code]
    assert second == fresh(db, code, "json")
    assert scan(client, code) == second and len(builds) == 2
    assert b'"quantity":7.5' in second


# ---------------------------------------------------------------- what the fingerprint covers


def test_the_fingerprint_names_every_table_a_trace_reads(db, session, record):
    read: set[str] = set()

    def note(conn, cursor, statement, *args):
        import re

        read.update(re.findall(r"(?i)\b(?:FROM|JOIN)\s+\"?([a-z_]+)", statement))

    event.listen(db, "before_cursor_execute", note)
    try:
        for name in ("plain", "drone", "milled"):
            svc.clear_cache()
            svc.build_trace(session, code=record[name].code, base_url=BASE, with_map=True)
        # A broken chain is reported by the diary service: its reads count too.
        _sql(db, "UPDATE diary_entries SET note = 'x' WHERE field_id = :f",
             f=record["fields"][0].id)  # fmt: skip
        svc.build_trace(session, code=record["milled"].code, base_url=BASE)
    finally:
        event.remove(db, "before_cursor_execute", note)
    read -= {"json_each"}
    assert read, "no statement seen"
    known = snapshot.FINGERPRINTED | snapshot.NOT_FINGERPRINTED
    assert read <= known, read - known


# ---------------------------------------------------------------- the command


def test_the_command_stores_what_is_missing_or_stale(db, session, record):
    from agritrace.cli import app

    url = db.url.render_as_string(hide_password=False)
    out = CliRunner().invoke(app, ["trace-snapshots", "--database-url", url])
    assert out.exit_code == 0, out.output
    assert "3 of 3 lots' traces built and stored" in out.output
    assert stored(db, record["plain"].code, "page:en") == fresh(db, record["plain"].code, "page:en")
    _sql(db, "UPDATE lots SET quantity_kg = 10 WHERE id = :l", l=record["plain"].id)
    out = CliRunner().invoke(app, ["trace-snapshots", "--database-url", url])
    # The plain lot and the milled lot made from it rest on that row.
    assert "2 of 3 lots' traces built and stored" in out.output
    out = CliRunner().invoke(app, ["trace-snapshots", "--all", "--database-url", url])
    assert "3 of 3 lots' traces built and stored" in out.output


def test_a_trace_missing_from_the_store_is_built_and_stored_by_the_scan(
    client, db, session, record, builds
):
    code = record["plain"].code
    scan(client, code)
    _sql(db, "DELETE FROM trace_snapshots WHERE lot_id = :l", l=record["plain"].id)
    assert stored(db, code, "json") is None
    assert scan(client, code) == fresh(db, code, "json")
    assert stored(db, code, "json") == fresh(db, code, "json")
    assert builds.count(code) == 2


def test_a_lot_recorded_through_the_api_is_stored_before_its_first_scan(
    client, admin_headers, db, factory, builds
):
    field = factory.field()
    factory.season(field, sown_on=date(2026, 1, 5))
    factory.entry(field, activity="observe")
    body = {
        "code": "LOT-API-1",
        "field_codes": [field.code],
        "harvested_on": "2026-04-10",
        "quantity_kg": 4200.0,
        "product_name": "Lúa ST25",
    }
    assert client.post("/api/v1/lots", json=body, headers=admin_headers).status_code == 201
    assert builds == ["LOT-API-1"]  # built once the answer was sent, for every rendering
    for variant in RENDERINGS:
        assert stored(db, "LOT-API-1", variant) == fresh(db, "LOT-API-1", variant)
        assert scan(client, "LOT-API-1", variant) == stored(db, "LOT-API-1", variant)
    assert builds == ["LOT-API-1"]


def test_head_of_a_trace_gives_the_headers_of_get_without_the_body(client, record):
    code = record["plain"].code
    for url in (f"/api/v1/trace/{code}", f"/t/{code}", f"/t/{code}?lang=en"):
        got, head = client.get(url), client.head(url)
        assert head.status_code == 200 and head.content == b"", url
        assert int(head.headers["content-length"]) == len(got.content), url
        for name in ("content-type", "etag", "cache-control"):
            assert head.headers[name] == got.headers[name], (url, name)
    assert client.head("/t/NO-SUCH-LOT").status_code == 404


# ---------------------------------------------------------------- built again as the diaries grow


def fresh_everywhere(session, code: str) -> bool:
    """Whether every stored rendering of ``code`` still holds (none missing)."""
    found = [snapshot.scan(session, code=code, variant=v, base_url=BASE) for v in RENDERINGS]
    session.commit()
    return all(f is not None and f.fresh for f in found)


def test_lots_whose_fields_get_diary_lines_are_built_again_ahead(db, session, factory, record):
    trace_cache.refresh(session, base_url=BASE, renderings=RENDERINGS)
    mark = trace_cache.watermark(session)
    assert trace_cache.refresh_changed(
        session, base_url=BASE, renderings=RENDERINGS, since=mark
    ) == (mark, 0)
    plain, drone, milled = (record[n].code for n in ("plain", "drone", "milled"))

    factory.entry(record["fields"][0], activity="observe")  # a line in the plain lot's diary
    assert not fresh_everywhere(session, plain) and not fresh_everywhere(session, milled)
    mark, built = trace_cache.refresh_changed(
        session, base_url=BASE, renderings=RENDERINGS, since=mark
    )
    assert built == 2  # the plain lot and the milled lot made from it; not the drone lot
    assert all(fresh_everywhere(session, c) for c in (plain, drone, milled))
    assert stored(db, milled, "json") == fresh(db, milled, "json")

    # A mission measured again over the drone lot's field.
    _sql(db, "UPDATE missions SET measured_at = :t WHERE id = :m",
         t=mark.measured_at + timedelta(minutes=5), m=record["mission"].id)  # fmt: skip
    _sql(db, "UPDATE mission_fields SET coverage_pct = 50 WHERE mission_pk = :m",
         m=record["mission"].id)  # fmt: skip
    mark, built = trace_cache.refresh_changed(
        session, base_url=BASE, renderings=RENDERINGS, since=mark
    )
    assert built == 2  # the drone lot and the milled lot
    assert all(fresh_everywhere(session, c) for c in (plain, drone, milled))
    assert trace_cache.refresh_changed(
        session, base_url=BASE, renderings=RENDERINGS, since=mark
    ) == (mark, 0)


def test_the_command_follows_the_diaries_until_stopped(db, session, factory, record):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    url = db.url.render_as_string(hide_password=False)
    cli = Path(sys.executable).with_name("agritrace")
    env = os.environ | {"AGRITRACE_PUBLIC_BASE_URL": BASE}
    proc = subprocess.Popen(
        [str(cli), "trace-snapshots", "--follow", "--interval", "0.2", "--database-url", url],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        plain = record["plain"].code
        every = [record[n].code for n in ("plain", "drone", "milled")]
        deadline = time.monotonic() + 60
        # The first pass done (all three stored), so that the change below comes after it.
        while not all(fresh_everywhere(session, c) for c in every):
            assert time.monotonic() < deadline, "the first pass did not store every lot"
            time.sleep(0.1)
        factory.entry(record["fields"][0], activity="observe")
        while not fresh_everywhere(session, plain) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert fresh_everywhere(session, plain), "the new diary line was not followed"
    finally:
        proc.send_signal(signal.SIGTERM)
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output
    assert "3 of 3 lots' traces built and stored" in output
    assert "2 lots' traces built again" in output


def test_the_rebuild_looks_at_lots_in_batches_and_builds_only_the_stale(
    db, session, record, builds, monkeypatch
):
    monkeypatch.setattr(trace_cache, "REFRESH_BATCH", 2)
    codes = [record[n].code for n in ("plain", "drone", "milled")]
    assert trace_cache.refresh(session, base_url=BASE, renderings=RENDERINGS) == (3, 3)
    assert snapshot.stale(session, codes=codes, variants=list(RENDERINGS), base_url=BASE) == []
    # One rendering of the drone lot gone; the plain lot's row edited: the milled lot rests
    # on it too.
    _sql(db, "DELETE FROM trace_snapshots WHERE lot_id = :l AND variant = 'page:en'",
         l=record["drone"].id)  # fmt: skip
    _sql(db, "UPDATE lots SET quantity_kg = 11 WHERE id = :l", l=record["plain"].id)
    session.commit()
    assert snapshot.stale(session, codes=codes, variants=list(RENDERINGS), base_url=BASE) == codes
    # Asked for the JSON alone, the drone lot still holds.
    assert snapshot.stale(session, codes=codes, variants=["json"], base_url=BASE) == [
        codes[0],
        codes[2],
    ]
    session.commit()
    builds.clear()
    assert trace_cache.refresh(session, base_url=BASE, renderings=RENDERINGS) == (3, 3)
    assert sorted(builds) == sorted(codes)
    for code in codes:
        assert fresh_everywhere(session, code)
        for variant in RENDERINGS:
            assert stored(db, code, variant) == fresh(db, code, variant), (code, variant)
    with pytest.raises(svc_errors.NotFound):
        trace_cache.refresh(session, base_url=BASE, renderings=RENDERINGS, codes=["NO-SUCH"])


def test_compiling_the_word_catalogues_leaves_the_code_version_alone():
    """A fresh clone compiles its ``.mo`` files on first use, in whichever process comes
    first: a server started before that and a rebuild started after must agree on the
    code's version, or every trace one stores looks stale to the other."""
    from traceability import words

    words.compile_catalogues()
    compiled = snapshot._code_version()
    for mo in words.LOCALE_DIR.glob("*/LC_MESSAGES/*.mo"):
        mo.unlink()
    assert snapshot._code_version() == compiled
    assert words.compile_catalogues()  # written again, for the tests that follow
