"""Ingest through RabbitMQ, for real: drones publish MQTT to its MQTT plugin (port 1884),
ingesters consume the durable quorum queue over AMQP (port 5672).

Each test has a topic prefix and a queue of its own, deleted afterwards. Where RabbitMQ
is not running the tests are skipped, except under ``CI=true`` (``.ci/run`` starts it
with ``deploy/rabbitmq/setup.sh``), where that is a failure.
"""

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator

import orjson
import pika
import pytest
from sqlmodel import Session, select

from drone_ingest.amqp import (
    DELIVERY_LIMIT,
    QUORUM,
    AmqpIngester,
    binding_key,
    dead_letter_queue,
    dead_letters,
    delete_queue,
    ensure_queue,
    routing_key_to_topic,
    topic_to_routing_key,
)
from drone_ingest.publisher import Publisher
from drone_ingest.service import make_ingester
from tests.conftest import unavailable
from tests.mqtt import (  # noqa: F401 - fixtures
    count_points,
    count_rejects,
    prefix_fixture,
    publish_points,
    reachable,
    stream,
    wait_until,
)
from tests.ops import ROOT
from traceability.config import Settings, get_settings
from traceability.models import IngestReject, Mission

AMQP_URL = os.environ.get("AGRITRACE_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/%2F")
RABBIT_MQTT_URL = os.environ.get("AGRITRACE_TEST_RABBIT_MQTT_URL", "mqtt://127.0.0.1:1884")


@pytest.fixture(scope="module")
def rabbit() -> None:
    """RabbitMQ's AMQP and MQTT listeners answer."""
    for port, what in ((5672, "AMQP"), (1884, "MQTT plugin")):
        if not reachable("127.0.0.1", port):
            unavailable(f"RabbitMQ ({what}) at 127.0.0.1:{port}", "connection refused")


@pytest.fixture
def queue(rabbit, prefix: str) -> Iterator[str]:
    """A queue of this test's own, bound to its prefix; deleted afterwards."""
    name = f"agritrace.ingest.{prefix}"
    ensure_queue(AMQP_URL, queue=name, prefix=prefix)
    yield name
    delete_queue(AMQP_URL, queue=name)


@pytest.fixture
def drones(factory):
    return [factory.drone(code=f"D{i}", swath_m=10.0) for i in range(3)]


@pytest.fixture
def pub(rabbit) -> Iterator[Publisher]:
    """A publisher on RabbitMQ's MQTT plugin, as a drone would connect."""
    publisher = Publisher(mqtt_url=RABBIT_MQTT_URL)
    yield publisher
    publisher.close()


def amqp_ingester(engine, prefix: str, queue: str, **kw) -> AmqpIngester:
    """A started AMQP ingester, consuming."""
    ing = AmqpIngester(
        amqp_url=AMQP_URL,
        engine=engine,
        prefix=prefix,
        queue=queue,
        client_id=f"test-{prefix}-{uuid.uuid4().hex[:6]}",
        measure_interval_s=0.2,
        **kw,
    )
    ing.start()
    if not ing.wait_ready(15):
        ing.stop()
        pytest.fail("the AMQP ingester did not start consuming")
    return ing


def test_routing_keys_turn_back_into_the_topics_the_drones_used():
    # RabbitMQ's MQTT plugin swaps "/" and "."; the handlers must see the MQTT topic.
    assert topic_to_routing_key("agri/drones/DJI.7/telemetry") == "agri.drones.DJI/7.telemetry"
    for topic in ("agri/drones/D0/telemetry", "vn/bac.lieu/drones/X.1/status"):
        assert routing_key_to_topic(topic_to_routing_key(topic)) == topic
    assert binding_key("/vn/bac-lieu/") == "vn.bac-lieu.drones.#"


def test_stream_with_repeats_is_stored_exactly_once(db, prefix, queue, drones, pub):
    ing = amqp_ingester(db, prefix, queue)
    try:
        for d in drones:
            pts = stream(400, mission_id=f"M-{prefix}-{d.code}")
            publish_points(pub, prefix, d.code, pts, per_message=40)
            publish_points(pub, prefix, d.code, pts[100:250], per_message=25)  # re-sent
        pub.flush()
        wait_until(lambda: count_points(db) == (1200, 1200), what="1200 points")
        # Every message was acknowledged: 3 x (10 + 6) of them, all counted.
        wait_until(lambda: ing.stats.messages == 48, what="48 messages handled")
        time.sleep(0.3)  # a straggler would show up as an extra row
        assert count_points(db) == (1200, 1200)
        assert count_rejects(db) == 0
        with Session(db) as s:
            counts = {m.drone_code: m.point_count for m in s.exec(select(Mission)).all()}
        assert counts == {"D0": 400, "D1": 400, "D2": 400}
    finally:
        ing.stop()
    assert ing.stats.stored == 1200 and ing.stats.duplicates == 3 * 150
    # Acknowledged after the commit: nothing is left in the queue for a redelivery.
    assert ensure_queue(AMQP_URL, queue=queue, prefix=prefix) == 0


