"""The ingester against a real broker: exactly once through crashes, broker restarts and sharing.

Mosquitto at 127.0.0.1:1883 (or an embedded broker where none runs) and a private
``mosquitto -p PORT`` for the restart test. Each test has a topic prefix of its own.
"""

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid

import orjson
import pytest
from sqlmodel import Session, select

from drone_ingest.client import Ingester
from drone_ingest.handlers import Message
from drone_ingest.mqtt import BrokerAddress
from drone_ingest.publisher import DronePublisher, Publisher
from tests.mqtt import (  # noqa: F401 - fixtures
    broker_fixture,
    count_points,
    count_rejects,
    end_event,
    forget_session,
    ingester,
    lawnmower,
    prefix_fixture,
    private_mosquitto_fixture,
    publish_points,
    start_event,
    stream,
    wait_until,
)
from traceability.models import IngestReject, Mission, MissionStatus


@pytest.fixture
def drones(factory):
    return [factory.drone(code=f"D{i}", swath_m=10.0) for i in range(3)]


def test_broker_url_parsing():
    a = BrokerAddress.parse("mqtt://user:secret@broker.example:1884")
    assert (a.host, a.port, a.username, a.password) == ("broker.example", 1884, "user", "secret")
    assert BrokerAddress.parse("mqtt://127.0.0.1").port == 1883
    with pytest.raises(ValueError):
        BrokerAddress.parse("http://127.0.0.1:1883")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://broker.example", ("broker.example", 1883, None, None, False)),
        ("mqtts://broker.example", ("broker.example", 8883, None, None, True)),
        ("mqtts://u:p%40ss@broker.example:9883", ("broker.example", 9883, "u", "p@ss", True)),
        ("tcp://10.0.0.5:1884", ("10.0.0.5", 1884, None, None, False)),
        ("ssl://10.0.0.5", ("10.0.0.5", 8883, None, None, True)),
        ("127.0.0.1:1885", ("127.0.0.1", 1885, None, None, False)),
        ("mqtt://ingester@[::1]:1883", ("::1", 1883, "ingester", None, False)),
    ],
)
def test_one_url_parser_for_ingester_and_publishers(url, expected):
    a = BrokerAddress.parse(url)
    assert (a.host, a.port, a.username, a.password, a.tls) == expected
    assert "p@ss" not in repr(a)  # a password never reaches a log line
    drone = DronePublisher(url, drone_id="D0", prefix="agri")  # not connected
    assert (drone.host, drone.port) == expected[:2]


@pytest.mark.parametrize("url", ["ws://h:1883", "mqtt://", "mqtt://h:port", "mqtt://h:99999"])
def test_broker_url_mistakes_are_named(url):
    with pytest.raises(ValueError, match="MQTT URL"):
        BrokerAddress.parse(url)


def test_the_flying_missions_preview_waits_while_the_writer_is_behind():
    # No broker needed: the decision alone. Due at once, then every interval; put off
    # while the last batch was full, but never for more than ten intervals.
    ing = Ingester(mqtt_url=None, engine=None, open_measure_interval_s=30.0)
    # Whole seconds, whose sums are exact (the clock's own value plus 30 may round below).
    ing._open_measured_at = 1000.0
    start = ing._open_measured_at + 30.0
    assert ing._preview_due(start)
    ing._open_measured_at = start
    assert not ing._preview_due(start + 29.0)
    assert ing._preview_due(start + 31.0)
    ing._lanes[0].behind = True
    assert not ing._preview_due(start + 31.0)
    assert not ing._preview_due(start + 299.0)
    assert ing._preview_due(start + 300.0)
    ing._lanes[0].behind = False
    assert ing._preview_due(start + 31.0)


def test_the_flying_missions_preview_waits_while_the_writer_is_busy():
    # Busy: more than three quarters of the last second spent storing batches, each
    # batch small enough that none was full (so the writer is never "behind").
    ing = Ingester(mqtt_url=None, engine=None, open_measure_interval_s=30.0)
    ing._open_measured_at = 1000.0
    now = 1030.0
    # 0.2 s of batches then 0.05 s idle, five times over the last 1.25 s: 0.8 s stored
    # in the last second (the oldest batch, 1028.75–1028.95, lies before it).
    ing._lanes[0].commits.extend((now - 1.25 + 0.25 * i, now - 1.05 + 0.25 * i) for i in range(5))
    assert not ing._preview_due(now)
    assert ing._preview_due(now + 0.2)  # 0.6 s of the second before it: not busy
    # A batch still being stored counts up to now: 0.6 s, and 0.2 s of the one in hand.
    ing._lanes[0].committing_since = now
    assert not ing._preview_due(now + 0.2)
    ing._lanes[0].committing_since = None
    # Put off ten intervals at most, however busy.
    ing._lanes[0].commits.append((1299.0, 1300.0))
    assert not ing._preview_due(1299.5)
    assert ing._preview_due(1300.0)


