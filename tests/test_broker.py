"""The embedded broker speaks enough MQTT for paho clients, the ingester and the simulator."""

import queue
import time
import uuid
from collections.abc import Iterator

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from drone_ingest.broker import SUPPORTS_SHARED_SUBSCRIPTIONS, EmbeddedBroker

WAIT_S = 10.0


@pytest.fixture(scope="module")
def broker() -> Iterator[EmbeddedBroker]:
    b = EmbeddedBroker()
    b.start()
    yield b
    b.stop()


class Client:
    """A paho client that queues what it receives, for assertions."""

    def __init__(
        self, broker: EmbeddedBroker, *, client_id=None, clean=True, will=None, subscribe=()
    ):
        self.client_id = client_id or f"test-{uuid.uuid4().hex[:8]}"
        self.messages: queue.Queue = queue.Queue()
        self.connected: queue.Queue = queue.Queue()
        self.subscribe_topics = list(subscribe)
        self.broker = broker
        self.clean = clean
        self.will = will
        self.paho = self._make()

    def _make(self) -> mqtt.Client:
        c = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=self.client_id, clean_session=self.clean
        )
        if self.will:
            c.will_set(self.will[0], self.will[1], qos=1, retain=True)
        c.on_message = lambda _c, _u, m: self.messages.put((m.topic, m.payload, m.retain))
        c.on_connect = self._on_connect
        c.connect(self.broker.host, self.broker.port)
        c.loop_start()
        return c

    def _on_connect(self, c, _u, flags, rc, _p):
        if self.subscribe_topics:
            # Wait for the SUBACK so a test never publishes before the subscription exists.
            c.subscribe([(t, 1) for t in self.subscribe_topics])
        self.connected.put(flags.session_present)

    def wait_connected(self) -> bool:
        session_present = self.connected.get(timeout=WAIT_S)
        time.sleep(0.2)  # let the SUBACK land; nothing here measures time
        return session_present

    def get(self):
        return self.messages.get(timeout=WAIT_S)

    def none_within(self, seconds: float) -> bool:
        try:
            self.messages.get(timeout=seconds)
        except queue.Empty:
            return True
        return False

    def close(self):
        self.paho.disconnect()
        self.paho.loop_stop()


def test_qos1_round_trip(broker):
    sub = Client(broker, subscribe=["agri/drones/+/telemetry"])
    sub.wait_connected()
    pub = Client(broker)
    pub.wait_connected()
    info = pub.paho.publish("agri/drones/BL-DR-001/telemetry", b'{"seq": 1}', qos=1)
    info.wait_for_publish(WAIT_S)
    assert info.is_published()
    assert sub.get() == ("agri/drones/BL-DR-001/telemetry", b'{"seq": 1}', False)
    pub.paho.publish("agri/drones/BL-DR-001/mission", b"{}", qos=1).wait_for_publish(WAIT_S)
    assert sub.none_within(0.3), "a message on another topic reached the subscriber"
    sub.close()
    pub.close()


def test_retained_message_reaches_only_matching_late_subscribers(broker):
    pub = Client(broker)
    pub.wait_connected()
    pub.paho.publish(
        "agri/drones/BL-DR-002/status", b'{"online": true}', qos=1, retain=True
    ).wait_for_publish(WAIT_S)
    late = Client(broker, subscribe=["agri/drones/+/status"])
    late.wait_connected()
    assert late.get() == ("agri/drones/BL-DR-002/status", b'{"online": true}', True)
    # amqtt on its own hands a new client the retained messages of other clients' filters.
    other = Client(broker, subscribe=["elsewhere/#"])
    other.wait_connected()
    assert other.none_within(0.5)
    assert late.none_within(0.3), "the retained message was delivered twice"
    for c in (pub, late, other):
        c.close()


def test_last_will_is_published_and_retained_on_abrupt_disconnect(broker):
    topic = f"agri/drones/{uuid.uuid4().hex[:6]}/status"
    watcher = Client(broker, subscribe=[topic])
    watcher.wait_connected()
    drone = Client(broker, will=(topic, b'{"online": false}'))
    drone.wait_connected()
    drone.paho.socket().close()  # link lost: no DISCONNECT packet
    assert watcher.get() == (topic, b'{"online": false}', False)
    later = Client(broker, subscribe=[topic])
    later.wait_connected()
    assert later.get() == (topic, b'{"online": false}', True)
    drone.paho.loop_stop()
    watcher.close()
    later.close()


def test_clean_disconnect_does_not_fire_the_will(broker):
    topic = f"agri/drones/{uuid.uuid4().hex[:6]}/status"
    watcher = Client(broker, subscribe=[topic])
    watcher.wait_connected()
    drone = Client(broker, will=(topic, b'{"online": false}'))
    drone.wait_connected()
    drone.close()
    assert watcher.none_within(0.5)
    watcher.close()


def test_persistent_session_gets_what_was_published_while_away(broker):
    client_id = f"ingester-{uuid.uuid4().hex[:6]}"
    topic = f"agri/drones/{client_id}/telemetry"
    first = Client(broker, client_id=client_id, clean=False, subscribe=[topic])
    assert first.wait_connected() is False
    first.close()
    pub = Client(broker)
    pub.wait_connected()
    pub.paho.publish(topic, b'{"seq": 7}', qos=1).wait_for_publish(WAIT_S)
    back = Client(broker, client_id=client_id, clean=False)
    assert back.wait_connected() is True
    assert back.get() == (topic, b'{"seq": 7}', False)
    back.close()
    pub.close()


def test_shared_subscriptions_are_not_supported_as_documented(broker):
    # If amqtt learns $share, this fails: flip SUPPORTS_SHARED_SUBSCRIPTIONS and the docs.
    assert SUPPORTS_SHARED_SUBSCRIPTIONS is False
    sub = Client(broker, subscribe=["$share/agritrace/shared/#"])
    sub.wait_connected()
    pub = Client(broker)
    pub.wait_connected()
    pub.paho.publish("shared/x", b"1", qos=1).wait_for_publish(WAIT_S)
    assert sub.none_within(0.5)
    sub.close()
    pub.close()


def test_start_is_idempotent_and_stop_frees_the_port():
    b = EmbeddedBroker()
    url = b.start()
    assert url == b.start() == f"mqtt://127.0.0.1:{b.port}"
    b.stop()
    b.stop()
    again = EmbeddedBroker(port=b.port)
    assert again.start() == url
    again.stop()