def test_two_ingesters_split_a_stream_and_store_each_point_once(db, prefix, queue, drones, pub):
    # A prefetch of 2 x 50 messages each, well under the 345 sent: neither can take all.
    a = amqp_ingester(db, prefix, queue, batch_size=50)
    b = amqp_ingester(db, prefix, queue, batch_size=50)
    total = 0
    try:
        for d in drones:
            pts = stream(1000, mission_id=f"M-{prefix}-{d.code}")
            publish_points(pub, prefix, d.code, pts, per_message=10)
            publish_points(pub, prefix, d.code, pts[::7], per_message=10)  # repeats
            total += len(pts)
        pub.flush()
        wait_until(lambda: count_points(db) == (total, total), timeout=60, what=f"{total} points")
        time.sleep(0.3)
        assert count_points(db) == (total, total)
    finally:
        a.stop()
        b.stop()
    # Competing consumers: both did part of the work, and together all of it, once.
    assert a.stats.messages > 0 and b.stats.messages > 0
    assert a.stats.messages + b.stats.messages == 3 * (100 + 15)
    assert a.stats.stored + b.stats.stored == total


def test_poison_messages_become_rejects_and_ingest_goes_on(db, prefix, queue, drones, pub):
    ing = amqp_ingester(db, prefix, queue)
    point = stream(2, mission_id=f"M-{prefix}")
    bad = [
        b"not json at all",
        b'{"seq": 1\x00}',  # a raw NUL byte: PostgreSQL's text cannot hold it
        orjson.dumps(point[0] | {"mission_id": "M\x00X"}),  # NUL inside a JSON string
        b"\xff\xfe\x00\x00",  # not UTF-8
    ]
    try:
        pub.publish(f"{prefix}/drones/D0/telemetry", orjson.dumps(point[0]))
        for payload in bad:
            pub.publish(f"{prefix}/drones/D0/telemetry", payload)
        # A retained poison status, as a drone's Last Will could be.
        pub.publish(f"{prefix}/drones/D0/status", b'{"online": true\x00}', retain=True)
        pub.publish(f"{prefix}/drones/D0/telemetry", orjson.dumps(point[1]))
        pub.flush()
        wait_until(lambda: count_rejects(db) == len(bad) + 1, what="every bad message kept")
        wait_until(lambda: count_points(db) == (2, 2), what="the good points around the bad")
        with Session(db) as s:
            kept = list(s.exec(select(IngestReject)).all())
        assert sorted(r.topic.rsplit("/", 1)[1] for r in kept) == ["status"] + ["telemetry"] * 4
        assert all(r.reason for r in kept)
        assert ing.wait_ready(0)  # still consuming
        # Clear the retained message at the broker; the empty payload is one more reject.
        pub.publish(f"{prefix}/drones/D0/status", b"", retain=True)
        pub.flush()
        wait_until(lambda: count_rejects(db) == len(bad) + 2, what="the clearing message")
    finally:
        ing.stop()
    # Every message was acknowledged: after the stop nothing went back to the queue.
    assert ensure_queue(AMQP_URL, queue=queue, prefix=prefix) == 0