def test_previews_wait_while_the_writer_has_a_backlog():
    # Between chunks of previews the measurer waits while more than a quarter of a batch
    # (here 2 of 8 messages) waits for the writer: until the writer has taken it...
    ing = Ingester(mqtt_url=None, engine=None, batch_size=8)
    for seq in range(5):
        ing._queue.put(_point(seq))

    def writer() -> None:
        time.sleep(0.1)
        ing._lanes[0].take_arrived(0)  # 5 into the writer's own backlog: still waiting
        time.sleep(0.1)
        for _ in range(3):
            ing._lanes[0].backlog.popleft()  # stored: 2 left, a quarter of a batch

    threading.Thread(target=writer, daemon=True).start()
    assert ing._yield_to_writer(30.0) is False
    assert ing._writer_backlog() == 2
    # ... or a mission ends (measured first), or the time allowed runs out.
    ing._queue.put(_point(5))
    threading.Timer(0.05, ing._measure_now.set).start()
    assert ing._yield_to_writer(30.0) is True
    ing._measure_now.clear()
    assert ing._yield_to_writer(0.05) is False and ing._writer_backlog() == 3
    # A writer with little waiting is not waited for at all.
    ing._lanes[0].backlog.popleft()
    assert ing._yield_to_writer(30.0) is False


def test_the_writer_is_behind_while_its_batches_fill_up():
    ing = Ingester(mqtt_url=None, engine=None, batch_size=2, flush_ms=1)
    for seq in range(3):
        ing._queue.put(_point(seq))
    (lane,) = ing._lanes
    assert len(ing._next_batch(lane)) == 2 and lane.behind  # full: more was waiting
    assert len(ing._next_batch(lane)) == 1 and not lane.behind
    assert ing._next_batch(lane) == [] and not lane.behind


class _WaitsRecorded(queue.SimpleQueue):
    """The network thread's queue, recording how long the writer waited on it."""

    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def get(self, block=True, timeout=None):
        self.waits.append(timeout)
        return super().get(block, timeout)


def _point(seq: int) -> Message:
    return Message(topic="agri/drones/D1/telemetry", payload=b'{"seq": %d}' % seq)


def test_a_busy_writer_takes_what_waited_without_lingering():
    # Messages that queued while the last batch was stored go at once: the writer does
    # not wait the flush time for more (that would add it to every point's delay).
    ing = Ingester(mqtt_url=None, engine=None, batch_size=100, flush_ms=5000)
    waits = ing._lanes[0].queue = _WaitsRecorded()
    for seq in range(3):
        ing._queue.put(_point(seq))
    assert len(ing._next_batch(ing._lanes[0])) == 3
    assert waits.waits == []  # taken as they were, never waited on


def test_an_idle_writer_lingers_for_more_after_a_first_message():
    # At a slow rate a writer that found nothing waits for a first message, then lingers
    # (up to the flush time) so that the next ones share its commit.
    ing = Ingester(mqtt_url=None, engine=None, batch_size=100, flush_ms=1500)
    waits = ing._lanes[0].queue = _WaitsRecorded()

    def send() -> None:
        time.sleep(0.02)
        ing._queue.put(_point(0))
        time.sleep(0.05)
        ing._queue.put(_point(1))

    threading.Thread(target=send, daemon=True).start()
    batch: list[Message] = []
    for _ in range(100):  # the first message may come after a first wait of 0.1 s
        batch = ing._next_batch(ing._lanes[0])
        if batch:
            break
    assert [m.payload for m in batch] == [b'{"seq": 0}', b'{"seq": 1}']
    assert any(w and w > 1.0 for w in waits.waits)  # lingered, within the flush time


