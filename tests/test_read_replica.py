"""Scans, the resolver and reports read from a real PostgreSQL streaming replica.

A primary and a hot standby of our own (``tests/pgcluster.py``: ``initdb``,
``pg_basebackup -R``, both run as the postgres OS user), the app bound to the primary with
the standby as its read replica. Which server ran a statement is counted by each server's
own ``pg_stat_statements``; the standby is made to lag with ``pg_wal_replay_pause()``.
"""

from collections.abc import Iterator
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests import pgcluster
from tests.conftest import ADMIN_TOKEN, BACKENDS, unavailable
from tests.factories import Factory
from traceability.api import trace_cache
from traceability.api.routes.trace import RENDERINGS
from traceability.db import make_engine, migrate, read_engine
from traceability.services import trace as svc
from traceability.services.trace import snapshot

BASE = "https://trace.example.vn"
GTIN8 = "96385074"  # check digit: 9·3+6+3·3+8+5·3+0+7·3 = 86 → 4
HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}

pytestmark = pytest.mark.skipif(
    "postgresql" not in BACKENDS, reason="a streaming replica is PostgreSQL's"
)


@pytest.fixture(scope="module")
def cluster() -> Iterator[pgcluster.Cluster]:
    try:
        c = pgcluster.start()
    except (OSError, RuntimeError, TimeoutError) as error:
        unavailable("a PostgreSQL primary and standby of our own", error)
    try:
        yield c
    finally:
        c.close()


@pytest.fixture(scope="module")
def engines(cluster) -> Iterator[tuple[Engine, Engine]]:
    primary = make_engine(cluster.url("primary"))
    migrate(primary)
    standby = make_engine(cluster.url("standby"))
    yield primary, standby
    for engine in (primary, standby):
        read_engine(engine).dispose()
        engine.dispose()


@pytest.fixture(scope="module")
def lots(engines) -> dict[str, str]:
    """Two lots on the primary: one whose trace a scan stores, one never scanned."""
    primary, _ = engines
    with Session(primary) as session:
        factory = Factory(session)
        product = factory.input(phi_days=14)
        field = factory.field()
        factory.season(field, sown_on=date(2026, 1, 5))
        factory.entry(field, activity="spray", input_code=product.code)
        scanned = factory.lot(fields_=[field], gtin=GTIN8).code
        unscanned = factory.lot(fields_=[field]).code
    return {"scanned": scanned, "unscanned": unscanned}


@pytest.fixture
def client(engines) -> Iterator[TestClient]:
    from traceability.api.main import create_app

    primary, standby = engines
    trace_cache.clear()
    trace_cache._primary_down_until.clear()
    with TestClient(create_app(engine=primary, replica=standby)) as c:
        yield c


def fresh(engine: Engine, code: str, variant: str = "json") -> bytes:
    """The trace of ``code`` built now from ``engine``, rendered as the route renders it."""
    svc.clear_cache()
    rendering = RENDERINGS[variant]
    with Session(engine) as session:
        data = svc.build_trace(session, code=code, base_url=BASE, with_map=rendering.with_map)
    return rendering.render(data)


def calls(cluster, server: str, like: str) -> int:
    """How many statements naming ``like`` ``server`` has completed (its pg_stat_statements)."""
    with cluster.admin(server).connect() as conn:
        return conn.execute(
            text(
                "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements "
                "WHERE query LIKE :like AND query NOT LIKE '%pg_stat_statements%'"
            ),
            {"like": f"%{like}%"},
        ).scalar()


def reset_counts(cluster) -> None:
    for server in ("primary", "standby"):
        with cluster.admin(server).connect() as conn:
            conn.execute(text("SELECT pg_stat_statements_reset()"))


def test_the_read_engine_is_the_standby(cluster, engines):
    primary, standby = engines
    with standby.connect() as conn:
        assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
    with primary.connect() as conn:
        assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is False