def _run_ingest(db, prefix: str, queue: str, log) -> subprocess.Popen:
    env = os.environ | {
        "AGRITRACE_DATABASE_URL": db.url.render_as_string(hide_password=False),
        "AGRITRACE_AMQP_URL": AMQP_URL,
        "AGRITRACE_INGEST_QUEUE": queue,
        "AGRITRACE_TOPIC_PREFIX": prefix,
        "AGRITRACE_INGEST_BATCH_SIZE": "300",
    }
    env.pop("AGRITRACE_MQTT_URL", None)
    return subprocess.Popen(
        [sys.executable, "-m", "agritrace", "ingest", "--client-id", f"kill-{prefix}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def test_sigkill_mid_stream_then_restart_stores_every_point_once(
    db, prefix, queue, drones, pub, tmp_path
):
    total = 6000
    points = stream(total, mission_id=f"M-{prefix}")
    log = (tmp_path / "ingest.log").open("wb")
    proc = _run_ingest(db, prefix, queue, log)
    topic = f"{prefix}/drones/D0/telemetry"

    def publish_all() -> None:
        for i in range(0, total, 20):
            pub.publish(topic, orjson.dumps(points[i : i + 20]))
            time.sleep(0.002)

    sender = threading.Thread(target=publish_all)
    try:
        # The queue exists already (the fixture declared it): nothing is lost while the
        # ingester starts, everything waits in the queue.
        sender.start()
        wait_until(lambda: count_points(db)[0] > 600, timeout=30, what="part of the stream")
        proc.send_signal(signal.SIGKILL)  # mid-stream, with batches in flight
        proc.wait(10)
        stored_at_kill = count_points(db)[0]
        sender.join()
        pub.flush()
        assert stored_at_kill < total, "the stream ended before the kill; nothing was tested"
        proc = _run_ingest(db, prefix, queue, log)
        wait_until(lambda: count_points(db)[0] >= total, timeout=60, what=f"{total} points")
        time.sleep(0.5)
        assert count_points(db) == (total, total)
        with Session(db) as s:
            m = s.exec(select(Mission).where(Mission.mission_id == f"M-{prefix}")).one()
            assert m.point_count == total
        assert count_rejects(db) == 0
    finally:
        if sender.is_alive():
            sender.join()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        log.close()
    assert proc.returncode == 0  # SIGTERM stops it cleanly
    assert ensure_queue(AMQP_URL, queue=queue, prefix=prefix) == 0


# ---- a message that crashes the ingester: delivery limit and dead letters


def _deliver_and_crash(queue: str) -> bytes | None:
    """Take one message as an ingester would and die before acknowledging it.

    To the broker a crash is a consumer whose connection closes with the delivery
    unacknowledged: the message goes back to the queue, its delivery count one higher.
    """
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        _method, _props, body = conn.channel().basic_get(queue, auto_ack=False)
    finally:
        conn.close()
    return body


def _deliveries_until_gone(queue: str, most: int = 20) -> int:
    """How many times the queue hands out its one message before it stops (at most ``most``)."""
    n = 0
    while n < most:
        if _deliver_and_crash(queue) is None:
            # The broker takes the last crash's message back on its own time: look again.
            time.sleep(0.5)
            if _deliver_and_crash(queue) is None:
                return n
        n += 1
    return most


def _publish_to_exchange(routing_key: str, body: bytes) -> None:
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish("amq.topic", routing_key, body, mandatory=True)
    finally:
        conn.close()


def _waiting(queue: str) -> int:
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        return conn.channel().queue_declare(queue, passive=True).method.message_count
    finally:
        conn.close()


def _dead_letters_cli(*args: str) -> str:
    """``agritrace dead-letters ARGS``' output (it must succeed)."""
    proc = subprocess.run(
        [sys.executable, "-m", "agritrace", "dead-letters", "--amqp-url", AMQP_URL, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_a_message_that_crashes_every_ingester_is_dead_lettered_then_replayed(
    db, prefix, queue, drones
):
    topic = f"{prefix}/drones/D0/telemetry"
    body = orjson.dumps(stream(1, mission_id=f"M-{prefix}")[0])
    _publish_to_exchange(topic_to_routing_key(topic), body)

    # The first delivery and DELIVERY_LIMIT (5) more: six crashes, then it is out.
    assert _deliveries_until_gone(queue) == DELIVERY_LIMIT + 1 == 6
    assert _waiting(queue) == 0
    # The broker moves it to the dead-letter queue on its own time (confirmed there).
    wait_until(lambda: _waiting(dead_letter_queue(queue)) == 1, what="the dead letter")

    # An operator looks at it (it stays), with the topic the drone used and the reason.
    for _ in range(2):
        wait_until(lambda: _waiting(dead_letter_queue(queue)) == 1, what="the letter back")
        [letter] = dead_letters(AMQP_URL, queue=queue)
        assert (letter.topic, letter.reason, letter.payload) == (topic, "delivery_limit", body)

    # The operator's command shows the same.
    wait_until(lambda: _waiting(dead_letter_queue(queue)) == 1, what="the letter back")
    shown = _dead_letters_cli("--queue", queue).splitlines()
    assert shown[0].split("\t")[:3] == [topic, "delivery_limit x1", f"{len(body)} B"]
    assert shown[-1] == f"1 dead letter(s) shown from {queue}.dead"

    # After the fix, replayed: a real ingester stores it, and the dead-letter queue is empty.
    ing = amqp_ingester(db, prefix, queue)
    try:
        wait_until(lambda: _waiting(dead_letter_queue(queue)) == 1, what="the letter back")
        replayed = _dead_letters_cli("--queue", queue, "--replay")
        assert replayed.strip() == f"1 dead letter(s) published again from {queue}.dead"
        wait_until(lambda: count_points(db) == (1, 1), what="the replayed point")
    finally:
        ing.stop()
    assert _waiting(dead_letter_queue(queue)) == 0
    wait_until(lambda: _waiting(queue) == 0, what="the replayed point acknowledged")


def test_a_queue_declared_without_a_limit_is_kept_and_a_policy_gives_it_one(db, rabbit, prefix):
    # The queue as an earlier agritrace declared it: quorum, no limit, no dead letters.
    name = f"agritrace.legacy.{prefix}"
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    conn.channel().queue_declare(name, durable=True, arguments=QUORUM)
    conn.close()
    rabbitmqctl = shutil.which("rabbitmqctl")
    policy = f"agritrace-dead-letters-{name}"
    try:
        # Redeclaring it with a limit is refused by RabbitMQ; it is used as it is.
        assert ensure_queue(AMQP_URL, queue=name, prefix=prefix) == 0
        ing = amqp_ingester(db, prefix, name)
        ing.stop()
        if rabbitmqctl is None or os.geteuid() != 0:
            unavailable("rabbitmqctl (as root)", "needed to set a policy")
        proc = subprocess.run(
            [ROOT / "deploy/rabbitmq/policy.sh"],
            env=os.environ | {"AGRITRACE_INGEST_QUEUE": name},
            capture_output=True,
            text=True,
        )
        assert proc.returncode == 0, proc.stderr
        _publish_to_exchange(topic_to_routing_key(f"{prefix}/drones/D0/telemetry"), b"{}")
        # The policy's limit holds on the queue declared without one.
        assert _deliveries_until_gone(name) == DELIVERY_LIMIT + 1
        wait_until(lambda: _waiting(dead_letter_queue(name)) == 1, what="the dead letter")
        [letter] = dead_letters(AMQP_URL, queue=name)
        assert (letter.reason, letter.payload) == ("delivery_limit", b"{}")
    finally:
        if rabbitmqctl:
            subprocess.run([rabbitmqctl, "-q", "clear_policy", policy], capture_output=True)
        delete_queue(AMQP_URL, queue=name)


def test_a_dead_letter_with_nowhere_to_go_stays_where_it_is(rabbit, prefix, queue):
    # A routing key no queue is bound to: replaying it would drop it at the exchange.
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        channel.basic_publish("", dead_letter_queue(queue), b"{}", mandatory=True)
    finally:
        conn.close()
    assert _dead_letters_cli("--queue", queue, "--replay").strip() == (
        f"0 dead letter(s) published again from {queue}.dead"
    )
    wait_until(lambda: _waiting(dead_letter_queue(queue)) == 1, what="the letter kept")


def test_the_delivery_limit_is_the_ingesters_setting(db, rabbit, prefix, monkeypatch):
    # An office that wants crashing messages out sooner (or later) sets it once for all
    # its ingesters; the queue they declare carries it.
    name = f"agritrace.limit.{prefix}"
    monkeypatch.setenv("AGRITRACE_INGEST_DELIVERY_LIMIT", "2")
    monkeypatch.setenv("AGRITRACE_INGEST_QUEUE", name)
    monkeypatch.setenv("AGRITRACE_TOPIC_PREFIX", prefix)
    get_settings.cache_clear()
    try:
        ing = make_ingester(db, amqp_url=AMQP_URL, client_id=f"test-{prefix}")
        assert (ing.queue, ing.delivery_limit) == (name, 2)
        ing.start()
        assert ing.wait_ready(15), "the AMQP ingester did not start consuming"
        ing.stop()
        _publish_to_exchange(topic_to_routing_key(f"{prefix}/drones/D0/telemetry"), b"{}")
        # The first delivery and two more, then it is a dead letter.
        assert _deliveries_until_gone(name) == 3
        wait_until(lambda: _waiting(dead_letter_queue(name)) == 1, what="the dead letter")
    finally:
        delete_queue(AMQP_URL, queue=name)
        get_settings.cache_clear()


def test_a_delivery_limit_out_of_range_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("AGRITRACE_INGEST_DELIVERY_LIMIT", "-1")
    with pytest.raises(ValueError, match="ingest_delivery_limit"):
        Settings()


def test_looking_at_dead_letters_leaves_them_in_their_order(rabbit, prefix):
    # An operator may look as often as they like: what they see, and what a replay will
    # publish, stays in the order the broker gave up on the messages.
    name = f"agritrace.order.{prefix}"
    ensure_queue(AMQP_URL, queue=name, prefix=prefix)
    bodies = [f'{{"n": {i}}}'.encode() for i in range(4)]
    conn = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        channel = conn.channel()
        channel.confirm_delivery()
        for body in bodies:
            channel.basic_publish("", dead_letter_queue(name), body)
    finally:
        conn.close()
    try:
        for _ in range(3):
            wait_until(lambda: _waiting(dead_letter_queue(name)) == 4, what="the letters back")
            assert [d.payload for d in dead_letters(AMQP_URL, queue=name)] == bodies
        assert [d.payload for d in dead_letters(AMQP_URL, queue=name, limit=2)] == bodies[:2]
    finally:
        delete_queue(AMQP_URL, queue=name)