def test_stream_with_repeats_is_stored_exactly_once(broker, db, prefix, drones):
    ing = ingester(broker.url, db, prefix, share_group=broker.share_group)
    pub = Publisher(mqtt_url=broker.url)
    try:
        points = {d.code: stream(400, mission_id=f"M-{prefix}-{d.code}") for d in drones}
        for code, pts in points.items():
            publish_points(pub, prefix, code, pts, per_message=40)
            publish_points(pub, prefix, code, pts[100:250], per_message=25)  # a re-sent stretch
        pub.flush()
        wait_until(lambda: count_points(db) == (1200, 1200), what="1200 points")
        time.sleep(0.3)  # any straggler would show up as an extra row
        assert count_points(db) == (1200, 1200)
        assert count_rejects(db) == 0
        with Session(db) as s:
            counts = {m.drone_code: m.point_count for m in s.exec(select(Mission)).all()}
        assert counts == {"D0": 400, "D1": 400, "D2": 400}
    finally:
        pub.close()
        ing.stop()
        forget_session(broker.url, ing.client_id)
    assert ing.stats.stored == 1200 and ing.stats.duplicates == 3 * 150


def test_end_event_measures_and_late_points_remeasure(broker, db, prefix, factory):
    factory.drone(code="DM", swath_m=10.0)
    factory.field(code="F-MQTT", x0=0, y0=0, width=100, height=200)
    factory.input(code="PM", max_dose_per_ha=100)
    mid = f"M-{prefix}"
    points = lawnmower(mission_id=mid)
    ing = ingester(broker.url, db, prefix, share_group=broker.share_group)
    pub = Publisher(mqtt_url=broker.url)
    try:
        base = f"{prefix}/drones/DM"
        pub.publish(
            f"{base}/mission", orjson.dumps(start_event(mid, product_code="PM", swath_m=10.0))
        )
        publish_points(pub, prefix, "DM", points[:300])
        pub.publish(f"{base}/mission", orjson.dumps(end_event(mid, points)))
        pub.flush()

        def treated() -> float | None:
            with Session(db) as s:
                m = s.exec(select(Mission).where(Mission.mission_id == mid)).first()
                return m.treated_area_ha if m is not None and not m.dirty else None

        wait_until(lambda: treated() is not None, what="the mission to be measured")
        first = treated()
        assert 0.5 < first < 2.0
        publish_points(pub, prefix, "DM", points[300:])  # late points after the end event
        pub.flush()
        wait_until(lambda: (treated() or 0) > 1.98, what="the late points to be measured")
        assert treated() == pytest.approx(2.0, rel=0.01)
    finally:
        pub.close()
        ing.stop()
        forget_session(broker.url, ing.client_id)


def test_bad_input_over_mqtt_is_kept_and_ingester_goes_on(broker, db, prefix, drones):
    ing = ingester(broker.url, db, prefix, share_group=broker.share_group)
    pub = Publisher(mqtt_url=broker.url)
    point = stream(1, mission_id=f"M-{prefix}")[0]
    bad = [
        ("telemetry", b"not json at all"),
        ("telemetry", orjson.dumps(point | {"lat": "x"})),
        ("telemetry", orjson.dumps({k: v for k, v in point.items() if k != "seq"})),
        ("telemetry", orjson.dumps(point)[:-1] + b',"alt_m":NaN}'),
        ("telemetry", orjson.dumps(point | {"lon": 200.0})),
        ("telemetry", orjson.dumps(point | {"flow_lpm": -3.0})),
        ("telemetry", b"[" + b"0," * 600_000 + b"0]"),
        ("weather", orjson.dumps(point)),
    ]
    try:
        for kind, payload in bad:
            pub.publish(f"{prefix}/drones/D0/{kind}", payload)
        pub.publish(f"{prefix}/drones/D0/telemetry", orjson.dumps(point))
        pub.flush()
        wait_until(lambda: count_rejects(db) == len(bad), what="every bad message kept")
        wait_until(lambda: count_points(db) == (1, 1), what="the good point after the bad ones")
        with Session(db) as s:
            kept = list(s.exec(select(IngestReject)).all())
        assert f"{prefix}/drones/D0/weather" in {r.topic for r in kept}
        assert all(r.reason for r in kept)
        assert any("more than the" in r.reason for r in kept)
    finally:
        pub.close()
        ing.stop()
        forget_session(broker.url, ing.client_id)


