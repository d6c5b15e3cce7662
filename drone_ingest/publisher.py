"""The publishing side of MQTT: the drones' connections, and a plain publisher.

:class:`DronePublisher` plays one drone for ``agritrace simulate``, the demo, tests and
benches (retained ``status`` that doubles as its Last Will, QoS 1 publishes);
:class:`Publisher` puts raw payloads on any topic (tests, benchmarks). Nothing in the
ingester imports this module. Connections come from :mod:`drone_ingest.mqtt`, the one
module that imports paho, so publishers and ingester read broker URLs alike.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import deque

import orjson

from drone_ingest.mqtt import BrokerAddress, MessageInfo, new_client

__all__ = ["DronePublisher", "PublishError", "Publisher"]

_CONNECT_TIMEOUT_S = 10.0
# QoS 1 messages paho keeps un-acknowledged at once; the default (20) caps a fast
# simulation at one round trip per 20 messages.
_MAX_INFLIGHT = 1000


class PublishError(RuntimeError):
    """The broker cannot be reached or refused the connection."""


def _status(online: bool) -> bytes:
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return orjson.dumps({"online": online, "ts": ts})


class DronePublisher:
    """One drone's MQTT connection: retained ``status`` (also its Last Will) and QoS 1 publishes.

    Parameters
    ----------
    mqtt_url : str
        ``mqtt://[user:pass@]host:port`` (``mqtts://`` for TLS).
    drone_id : str
        The drone's code, the second topic level.
    prefix : str
        First topic level.
    """

    def __init__(self, mqtt_url: str, *, drone_id: str, prefix: str):
        self.drone_id = drone_id
        self.base = f"{prefix}/drones/{drone_id}"
        address = BrokerAddress.parse(mqtt_url)
        self.host, self.port = address.host, address.port
        self._connected = threading.Event()
        # Set by the broker's answer either way: a refusal is known at once, not after the
        # connect timeout.
        self._answered = threading.Event()
        self._refused: str | None = None
        self._pending: deque[MessageInfo] = deque()
        self._client = new_client(
            address,
            # A random suffix so two simulators (or a restarted one) never kick each other off.
            client_id=f"sim-{drone_id}-{uuid.uuid4().hex[:6]}",
            # The broker announces the drone offline if its link drops without a goodbye.
            will=(f"{self.base}/status", _status(False)),
            max_inflight=_MAX_INFLIGHT,
        )
        self._client.on_connect = self._on_connect

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            self._answered.set()
            return
        # Re-announced on every (re)connection, since the will may have replaced it.
        client.publish(f"{self.base}/status", _status(True), qos=1, retain=True)
        self._connected.set()
        self._answered.set()

    def connect(self) -> None:
        """Connect and announce the drone online; raises ``PublishError`` if that fails."""
        try:
            self._client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise PublishError(f"cannot reach MQTT broker {self.host}:{self.port}: {exc}") from exc
        self._client.loop_start()
        self._answered.wait(_CONNECT_TIMEOUT_S)
        if not self._connected.is_set():
            self._client.loop_stop()
            why = self._refused or "no answer"
            raise PublishError(
                f"MQTT broker {self.host}:{self.port} did not accept {self.drone_id}: {why}"
            )

    def publish(self, kind: str, payload: object) -> None:
        """Publish ``payload`` as JSON on ``{prefix}/drones/{drone_id}/{kind}`` with QoS 1."""
        info = self._client.publish(f"{self.base}/{kind}", orjson.dumps(payload), qos=1)
        self._pending.append(info)
        # Forget acknowledged messages as we go so the queue stays short.
        while self._pending and self._pending[0].is_published():
            self._pending.popleft()

    def flush(self, timeout: float = 30.0) -> int:
        """Wait until the broker has acknowledged every publish; returns how many are not."""
        deadline = time.monotonic() + timeout
        while self._pending:
            info = self._pending[0]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            try:
                info.wait_for_publish(remaining)
            except (RuntimeError, ValueError):
                # Raised when the message can no longer be sent (client disconnected).
                break
            if info.is_published():
                self._pending.popleft()
        return len(self._pending)

    def close(self, timeout: float = 30.0) -> int:
        """Flush, announce the drone offline (retained) and disconnect; returns unacked count."""
        left = self.flush(timeout)
        if self._connected.is_set():
            info = self._client.publish(f"{self.base}/status", _status(False), qos=1, retain=True)
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(5.0)
        self._client.disconnect()
        self._client.loop_stop()
        return left


class Publisher:
    """A plain QoS 1 publisher of raw payloads on any topic (tests, benchmarks).

    Connects at once and returns; :meth:`flush` waits until the broker has everything.
    """

    def __init__(
        self, *, mqtt_url: str, client_id: str = "", will: tuple[str, bytes] | None = None
    ) -> None:
        address = BrokerAddress.parse(mqtt_url)
        self._client = new_client(address, client_id=client_id, will=will, max_inflight=1000)
        # Queue without limit: a benchmark publishes its whole backlog before flushing.
        self._client.max_queued_messages_set(0)
        self._client.connect(address.host, address.port, keepalive=30)
        self._client.loop_start()
        self._pending: list[MessageInfo] = []

    def publish(
        self, topic: str, payload: bytes | str, *, qos: int = 1, retain: bool = False
    ) -> None:
        """Queue a message; :meth:`flush` waits until the broker has it."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain)
        if qos:
            self._pending.append(info)
            if len(self._pending) > 5000:
                self.flush()

    def flush(self, timeout: float = 60.0) -> None:
        """Wait until every queued QoS 1 message is acknowledged by the broker."""
        deadline = time.monotonic() + timeout
        for info in self._pending:
            info.wait_for_publish(max(0.001, deadline - time.monotonic()))
        self._pending = []

    def close(self) -> None:
        """Flush and disconnect."""
        self.flush()
        self._client.disconnect()
        self._client.loop_stop()
