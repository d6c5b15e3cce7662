"""The one module that imports paho: broker URLs and the MQTT client factory.

Every MQTT connection agritrace makes — the ingester's (:mod:`drone_ingest.client`) and
those of the publishers that play the drones (:mod:`drone_ingest.publisher`) — is built
by :func:`new_client` from a :class:`BrokerAddress`, so both understand the same URLs
(``mqtt://`` and ``mqtts://``, credentials, default ports) and speak the same protocol
version. Other modules use the clients it returns without importing paho themselves.
"""

from __future__ import annotations

import select
import ssl
import time
from dataclasses import dataclass, field
from itertools import islice
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

#: paho's types, for annotations elsewhere (paho itself is imported only here).
Client = mqtt.Client
MessageInfo = mqtt.MQTTMessageInfo

_SCHEMES = {"mqtt": False, "tcp": False, "mqtts": True, "ssl": True}


@dataclass(frozen=True)
class BrokerAddress:
    """Where the broker is, from ``mqtt://[user:pass@]host[:port]`` (``mqtts://`` for TLS)."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    tls: bool = False

    @classmethod
    def parse(cls, url: str) -> BrokerAddress:
        """Parse a broker URL; the port defaults to 1883, or 8883 with TLS.

        >>> BrokerAddress.parse("mqtt://u:p%40ss@10.0.0.5:1884")
        BrokerAddress(host='10.0.0.5', port=1884, username='u', tls=False)
        >>> BrokerAddress.parse("mqtts://broker.example").port
        8883
        >>> BrokerAddress.parse("localhost")
        BrokerAddress(host='localhost', port=1883, username=None, tls=False)
        """
        parts = urlsplit(url if "://" in url else f"mqtt://{url}")
        if parts.scheme not in _SCHEMES:
            raise ValueError(f"MQTT URL must start with mqtt:// or mqtts:// (got {url!r})")
        if not parts.hostname:
            raise ValueError(f"MQTT URL {url!r} names no host")
        tls = _SCHEMES[parts.scheme]
        try:
            port = parts.port
        except ValueError as exc:
            raise ValueError(f"MQTT URL {url!r} has a bad port") from exc
        return cls(
            host=parts.hostname,
            port=port or (8883 if tls else 1883),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            tls=tls,
        )


class ReadAhead:
    """A connected socket whose reads are served from one large ``recv``, and whose
    writes in one of paho's write loops go out in one ``send``.

    paho reads each packet in three or more ``recv`` calls (its first byte, its length a
    byte at a time, then the rest), each a system call that also gives up the
    interpreter. A stream of small messages, such as a fleet's one-point telemetry, spent
    more in those calls than in the packets. Here one ``recv`` takes whatever the socket
    holds (up to :attr:`CHUNK` bytes) and paho's reads are sliced from it. paho asks
    :meth:`pending` before it waits in ``select`` (a call it makes for TLS sockets, which
    buffer too), so bytes held here are read without waiting for the socket to turn
    readable again.

    paho also writes each packet with a ``send`` of its own: one acknowledgement a message.
    While its client has more packets queued behind the one being written, the bytes are
    kept here, and the last packet of the loop takes them all in one ``send``. A flush the
    socket cannot take at once waits for it (:attr:`FLUSH_S` at most, then the connection
    counts as lost; what it did not acknowledge is delivered again). Everything else goes
    to the socket itself.
    """

    __slots__ = ("_sock", "_held", "_at", "_queued", "_unsent", "read_at")
    CHUNK = 256 * 1024
    FLUSH_S = 10.0

    def __init__(self, sock, queued=None) -> None:
        self._sock = sock
        self._held = b""
        self._at = 0
        self._queued = queued  # paho's queue of packets to write, if known
        self._unsent: list[bytes] = []
        self.read_at = 0.0  # when the bytes held came (paho's clock)

    def recv(self, size: int) -> bytes:
        at = self._at
        if at >= len(self._held):
            data = self._sock.recv(self.CHUNK)  # BlockingIOError, SSLWantReadError: paho's
            if not data:
                return data  # the peer closed the connection
            self._held, at = data, 0
            self.read_at = mqtt.time_func()
        self._at = at + size
        return self._held[at : at + size]

    def send(self, data) -> int:
        if self._queued:  # more to write in this loop: keep it for the last one
            self._unsent.append(bytes(data))
            return len(data)
        if not self._unsent:
            return self._sock.send(data)
        self._unsent.append(bytes(data))
        out = b"".join(self._unsent)
        self._unsent.clear()
        self._send_all(out)
        return len(data)

    def _send_all(self, out: bytes) -> None:
        view = memoryview(out)
        deadline = time.monotonic() + self.FLUSH_S
        while view:
            try:
                view = view[self._sock.send(view) :]
            except (BlockingIOError, ssl.SSLWantWriteError, ssl.SSLWantReadError):
                if time.monotonic() > deadline:
                    raise OSError(f"the broker took no data for {self.FLUSH_S:g} s") from None
                select.select([], [self._sock], [], 0.1)

    def publishes(self):
        """The PUBLISH packets at QoS 0 and 1 held whole at the front, each taken as it
        is yielded: ``(first byte, topic, packet id, payload)``, by MQTT 3.1.1's layout
        (section 3.3). Stops before anything else (another kind of packet, QoS 2, one
        not yet read whole, one malformed), which paho reads as before."""
        held = self._held
        end = len(held)
        at = self._at
        while at < end:
            first = held[at]
            if first & 0xF0 != 0x30 or first & 0x04:  # not a PUBLISH, or QoS 2 (or 3)
                return
            # The remaining length: up to four bytes of seven bits, low first.
            i, length, shift = at + 1, 0, 0
            while True:
                if i >= end or shift > 21:
                    return
                byte = held[i]
                i += 1
                length |= (byte & 0x7F) << shift
                shift += 7
                if not byte & 0x80:
                    break
            stop = i + length
            if stop > end or length < 2:
                return
            topic_end = i + 2 + (held[i] << 8 | held[i + 1])
            if first & 0x02:  # QoS 1: a packet id follows the topic
                body = topic_end + 2
                if body > stop:
                    return
                mid = held[topic_end] << 8 | held[topic_end + 1]
            else:
                body, mid = topic_end, 0
            if topic_end == i + 2 or body > stop:  # no topic, or longer than the packet
                return
            self._at = at = stop
            yield first, held[i + 2 : topic_end], mid, held[body:stop]

    def pending(self) -> int:
        """Bytes read from the socket and not yet taken (with TLS's own, if any)."""
        own = getattr(self._sock, "pending", None)
        return max(0, len(self._held) - self._at) + (own() if own else 0)

    def __getattr__(self, name: str):
        return getattr(self._sock, name)


#: A PUBACK's fixed header; its packet id follows in two bytes (MQTT 3.1.1, section 3.4).
_PUBACK = bytes([mqtt.PUBACK, 2])
#: Packets paho's network loop reads in one pass, while the read-ahead holds their bytes.
READ_BURST = 256


class Publish:
    """A message read by the ingester's client without paho's parsing: what a consumer
    reads of paho's ``MQTTMessage`` (``topic`` decodes as paho's does, raising
    ``UnicodeDecodeError`` on a topic that is not UTF-8; ``_topic`` holds its bytes)."""

    __slots__ = ("_topic", "dup", "mid", "payload", "qos", "retain", "timestamp")
    properties = None  # MQTT 3.1.1 has none

    def __init__(self, first: int, topic: bytes, mid: int, payload: bytes, at: float) -> None:
        self._topic = topic
        self.payload = payload
        self.mid = mid
        self.qos = (first >> 1) & 3
        self.retain = bool(first & 0x01)
        self.dup = bool(first & 0x08)
        self.timestamp = at

    @property
    def topic(self) -> str:
        return self._topic.decode("utf-8")


class _ReadAheadClient(mqtt.Client):
    """paho's client reading and writing through :class:`ReadAhead`."""

    def _create_socket(self):
        return ReadAhead(super()._create_socket(), getattr(self, "_out_packet", None))

    _filtered = False  # whether any per-topic callback was added
    #: Called with each read's PUBLISH packets at QoS 0 and 1 at once, ``(first byte, topic
    #: bytes, packet id, payload)`` and the time of the read, instead of ``on_message`` for
    #: each, when set, acknowledging by hand and with no per-topic callback.
    on_publishes = None

    def message_callback_add(self, sub: str, callback) -> None:
        self._filtered = True
        super().message_callback_add(sub, callback)

    def _handle_on_message(self, message: mqtt.MQTTMessage) -> None:
        """paho's, but with no per-topic callbacks added, ``on_message`` at once: paho
        walked its empty table of them for every message (with the longer read below,
        about a tenth of the time to read and hand on a message: ``bench/paho_read.py``).
        A message's ``timestamp`` is when the read that completed it took place."""
        sock = self._sock
        if message.qos < 2 and isinstance(sock, ReadAhead):
            # Received when its last bytes were read: the same time for every message
            # one read of the socket brought, whichever road it was read by.
            message.timestamp = sock.read_at
        if self._filtered:
            super()._handle_on_message(message)
            return
        on_message = self.on_message
        if on_message is not None:
            self._call_back("on_message", on_message, self, self._userdata, message)

    def _call_back(self, name: str, callback, *args) -> None:
        """``callback(*args)`` as paho calls its callbacks: under its callback lock, an
        exception logged, and raised unless ``suppress_exceptions``."""
        with self._in_callback_mutex:
            try:
                callback(*args)
            except Exception as err:  # as paho does
                self._easy_log(mqtt.MQTT_LOG_ERR, "Caught exception in %s: %s", name, err)
                if not self.suppress_exceptions:
                    raise

    def ack_many(self, mids: list[int]) -> None:
        """Acknowledge the QoS 1 messages ``mids`` (taken by hand) as paho's ``ack`` does
        each, in one write: the PUBACKs together, one entry in paho's queue, one wake of
        its loop. paho's ``ack`` queues each alone and writes a byte to wake its loop,
        a system call that gives the interpreter up; the writer then waited for it back
        once for every message it acknowledged."""
        if mids and self._manual_ack:
            packet = b"".join([_PUBACK + mid.to_bytes(2, "big") for mid in mids])
            self._packet_queue(mqtt.PUBACK, packet, mids[-1], 1)

    def loop_read(self, max_packets: int = 1) -> mqtt.MQTTErrorCode:
        """paho's read of one packet, then of those whose bytes are already held, up to
        :data:`READ_BURST` in all. One pass of paho's loop for each message (its
        ``select``, its writes) gave the interpreter up each time and waited to get it
        back: with two writer threads running, the network thread read fewer than 4,500
        one-point messages a second.

        The held PUBLISH packets at QoS 0 and 1 are read here (:meth:`_read_publishes`),
        the rest by paho."""
        rc = super().loop_read(max_packets)
        left = READ_BURST - 1
        quick = self._protocol != mqtt.MQTTv5
        while left > 0:
            sock = self._sock
            if rc != mqtt.MQTTErrorCode.MQTT_ERR_SUCCESS or sock is None or not sock.pending():
                break
            if quick and self._in_packet["command"] == 0:  # paho is between packets
                read = self._read_publishes(sock, left)
                left -= read
                if read:
                    continue
            rc = super().loop_read(max_packets)
            left -= 1
        return rc

    def _read_publishes(self, sock: ReadAhead, most: int) -> int:
        """Up to ``most`` of the PUBLISH packets held whole, each handed on as paho would
        (its callbacks, its acknowledgement when not acknowledged by hand): how many.

        paho reads a packet a byte at a time through its state machine, decodes it with
        ``struct`` and builds a message and its delivery record (a lock and a condition):
        with the copying between them, most of the network thread's time for a one-point
        message (``bench/paho_read.py``). Skipped too: paho's debug line for each message.

        With :attr:`on_publishes` set, acknowledging by hand and no per-topic callback, the
        packets go to it in one call instead: no message object, no lock, no callback for
        each (``bench/paho_read.py``: 3.1–3.3 µs of CPU a one-point message against 5.8–6.2)."""
        now = sock.read_at
        hand_on = self.on_publishes
        if hand_on is not None and self._manual_ack and not self._filtered:
            taken = list(islice(sock.publishes(), most))
            read = len(taken)
            if taken:
                self._call_back("on_publishes", hand_on, taken, now)
        else:
            read = 0
            for first, topic, mid, payload in sock.publishes():
                self._handle_on_message(Publish(first, topic, mid, payload, now))
                if first & 0x02 and not self._manual_ack:
                    self._send_puback(mid)
                read += 1
                if read >= most:
                    break
        if read:
            with self._msgtime_mutex:
                self._last_bytes_received = mqtt.time_func()
        return read


def new_client(
    address: BrokerAddress,
    *,
    client_id: str = "",
    clean_session: bool = True,
    will: tuple[str, bytes] | None = None,
    max_inflight: int | None = None,
    read_ahead: bool = False,
) -> Client:
    """A paho client for ``address``, not yet connected.

    ``will`` is the Last Will ``(topic, payload)``, sent retained with QoS 1 when the
    connection drops without a goodbye. ``max_inflight`` raises paho's cap on QoS 1
    messages awaiting the broker's acknowledgement (20 by default). ``read_ahead`` reads
    the socket through :class:`ReadAhead` (a consumer of many small messages), where
    this paho builds its socket in ``_create_socket`` as 2.x does; otherwise as paho does.
    """
    factory = (
        _ReadAheadClient if read_ahead and hasattr(mqtt.Client, "_create_socket") else mqtt.Client
    )
    client = factory(
        callback_api_version=CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=mqtt.MQTTv311,
    )
    if address.username:
        client.username_pw_set(address.username, address.password)
    if address.tls:
        client.tls_set()
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=True)
    if max_inflight is not None:
        client.max_inflight_messages_set(max_inflight)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    return client