def test_two_ingesters_on_one_shared_subscription_store_each_point_once(broker, db, prefix, drones):
    if not broker.shared:
        pytest.skip("the embedded broker has no shared subscriptions")
    group = f"g{uuid.uuid4().hex[:8]}"
    a = ingester(broker.url, db, prefix, share_group=group, batch_size=200)
    b = ingester(broker.url, db, prefix, share_group=group, batch_size=200)
    pub = Publisher(mqtt_url=broker.url)
    try:
        total = 0
        for d in drones:
            pts = stream(1000, mission_id=f"M-{prefix}-{d.code}")
            publish_points(pub, prefix, d.code, pts, per_message=20)
            publish_points(pub, prefix, d.code, pts[::7], per_message=20)  # repeats
            total += len(pts)
        pub.flush()
        wait_until(lambda: count_points(db) == (total, total), timeout=60, what=f"{total} points")
        time.sleep(0.3)
        assert count_points(db) == (total, total)
    finally:
        pub.close()
        a.stop()
        b.stop()
        forget_session(broker.url, a.client_id)
        forget_session(broker.url, b.client_id)
    # Both members of the group did part of the work, and together all of it, once.
    assert a.stats.messages > 0 and b.stats.messages > 0
    assert a.stats.stored + b.stats.stored == total


def _run_ingest(url: str, db, prefix: str, client_id: str, group: str, log) -> subprocess.Popen:
    env = os.environ | {
        "AGRITRACE_DATABASE_URL": db.url.render_as_string(hide_password=False),
        "AGRITRACE_MQTT_URL": url,
        "AGRITRACE_TOPIC_PREFIX": prefix,
        "AGRITRACE_INGEST_BATCH_SIZE": "300",
        "AGRITRACE_INGEST_SHARE_GROUP": group,
    }
    return subprocess.Popen(
        [sys.executable, "-m", "agritrace", "ingest", "--client-id", client_id],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )


def test_sigkill_mid_stream_then_restart_stores_every_point_once(
    broker, db, prefix, drones, tmp_path
):
    client_id = f"test-kill-{prefix}"
    log = (tmp_path / "ingest.log").open("wb")
    total = 6000
    points = stream(total, mission_id=f"M-{prefix}")
    proc = _run_ingest(broker.url, db, prefix, client_id, broker.share_group, log)
    pub = Publisher(mqtt_url=broker.url)
    try:
        # The persistent session exists once the ingester has subscribed: until then, a
        # message has nobody to go to. Send the first point until it is stored.
        deadline = time.monotonic() + 30
        while count_points(db)[0] == 0:
            assert time.monotonic() < deadline, "the ingester did not start"
            pub.publish(f"{prefix}/drones/D0/telemetry", orjson.dumps(points[0]))
            pub.flush()
            time.sleep(0.2)

        def publish_rest() -> None:
            for i in range(1, total, 20):
                pub.publish(f"{prefix}/drones/D0/telemetry", orjson.dumps(points[i : i + 20]))
                time.sleep(0.002)

        sender = threading.Thread(target=publish_rest)
        sender.start()
        wait_until(lambda: count_points(db)[0] > 600, timeout=30, what="part of the stream stored")
        proc.send_signal(signal.SIGKILL)  # mid-stream, with batches in flight
        proc.wait(10)
        stored_at_kill = count_points(db)[0]
        sender.join()
        pub.flush()
        assert stored_at_kill < total, "the stream ended before the kill; nothing was tested"
        proc = _run_ingest(broker.url, db, prefix, client_id, broker.share_group, log)
        wait_until(
            lambda: count_points(db)[0] >= total, timeout=60, what=f"{total} points after restart"
        )
        time.sleep(0.5)
        assert count_points(db) == (total, total)
        with Session(db) as s:
            m = s.exec(select(Mission).where(Mission.mission_id == f"M-{prefix}")).one()
            assert m.point_count == total
        assert count_rejects(db) == 0
    finally:
        pub.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        forget_session(broker.url, client_id)
    assert proc.returncode == 0  # SIGTERM stops it cleanly