def test_scans_resolver_and_reports_are_read_from_the_standby(cluster, engines, lots, client):
    primary, _ = engines
    code = lots["scanned"]
    first = client.get(f"/api/v1/trace/{code}")  # stored on the primary by this first scan
    assert first.status_code == 200
    assert first.content == fresh(primary, code)
    cluster.wait_replayed()
    reset_counts(cluster)

    for _ in range(5):
        assert client.get(f"/api/v1/trace/{code}").content == first.content
    page = client.get(f"/t/{code}")
    assert page.status_code == 200 and "Lúa ST25" in page.text

    # The six scans' statement ran on the standby; the primary was asked its WAL position
    # six times and ran no scan (the page, never stored, was built and stored there).
    assert calls(cluster, "standby", "pg_last_wal_replay_lsn") == 6
    assert calls(cluster, "primary", "pg_current_wal_flush_lsn") == 6
    assert calls(cluster, "primary", "LEFT JOIN trace_snapshots") == 0
    assert calls(cluster, "primary", "INSERT INTO trace_snapshots") == 1
    cluster.wait_replayed()

    reset_counts(cluster)
    resolved = client.get(f"/01/{GTIN8}/10/{code}", follow_redirects=False)
    assert resolved.status_code == 307
    assert resolved.headers["location"] == f"{BASE}/t/{code}"
    assert calls(cluster, "standby", "FROM lots") == 1
    assert calls(cluster, "primary", "FROM lots") == 0

    reset_counts(cluster)
    report = client.get("/api/v1/reports/field-season", headers=HEADERS)
    assert report.status_code == 200, report.text
    assert calls(cluster, "standby", "FROM fields") >= 1
    assert calls(cluster, "primary", "FROM fields") == 0


def test_a_lagging_standby_never_serves_an_older_trace(cluster, engines, lots, client):
    primary, standby = engines
    code = lots["scanned"]
    before = client.get(f"/api/v1/trace/{code}").content
    cluster.wait_replayed()
    with cluster.admin("standby").connect() as conn:
        conn.execute(text("SELECT pg_wal_replay_pause()"))
    try:
        with primary.begin() as conn:
            conn.execute(
                text(
                    "UPDATE farmers SET name = 'Trần Thị Mới' WHERE id = "
                    "(SELECT farmer_id FROM fields f JOIN lot_fields lf ON lf.field_id = f.id "
                    " JOIN lots l ON l.id = lf.lot_id WHERE l.code = :c)"
                ),
                {"c": code},
            )
        # The standby, asked alone, would still call its stored trace fresh: the old one.
        raw = read_engine(standby).raw_connection()
        try:
            caught_up, alone = snapshot.scan_replica_dbapi(
                raw.driver_connection, lsn=None, code=code, variant="json", base_url=BASE
            )
        finally:
            raw.close()
        assert caught_up and alone.fresh and bytes(alone.body) == before

        after = client.get(f"/api/v1/trace/{code}")
        assert after.status_code == 200
        assert "Trần Thị Mới".encode() in after.content
        assert after.content == fresh(primary, code) != before
    finally:
        with cluster.admin("standby").connect() as conn:
            conn.execute(text("SELECT pg_wal_replay_resume()"))
    cluster.wait_replayed()
    reset_counts(cluster)
    # Caught up again: the standby serves the new trace (stored by the scan above).
    assert client.get(f"/api/v1/trace/{code}").content == after.content
    assert calls(cluster, "primary", "LEFT JOIN trace_snapshots") == 0


def test_scans_answer_from_the_standby_when_the_primary_is_gone(cluster, engines, lots, client):
    primary, standby = engines
    code, unscanned = lots["scanned"], lots["unscanned"]
    served = client.get(f"/api/v1/trace/{code}").content
    expected_unscanned = fresh(primary, unscanned)
    cluster.wait_replayed()
    cluster.ctl("primary", "stop")
    try:
        again = client.get(f"/api/v1/trace/{code}")
        assert again.status_code == 200 and again.content == served
        # A trace never stored is built from the standby (and not stored: it is read-only).
        built = client.get(f"/api/v1/trace/{unscanned}")
        assert built.status_code == 200 and built.content == expected_unscanned
        assert client.get(f"/t/{code}").status_code == 200
        assert client.get("/api/v1/trace/NO-SUCH-LOT").status_code == 404
    finally:
        cluster.ctl("primary", "start")
    with cluster.admin("standby").connect() as conn:
        assert conn.execute(text("SELECT pg_is_in_recovery()")).scalar() is True
