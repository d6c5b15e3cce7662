"""The simulated drones' side of MQTT: one paho connection per drone, publishing only.

Why a second module imports paho: ``drone_ingest/client.py`` is the ingester's only door
to the broker and stays so. This module plays the *drones*, the other end of the wire,
for ``agritrace simulate``, the demo, tests and benches; nothing in the ingester imports
it. Keeping it apart also keeps the ingester free of publishing concerns (Last Will,
retained status) that only a device has.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections import deque
from urllib.parse import unquote, urlsplit

import orjson
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

__all__ = ["DronePublisher", "PublishError", "parse_mqtt_url"]

_CONNECT_TIMEOUT_S = 10.0
# QoS 1 messages paho keeps un-acknowledged at once; the default (20) caps a fast
# simulation at one round trip per 20 messages.
_MAX_INFLIGHT = 1000


class PublishError(RuntimeError):
    """The broker cannot be reached or refused the connection."""


def parse_mqtt_url(url: str) -> tuple[str, int, str | None, str | None]:
    """Split ``mqtt://[user:pass@]host[:port]`` into host, port, user and password.

    Examples
    --------
    >>> parse_mqtt_url("mqtt://drone:s3cret@10.0.0.5:1884")
    ('10.0.0.5', 1884, 'drone', 's3cret')
    >>> parse_mqtt_url("mqtt://localhost")
    ('localhost', 1883, None, None)
    """
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
        raise ValueError(f"not an MQTT URL (expected mqtt://host:port): {url!r}")
    user = unquote(parts.username) if parts.username else None
    password = unquote(parts.password) if parts.password else None
    return parts.hostname, parts.port or 1883, user, password


def _status(online: bool) -> bytes:
    ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return orjson.dumps({"online": online, "ts": ts})


class DronePublisher:
    """One drone's MQTT connection: retained ``status`` (also its Last Will) and QoS 1 publishes.

    Parameters
    ----------
    mqtt_url : str
        ``mqtt://[user:pass@]host:port``.
    drone_id : str
        The drone's code, the second topic level.
    prefix : str
        First topic level.
    """

    def __init__(self, mqtt_url: str, *, drone_id: str, prefix: str):
        self.drone_id = drone_id
        self.base = f"{prefix}/drones/{drone_id}"
        self.host, self.port, user, password = parse_mqtt_url(mqtt_url)
        self._connected = threading.Event()
        self._refused: str | None = None
        self._pending: deque[mqtt.MQTTMessageInfo] = deque()
        # A random suffix so two simulators (or a restarted one) never kick each other off.
        client_id = f"sim-{drone_id}-{uuid.uuid4().hex[:6]}"
        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True
        )
        if user:
            self._client.username_pw_set(user, password)
        self._client.max_inflight_messages_set(_MAX_INFLIGHT)
        # The broker announces the drone offline if its link drops without a goodbye.
        self._client.will_set(f"{self.base}/status", _status(False), qos=1, retain=True)
        self._client.on_connect = self._on_connect

    def _on_connect(self, client, _userdata, _flags, reason_code, _props) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            return
        # Re-announced on every (re)connection, since the will may have replaced it.
        client.publish(f"{self.base}/status", _status(True), qos=1, retain=True)
        self._connected.set()

    def connect(self) -> None:
        """Connect and announce the drone online; raises ``PublishError`` if that fails."""
        try:
            self._client.connect(self.host, self.port, keepalive=30)
        except OSError as exc:
            raise PublishError(f"cannot reach MQTT broker {self.host}:{self.port}: {exc}") from exc
        self._client.loop_start()
        if not self._connected.wait(_CONNECT_TIMEOUT_S):
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
