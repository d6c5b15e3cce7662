"""``agritrace ingest`` as the province runs it: a real subprocess, a real Mosquitto, real
databases. Metrics give the real counts, logs are JSON lines, a storage fault never leaves
a silent hang, and SIGTERM commits what is in hand and exits 0.
"""

import contextlib
import signal
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, text

from drone_ingest.publisher import Publisher
from tests.conftest import PG_ADMIN_URL
from tests.mqtt import (  # noqa: F401 - fixtures
    T0,
    count_points,
    count_rejects,
    prefix_fixture,
    private_mosquitto_fixture,
    publish_points,
    stream,
    wait_until,
)
from tests.ops import IngestProcess, agritrace, http_get, sample

pytestmark = pytest.mark.integration

FAST_ENOUGH_S = 20.0


@pytest.fixture
def ingest(private_mosquitto, db, prefix, tmp_path):
    """A factory of ingester subprocesses on the private broker; all killed at the end."""
    started: list[IngestProcess] = []

    def make(client_id: str | None = None) -> IngestProcess:
        proc = IngestProcess(
            mqtt_url=private_mosquitto.url,
            engine=db,
            prefix=prefix,
            client_id=client_id or f"ops-{uuid.uuid4().hex[:8]}",
            log=tmp_path / f"ingest-{len(started)}.log",
        )
        started.append(proc)
        return proc

    yield make
    for proc in started:
        proc.kill()


def test_metrics_and_logs_give_the_real_counts(ingest, private_mosquitto, factory, db, prefix):
    drone = factory.drone().code
    ing = ingest().start()
    pub = Publisher(mqtt_url=private_mosquitto.url)
    points = stream(300)
    publish_points(pub, prefix, drone, points, per_message=50)  # 6 messages
    pub.publish(f"{prefix}/drones/{drone}/telemetry", b"{not json")
    pub.publish(f"{prefix}/drones/{drone}/bogus", b"{}")
    publish_points(pub, prefix, drone, points[:50], per_message=50)  # a re-sent message
    pub.close()
    wait_until(lambda: count_points(db)[0] == 300 and count_rejects(db) == 2, what="stored")
    wait_until(lambda: sample(ing.metrics(), "agritrace_ingest_messages_committed_total") == 9)

    m = ing.metrics()
    assert sample(m, "agritrace_ingest_messages_received_total") == 9
    assert sample(m, "agritrace_ingest_points_stored_total") == 300
    assert sample(m, "agritrace_ingest_duplicates_total") == 50
    assert sample(m, "agritrace_ingest_rejects_total", reason="not_json") == 1
    assert sample(m, "agritrace_ingest_rejects_total", reason="topic") == 1
    batches = sample(m, "agritrace_ingest_batch_commit_seconds_count")
    assert 1 <= batches <= 9
    assert sample(m, "agritrace_ingest_batch_commit_seconds_bucket", le="+Inf") == batches
    # The points were fixed from T0 to T0 + 299 s: the last batch's lag is the time since
    # its newest point, between those two.
    lag = sample(m, "agritrace_ingest_last_lag_seconds")
    now = datetime.now(UTC)
    assert (now - (T0 + timedelta(seconds=299))).total_seconds() - 60 < lag
    assert lag < (now - T0).total_seconds()
    assert 1 <= sample(m, "agritrace_ingest_lag_seconds_count") <= batches
    assert sample(m, "agritrace_ingest_ready") == 1

    status, body = ing.readyz()
    assert status == 200
    assert body["checks"] == {"subscribed": True, "writer_alive": True, "database": True}
    lines = ing.log_lines()
    assert all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    rejects = [line for line in lines if line["message"].startswith("reject:")]
    assert {(r["drone"], r["topic"].rsplit("/", 1)[1]) for r in rejects} == {
        (drone, "telemetry"),
        (drone, "bogus"),
    }
    assert all(r["reason"] and r["level"] == "info" for r in rejects)


def test_storage_fault_exits_non_zero_and_loses_nothing(
    ingest, private_mosquitto, factory, db, prefix
):
    drone = factory.drone().code
    ing = ingest().start()
    with tables_away(db, "telemetry", "ingest_rejects"):
        pub = Publisher(mqtt_url=private_mosquitto.url)
        publish_points(pub, prefix, drone, stream(5))
        pub.close()

        assert ing.wait(timeout=FAST_ENOUGH_S) == 1
    messages = [line["message"] for line in ing.log_lines()]
    assert any(m.startswith("the writer stopped: StorageFault") for m in messages)
    assert ing.readyz()[0] == 0  # gone, not hanging

    # Nothing was acknowledged, nothing kept as a reject: with the tables back, a restart
    # stores the points.
    ingest(ing.args[ing.args.index("--client-id") + 1]).start()
    wait_until(lambda: count_points(db) == (5, 5), what="the points after the restart")
    assert count_rejects(db) == 0