def test_broker_restart_loses_nothing(private_mosquitto, db, prefix, drones):
    url = private_mosquitto.url
    ing = ingester(url, db, prefix, share_group="agritrace", client_id=f"test-restart-{prefix}")
    pts = stream(3000, mission_id=f"M-{prefix}")
    try:
        # 1) The broker restarts under a running ingester, which reconnects on its own;
        #    what the broker had accepted before (queued or in flight) is delivered after.
        pub = Publisher(mqtt_url=url)
        publish_points(pub, prefix, "D0", pts[:1000], per_message=25)
        pub.close()
        generation = ing.generation
        private_mosquitto.restart()
        # Mosquitto does not queue for a restored session until its client is back
        # (eclipse-mosquitto/mosquitto#769), so publish again once it is.
        wait_until(lambda: ing.generation > generation and ing.wait_ready(0), what="reconnection")
        pub = Publisher(mqtt_url=url)
        publish_points(pub, prefix, "D0", pts[1000:2000], per_message=25)
        pub.close()
        wait_until(lambda: count_points(db) == (2000, 2000), timeout=60, what="2000 points")
        # 2) Messages queued for the stopped ingester survive a broker restart.
        ing.stop()
        pub = Publisher(mqtt_url=url)
        publish_points(pub, prefix, "D0", pts[2000:], per_message=25)
        pub.close()
        private_mosquitto.restart()
        ing = ingester(url, db, prefix, share_group="agritrace", client_id=ing.client_id)
        wait_until(lambda: count_points(db) == (3000, 3000), timeout=60, what="the queued points")
        with Session(db) as s:
            m = s.exec(select(Mission).where(Mission.mission_id == f"M-{prefix}")).one()
            assert m.point_count == 3000 and m.status is MissionStatus.open
    finally:
        ing.stop()


class _AckRecorder(Ingester):
    """An ingester with no broker that records what it would acknowledge."""

    def __init__(self, **kw) -> None:
        super().__init__(mqtt_url=None, engine=None, **kw)
        self.acked: list[Message] = []

    def _ack(self, messages: list[Message]) -> None:
        self.acked.extend(messages)


def test_an_end_event_is_stored_ahead_of_the_backlog_but_acknowledged_in_turn():
    # No broker needed: the order of storing and of acknowledging alone.
    ing = _AckRecorder(batch_size=1000, flush_ms=1)
    arrived = [
        Message(topic="agri/drones/D1/telemetry", payload=b'{"seq": 0}', mid=1),
        Message(topic="agri/drones/D2/telemetry", payload=b'{"seq": 0}', mid=2),
        Message(topic="agri/drones/D1/telemetry", payload=b'{"seq": 1}', mid=3),
        Message(topic="agri/drones/D2/mission", payload=b'{"event": "end"}', mid=4),
        Message(topic="agri/drones/D2/telemetry", payload=b'{"seq": 1}', mid=5),
        Message(topic="agri/drones/D1/telemetry", payload=b'{"seq": 2}', mid=6),
    ]
    for message in arrived:
        ing._queue.put(message)
    first = ing._next_batch(ing._lanes[0])
    # D2's mission with every point sent before its end, ahead of D1's points.
    assert [m.mid for m in first] == [2, 4]
    ing._settle(first)
    assert ing.acked == []  # message 1 arrived first and is not stored yet
    rest = ing._next_batch(ing._lanes[0])
    assert [m.mid for m in rest] == [1, 3, 5, 6]
    ing._settle(rest)
    assert [m.mid for m in ing.acked] == [1, 2, 3, 4, 5, 6]
    assert ing._next_batch(ing._lanes[0]) == []


def test_each_drone_keeps_to_one_lane_and_acknowledgements_keep_the_arrival_order():
    # Two writers: each drone's messages all go to one lane, in the order they came; a
    # lane that stores its batch first still waits, for its acknowledgements, for the
    # messages of the other lane that arrived before them.
    ing = _AckRecorder(batch_size=1000, flush_ms=1, writers=2)
    drones = [f"D{i}" for i in range(40)]
    arrived = [
        Message(topic=f"agri/drones/{d}/telemetry", payload=b'{"seq": %d}' % seq, mid=mid)
        for mid, (seq, d) in enumerate(((seq, d) for seq in range(3) for d in drones), 1)
    ]
    for message in arrived:
        ing._queue.put(message)
    batches = [ing._next_batch(lane) for lane in ing._lanes]
    lane_of = {}
    for i, batch in enumerate(batches):
        for message in batch:
            assert lane_of.setdefault(message.topic, i) == i
    assert sorted(m.mid for b in batches for m in b) == list(range(1, 121))
    # 40 drones fall to both lanes (the chance that all fall to one is 2 in 2**40).
    assert all(batches)
    for batch in batches:  # in each lane, a drone's points in the order they came
        seen: dict[str, list[int]] = {}
        for message in batch:
            seen.setdefault(message.topic, []).append(message.mid)
        assert all(mids == sorted(mids) for mids in seen.values())
    # The lane without message 1 stores first: nothing may be acknowledged yet.
    first, second = sorted(batches, key=lambda b: 1 in {m.mid for m in b})
    ing._settle(first)
    assert ing.acked == []
    ing._settle(second)
    assert [m.mid for m in ing.acked] == list(range(1, 121))
