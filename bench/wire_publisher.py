"""A lean QoS 1 publisher for benchmarks that simulate a whole fleet on the ingester's own
machine: MQTT 3.1.1 packets built by the standard's layout and written to one socket in
one call per batch.

A real fleet publishes from thousands of devices; simulated on the same two cores, paho's
road per message (a message record, a lock, a wake of its network thread) left the
publishers a large share of the CPU the ingester was measured on. This publisher does the
least a QoS 1 client must: one CONNECT, PUBLISH packets with packet identifiers, and a
thread that reads the broker's PUBACKs so that :meth:`WirePublisher.close` knows when the
broker has everything.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from urllib.parse import urlparse


def _length(n: int) -> bytes:
    """MQTT's remaining length: 7 bits a byte, the high bit saying "more" (section 2.2.3)."""
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def publish_packet(topic: bytes, payload: bytes, mid: int) -> bytes:
    """A PUBLISH at QoS 1, by the standard's layout (MQTT 3.1.1, section 3.3)."""
    body = len(topic).to_bytes(2, "big") + topic + mid.to_bytes(2, "big") + payload
    return b"\x32" + _length(len(body)) + body


def connect_packet(client_id: str) -> bytes:
    """A CONNECT with a clean session and a keep-alive of 300 s (MQTT 3.1.1, section 3.1):
    a benchmark's publisher sends every second, which keeps the connection alive."""
    cid = client_id.encode()
    body = b"\x00\x04MQTT\x04\x02" + (300).to_bytes(2, "big") + len(cid).to_bytes(2, "big") + cid
    return b"\x10" + _length(len(body)) + body


class WirePublisher:
    """One connection; :meth:`publish_many` writes a batch of messages in one call."""

    def __init__(self, mqtt_url: str, client_id: str) -> None:
        url = urlparse(mqtt_url)
        self._sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 1883))
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._sock.sendall(connect_packet(client_id))
        connack = self._read_exactly(4)
        if connack[0] != 0x20 or connack[3] != 0:
            raise ConnectionError(f"the broker refused the connection: CONNACK {connack.hex()}")
        self._mid = 0
        self.sent = 0
        self.acked = 0
        self._done = threading.Condition()
        self._reader = threading.Thread(target=self._read_acks, daemon=True)
        self._reader.start()

    def _read_exactly(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self._sock.recv(n - len(data))
            if not chunk:
                raise ConnectionError("the broker closed the connection")
            data += chunk
        return data

    def _read_acks(self) -> None:
        """Count PUBACKs (4 bytes each: 0x40, 2, the packet identifier)."""
        held = b""
        while True:
            try:
                chunk = self._sock.recv(65536)
            except OSError:
                return
            if not chunk:
                return
            held += chunk
            whole = len(held) - len(held) % 4
            packets, held = held[:whole], held[whole:]
            acks = sum(1 for (kind,) in struct.iter_unpack("B3x", packets) if kind == 0x40)
            with self._done:
                self.acked += acks
                self._done.notify_all()

    def publish_many(self, messages: list[tuple[bytes, bytes]]) -> None:
        """Write ``(topic, payload)`` pairs as QoS 1 PUBLISH packets in one call."""
        packets = []
        mid = self._mid
        for topic, payload in messages:
            mid = mid % 65535 + 1
            packets.append(publish_packet(topic, payload, mid))
        self._mid = mid
        self._sock.sendall(b"".join(packets))
        self.sent += len(packets)

    def close(self, timeout: float = 60.0) -> None:
        """Wait until the broker acknowledged everything sent, then disconnect."""
        deadline = time.monotonic() + timeout
        with self._done:
            while self.acked < self.sent:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{self.sent - self.acked} messages not acknowledged")
                self._done.wait(left)
        self._sock.sendall(b"\xe0\x00")  # DISCONNECT
        self._sock.close()