def test_database_away_turns_readyz_503_then_recovers(
    ingest, private_mosquitto, factory, db, prefix
):
    if db.dialect.name != "postgresql":
        pytest.skip("a SQLite file cannot be taken away from a process that has it open")
    drone = factory.drone().code
    factory.session.close()  # its connection is about to be cut
    ing = ingest().start()
    pub = Publisher(mqtt_url=private_mosquitto.url)
    with connections_refused(db):
        publish_points(pub, prefix, drone, stream(5))
        pub.flush()
        wait_until(lambda: ing.readyz()[0] == 503, what="readyz 503", timeout=FAST_ENOUGH_S)
        assert ing.readyz()[1]["checks"] == {
            "subscribed": True,
            "writer_alive": True,
            "database": False,
        }
        assert ing.proc.poll() is None
    wait_until(lambda: count_points(db) == (5, 5), what="the points, once the database is back")
    wait_until(lambda: ing.readyz()[0] == 200, what="readyz 200 again")
    assert count_rejects(db) == 0
    pub.close()


@contextlib.contextmanager
def connections_refused(engine):
    """PostgreSQL refuses every connection to ``engine``'s database for the block."""
    name = engine.url.database
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false'))
        conn.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
            {"n": name},
        )
    try:
        yield
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
        admin.dispose()
        engine.dispose()


@contextlib.contextmanager
def tables_away(engine, *tables: str):
    """Rename ``tables`` out of the ingester's sight for the block, then back."""
    with engine.begin() as conn:
        for table in tables:
            conn.execute(text(f"ALTER TABLE {table} RENAME TO {table}_away"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            for table in tables:
                conn.execute(text(f"ALTER TABLE {table}_away RENAME TO {table}"))


def _stream_until(pub, prefix, drone, points, stop: threading.Event, sent: list) -> None:
    for i in range(0, len(points), 10):
        if stop.is_set():
            return
        publish_points(pub, prefix, drone, points[i : i + 10], per_message=10)
        sent.append(i + 10)
        time.sleep(0.01)


def test_sigterm_mid_stream_commits_in_hand_and_exits_0(
    ingest, private_mosquitto, factory, db, prefix
):
    drone = factory.drone().code
    client_id = f"ops-term-{uuid.uuid4().hex[:6]}"
    ing = ingest(client_id).start()
    points = stream(8000)
    pub = Publisher(mqtt_url=private_mosquitto.url)
    stop, sent = threading.Event(), []
    feeder = threading.Thread(target=_stream_until, args=(pub, prefix, drone, points, stop, sent))
    feeder.start()
    wait_until(lambda: count_points(db)[0] >= 500, what="the stream under way")

    ing.signal(signal.SIGTERM)
    started = time.monotonic()
    status = ing.wait(timeout=FAST_ENOUGH_S)
    took = time.monotonic() - started
    stored_at_exit = count_points(db)
    assert status == 0
    assert feeder.is_alive(), "the stream must still run: the ingester stopped mid-stream"
    assert stored_at_exit[0] == stored_at_exit[1] and stored_at_exit[0] < len(points)
    committed = sample_from_log(ing, "stopped:")
    assert committed, "the ingester logs its totals when it stops cleanly"
    assert took < FAST_ENOUGH_S
    feeder.join()
    pub.close()

    ingest(client_id).start()  # the same session: what was not acknowledged comes again
    wait_until(lambda: count_points(db)[0] >= len(points), what="the rest after the restart")
    time.sleep(0.5)
    assert count_points(db) == (len(points), len(points))
    assert count_rejects(db) == 0


def sample_from_log(ing: IngestProcess, prefix: str) -> list[str]:
    """Messages of the ingester's log starting with ``prefix``."""
    return [line["message"] for line in ing.log_lines() if line["message"].startswith(prefix)]


def test_bad_log_format_is_refused(tmp_path):
    url = f"sqlite:///{tmp_path}/a.db"
    args = ["--mqtt-url", "mqtt://127.0.0.1:1", "--database-url", url, "--log-format", "xml"]
    proc = agritrace("ingest", *args, check=False)
    assert proc.returncode != 0
    assert "text or json" in proc.stderr


def test_the_ingesters_health_server_listens_on_this_machine_unless_told(monkeypatch):
    """/metrics names every drone's traffic: not on every interface by default."""
    from drone_ingest.health import HealthServer
    from traceability.config import Settings

    monkeypatch.delenv("AGRITRACE_INGEST_HTTP_HOST", raising=False)
    assert Settings(_env_file=None).ingest_http_host == "127.0.0.1"
    server = HealthServer(lambda: {"ok": True}).start()
    try:
        assert server._server.server_address[0] == "127.0.0.1"
        assert http_get(f"http://127.0.0.1:{server.port}/healthz")[0] == 200
    finally:
        server.stop()
    monkeypatch.setenv("AGRITRACE_INGEST_HTTP_HOST", "0.0.0.0")
    assert Settings(_env_file=None).ingest_http_host == "0.0.0.0"
