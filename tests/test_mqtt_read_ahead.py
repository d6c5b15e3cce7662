"""The ingester's read-ahead socket: paho's small reads served from one large read."""

import contextlib
import socket
import threading
from collections import deque
from dataclasses import replace

import pytest

from drone_ingest.mqtt import BrokerAddress, ReadAhead, new_client


def _pair() -> tuple[ReadAhead, socket.socket]:
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    return ReadAhead(ours), theirs


def test_reads_are_sliced_from_what_one_read_took_and_pending_counts_the_rest():
    sock, peer = _pair()
    # Two PUBLISH-like packets sent at once: paho reads 1 byte, 1 byte, then the body.
    peer.sendall(b"\x32\x05hello\x32\x03abc")
    assert sock.recv(1) == b"\x32"
    assert sock.pending() == 11  # the whole of both packets came in the first read
    assert sock.recv(1) == b"\x05"
    assert sock.recv(5) == b"hello"
    assert sock.pending() == 5
    assert (sock.recv(1), sock.recv(1), sock.recv(3)) == (b"\x32", b"\x03", b"abc")
    assert sock.pending() == 0
    # Nothing held and nothing on the socket: the socket's own "try again".
    with pytest.raises(BlockingIOError):
        sock.recv(1)
    # A read larger than what is held returns what is held; the rest comes next read.
    peer.sendall(b"0123456789")
    assert sock.recv(4) == b"0123"
    assert sock.recv(100) == b"456789"
    peer.sendall(b"xy")
    assert sock.recv(100) == b"xy"
    # The peer gone: the empty read that tells paho so.
    peer.close()
    assert sock.recv(1) == b""
    sock.close()  # the socket's own methods go through


def test_writes_with_more_queued_behind_them_go_out_with_the_last_one():
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.settimeout(0.2)
    queued = deque(["puback 2", "puback 3"])  # paho's queue, after it took the first packet
    sock = ReadAhead(ours, queued)
    assert sock.send(b"\x40\x02\x00\x01") == 4  # taken, but kept: more are queued
    queued.popleft()
    assert sock.send(memoryview(b"\x40\x02\x00\x02")) == 4
    with pytest.raises(TimeoutError):
        peer.recv(100)  # nothing sent yet
    queued.popleft()
    assert sock.send(b"\x40\x02\x00\x03") == 4  # the last of the loop: all three, in order
    assert peer.recv(100) == b"\x40\x02\x00\x01\x40\x02\x00\x02\x40\x02\x00\x03"
    # Nothing kept and nothing queued: straight to the socket.
    assert sock.send(b"\xc0\x00") == 2
    assert peer.recv(100) == b"\xc0\x00"
    # A flush the socket cannot take at once waits until it can.
    queued.append("more")
    big = b"x" * 4_000_000
    assert sock.send(big) == len(big)
    queued.clear()
    received = bytearray()

    def drain() -> None:
        peer.settimeout(5)
        while len(received) < len(big) + 1:
            received.extend(peer.recv(1 << 20))

    reader = threading.Thread(target=drain)
    reader.start()
    assert sock.send(b"y") == 1
    reader.join(10)
    assert bytes(received) == big + b"y"
    ours.close()
    peer.close()


def test_the_ingesters_client_reads_ahead_and_others_do_not():
    address = BrokerAddress.parse("mqtt://127.0.0.1:1")
    assert new_client(address, read_ahead=True)._create_socket.__qualname__.startswith(
        "_ReadAheadClient"
    )
    assert not new_client(address)._create_socket.__qualname__.startswith("_ReadAheadClient")


def _publish_packet(topic: bytes, payload: bytes) -> bytes:
    """An MQTT 3.1.1 PUBLISH at QoS 0, by the standard's layout (section 3.3)."""
    body = len(topic).to_bytes(2, "big") + topic + payload
    assert len(body) < 128  # a one-byte remaining length
    return bytes([0x30, len(body)]) + body


def _reading_client(on_message):
    """The ingester's client reading from one end of a socket pair, and the other end."""
    from drone_ingest.mqtt import _ReadAheadClient

    client = new_client(BrokerAddress.parse("mqtt://127.0.0.1"), read_ahead=True)
    assert isinstance(client, _ReadAheadClient)
    client.on_message = on_message
    sock, peer = _pair()
    client._sock = sock
    return client, peer


def test_one_pass_of_the_ingesters_loop_reads_the_packets_already_held():
    # More than two bursts arrive at once. One pass of the read takes READ_BURST
    # messages of what the read-ahead holds, the next as many, the third the rest.
    from drone_ingest.mqtt import READ_BURST

    n = 2 * READ_BURST + 44
    got: list[bytes] = []
    client, peer = _reading_client(lambda _c, _u, msg: got.append(msg.payload))
    peer.sendall(b"".join(_publish_packet(b"a/drones/D1/telemetry", b"%d" % i) for i in range(n)))
    client.loop_read()
    assert got == [b"%d" % i for i in range(READ_BURST)]
    client.loop_read()
    assert got == [b"%d" % i for i in range(2 * READ_BURST)]
    client.loop_read()
    assert got == [b"%d" % i for i in range(n)]
    # Nothing more held: the pass ends with what there was, and waits for the socket.
    assert client.loop_read() == 0 and len(got) == n
    peer.close()


def test_a_per_topic_callback_still_takes_its_messages_and_on_message_the_rest():
    # Without per-topic callbacks the ingester's client hands each message straight to
    # on_message; once one is added, paho's own dispatch decides, as in plain paho.
    general: list[str] = []
    filtered: list[str] = []
    client, peer = _reading_client(lambda _c, _u, msg: general.append(msg.topic))
    peer.sendall(_publish_packet(b"a/drones/D1/status", b"{}"))
    client.loop_read()
    client.message_callback_add("a/drones/+/status", lambda _c, _u, msg: filtered.append(msg.topic))
    peer.sendall(_publish_packet(b"a/drones/D2/status", b"{}"))
    peer.sendall(_publish_packet(b"a/drones/D3/telemetry", b"[]"))
    client.loop_read()
    assert general == ["a/drones/D1/status", "a/drones/D3/telemetry"]
    assert filtered == ["a/drones/D2/status"]
    peer.close()


@pytest.mark.parametrize("handed_on", [False, True])
def test_an_exception_in_on_message_is_raised_as_paho_raises_it(handed_on):
    def fails(*_):
        raise ValueError("boom")

    client, peer = _reading_client(fails)
    packets = _publish_packet(b"a/drones/D1/telemetry", b"[]")
    if handed_on:  # the same for a read handed on at once (paho reads a loop's first)
        client.manual_ack_set(True)
        client.on_message, client.on_publishes = lambda *_: None, fails
        packets *= 2
    peer.sendall(packets)
    with pytest.raises(ValueError, match="boom"):
        client.loop_read()
    client.suppress_exceptions = True
    peer.sendall(packets)
    client.loop_read()  # logged, not raised
    peer.close()


# ---- the ingester's own read of PUBLISH packets, against paho's read of the same bytes


def _mqtt_packet(first: int, body: bytes) -> bytes:
    """A packet by MQTT 3.1.1's layout (section 2.2): its first byte, the remaining length
    in base-128 digits, low first, with the high bit set on all but the last, then the body."""
    length, n = bytearray(), len(body)
    while True:
        n, digit = divmod(n, 128)
        length.append(digit | (0x80 if n else 0))
        if not n:
            return bytes([first, *length]) + body


def _publish(topic: bytes, payload: bytes, qos: int = 0, mid: int = 0, *, retain=False, dup=False):
    first = 0x30 | qos << 1 | (0x01 if retain else 0) | (0x08 if dup else 0)
    packet_id = mid.to_bytes(2, "big") if qos else b""
    return _mqtt_packet(first, len(topic).to_bytes(2, "big") + topic + packet_id + payload)


def _as_paho_reads(
    packets: bytes, chunks: list[int], *, ingesters: bool, manual_ack=False, handed=None
):
    """What a client delivers and writes back when ``packets`` come in pieces of the
    sizes ``chunks`` (the rest in one), each piece followed by reads until nothing is
    left: plain paho's client, or the ingester's. Its deliveries, the first error code of
    a read (0 for none) and the bytes it wrote. With ``handed`` (a list), the ingester's
    client hands its own reads on through ``on_publishes``, each call's count appended."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    if ingesters:
        client = new_client(BrokerAddress.parse("mqtt://127.0.0.1"), read_ahead=True)
    else:
        client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    client.manual_ack_set(manual_ack)
    got: list[tuple] = []
    client.on_message = lambda _c, _u, m: got.append(
        (m._topic, m.payload, m.qos, m.mid, m.retain, m.dup)
    )
    if handed is not None:
        client.on_publishes = _handing_to(got, handed)
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    client._sock = ReadAhead(ours, client._out_packet) if ingesters else ours
    written = bytearray()

    def take_written() -> None:  # as a broker does, so that writes never wait
        with contextlib.suppress(ConnectionResetError):  # closed with bytes left unread
            while chunk := peer.recv(1 << 16):
                written.extend(chunk)

    taker = threading.Thread(target=take_written)
    taker.start()
    pieces, at = [], 0
    for size in [*chunks, len(packets)]:
        pieces.append(packets[at : at + size])
        at += size
    rc = 0
    for piece in filter(None, pieces):
        peer.sendall(piece)
        if rc := _read_all(client, len(piece) + 2):  # more reads than packets
            break
    if client._sock is not None:
        client.loop_write()
    ours.close()  # the taker's end of the stream
    taker.join(10)
    peer.close()
    return got, rc if isinstance(rc, str) else int(rc), bytes(written)


def _handing_to(got: list[tuple], handed: list[int]):
    """An ``on_publishes`` that records each call's count in ``handed``, and each packet in
    ``got`` as the ``on_message`` of :func:`_as_paho_reads` records a message."""

    def hand_on(taken, _at) -> None:
        handed.append(len(taken))
        for first, topic, mid, payload in taken:  # the fixed header's flags (3.3.1)
            got.append((topic, payload, first >> 1 & 3, mid, bool(first & 1), first & 8 > 0))

    return hand_on


def _read_all(client, reads: int):
    """``reads`` reads, or up to the first that fails: its error code, or the name of
    what it raised (paho's own, at some malformed packets); 0 if none failed."""
    for _ in range(reads):
        try:
            rc = client.loop_read()
        except Exception as exc:
            return type(exc).__name__
        if rc:
            return rc
    return 0


def _stream() -> bytes:
    """Every shape a PUBLISH at QoS 0, 1 and 2 can take on the ingester's subscription,
    with the other packets a broker sends between them."""
    t = b"agri/drones/BL-0001/telemetry"
    return b"".join(
        [
            _publish(t, b'{"seq":1}'),
            _publish(t, b'{"seq":2}', qos=1, mid=1),
            _publish(t, b"", qos=1, mid=2),  # an empty payload
            _publish(b"agri/drones/BL-0002/status", b"{}", qos=1, mid=65535, retain=True),
            _publish(t, b"x" * 200, qos=1, mid=3, dup=True),  # a two-byte length
            _mqtt_packet(0xD0, b""),  # PINGRESP
            _publish(t, b"y" * 20_000, qos=1, mid=4),  # a three-byte length
            _publish(b"agri/drones/\xff\xfe/telemetry", b"[]", qos=1, mid=5),  # not UTF-8
            _publish(t, b'{"seq":3}', qos=2, mid=6),  # QoS 2: PUBREC, then at PUBREL
            _mqtt_packet(0x62, (6).to_bytes(2, "big")),  # PUBREL
            _publish(t, b'{"seq":4}', retain=True),
            _mqtt_packet(0x90, b"\x00\x07\x01"),  # a SUBACK
            *[_publish(t, b'{"seq":%d}' % i, qos=1, mid=i) for i in range(10, 300)],
        ]
    )


@pytest.mark.parametrize(
    "chunks",
    [
        [],  # all at once
        [1, 1, 1, 5, 9, 150, 7],  # the first packets a few bytes at a time
        [40, 3, 20_100, 2],  # a piece ends inside the long length, inside the big payload
        [1] * 300,  # a byte at a time at first
    ],
)
@pytest.mark.parametrize("manual_ack", [False, True])
def test_the_ingesters_read_delivers_and_acknowledges_as_paho_does(chunks, manual_ack):
    # paho's own read of the same bytes is the reference: what is delivered (topic
    # bytes, payload, QoS, packet id, retain, DUP), in which order, and the packets
    # written back (PUBACK when not acknowledged by hand, PUBREC and PUBCOMP for QoS 2).
    packets = _stream()
    paho = _as_paho_reads(packets, chunks, ingesters=False, manual_ack=manual_ack)
    ours = _as_paho_reads(packets, chunks, ingesters=True, manual_ack=manual_ack)
    assert ours == paho
    got, rc, written = ours
    assert rc == 0 and len(got) == 9 + 290  # nine PUBLISH in the list above, 290 in the loop
    assert got[1] == (b"agri/drones/BL-0001/telemetry", b'{"seq":2}', 1, 1, False, False)
    assert got[3][2:5] == (1, 65535, True) and got[4][5] is True
    assert got[7] == (b"agri/drones/BL-0001/telemetry", b'{"seq":3}', 2, 6, False, False)
    assert len(got[5][1]) == 20_000 and got[6][0] == b"agri/drones/\xff\xfe/telemetry"
    pubrec = b"\x50\x02\x00\x06"
    assert pubrec in written  # QoS 2 goes through paho's own read, in order
    acks = written.replace(pubrec, b"").replace(b"\x70\x02\x00\x06", b"")  # and PUBCOMP
    if manual_ack:
        assert acks == b""
    else:
        mids = [1, 2, 65535, 3, 4, 5, *range(10, 300)]
        assert acks == b"".join(b"\x40\x02" + m.to_bytes(2, "big") for m in mids)


@pytest.mark.parametrize("chunks", [[], [1, 1, 1, 5, 9, 150, 7], [40, 3, 20_100, 2]])
def test_a_read_handed_on_at_once_delivers_what_paho_delivers(chunks):
    # With on_publishes set (the ingester acknowledging by hand), the PUBLISH packets one
    # read holds go in one call; what is delivered, and in which order, is paho's.
    packets = _stream()
    paho = _as_paho_reads(packets, chunks, ingesters=False, manual_ack=True)
    handed: list[int] = []
    ours = _as_paho_reads(packets, chunks, ingesters=True, manual_ack=True, handed=handed)
    assert ours == paho
    # The packets read whole together went together: far fewer calls than messages.
    assert sum(handed) < len(ours[0]) and len(handed) < len(ours[0]) // 10
    assert max(handed) >= 100


def test_without_acknowledging_by_hand_or_with_a_per_topic_callback_each_goes_alone():
    # on_publishes is for a client that acknowledges by hand and dispatches no topic
    # itself; otherwise paho's road, a message at a time, as before.
    handed: list[int] = []
    t = b"a/drones/D1/telemetry"
    packets = b"".join(_publish(t, b"%d" % i, qos=1, mid=i + 1) for i in range(50))
    got, _, written = _as_paho_reads(packets, [], ingesters=True, manual_ack=False, handed=handed)
    assert handed == [] and len(got) == 50 and written.count(b"\x40\x02") == 50
    taken: list[bytes] = []
    client, peer = _reading_client(lambda _c, _u, msg: taken.append(msg.payload))
    client.manual_ack_set(True)
    client.on_publishes = lambda batch, _at: handed.append(len(batch))
    client.message_callback_add("a/drones/+/status", lambda *_: None)
    peer.sendall(b"".join(_publish_packet(t, b"%d" % i) for i in range(5)))
    client.loop_read()
    assert handed == [] and taken == [b"0", b"1", b"2", b"3", b"4"]
    peer.close()


def test_the_ingester_takes_a_read_handed_on_as_it_takes_pahos_messages():
    # The same packets, one ingester given them by on_publishes, the other by paho's
    # on_message: the same messages, in the same order, at the same arrival time.
    import paho.mqtt.client as mqtt

    from drone_ingest.client import Ingester

    packets = [
        (0x32, b"agri/drones/D1/telemetry", 1, b'{"seq":1}'),
        (0x33, b"agri/drones/D1/status", 2, b"{}"),  # QoS 1, retained
        (0x3A, b"agri/drones/D2/telemetry", 4, b"[]"),  # QoS 1, DUP
        (0x30, b"agri/drones/D2/telemetry", 0, b"[]"),  # QoS 0
        (0x32, b"agri/drones/\xff/telemetry", 3, b"[]"),  # a topic that is not UTF-8
    ]
    handed, one_by_one = Ingester(mqtt_url=None, engine=None), Ingester(mqtt_url=None, engine=None)
    handed._on_publishes(packets, 12.5)
    for first, topic, mid, payload in packets:
        msg = mqtt.MQTTMessage(mid, topic)
        msg.payload, msg.qos, msg.retain, msg.dup = payload, first >> 1 & 3, first & 1, first & 8
        msg.timestamp = 12.5
        one_by_one._on_message(None, None, msg)
    got = list(handed._unacked)
    # Each ingester reads its own clock at the read: all else is the same.
    same_time = [replace(m, received_at=got[0].received_at) for m in one_by_one._unacked]
    assert got == same_time
    assert [(m.topic, m.qos, m.mid, m.retain, m.redelivered) for m in got] == [
        ("agri/drones/D1/telemetry", 1, 1, False, False),
        ("agri/drones/D1/status", 1, 2, True, False),
        ("agri/drones/D2/telemetry", 1, 4, False, True),
        ("agri/drones/D2/telemetry", 0, 0, False, False),
        ("agri/drones/\ufffd/telemetry", 1, 3, False, False),
    ]
    assert len({m.received_at for m in got}) == 1
    # Stopping: nothing more is taken (not acknowledged, it comes again).
    handed._stopping.set()
    handed._on_publishes(packets, 13.0)
    assert len(handed._unacked) == len(packets)


@pytest.mark.parametrize(
    "bad",
    [
        _publish(b"", b"{}", qos=1, mid=1),  # no topic, which MQTT 3.1.1 forbids
        _mqtt_packet(0x32, b"\x00\x05ab"),  # a topic longer than its packet
        _mqtt_packet(0x32, b"\x00\x01a\x00"),  # a packet id cut short
        _mqtt_packet(0x30, b""),  # no room for the topic's length
        _mqtt_packet(0x30, b"\x00"),
        b"\x32\xff\xff\xff\xff\x01",  # a remaining length of five bytes
    ],
)
@pytest.mark.parametrize("last", [False, True])
def test_a_malformed_publish_is_left_to_paho(bad, last):
    # paho drops the connection (or raises) at a malformed PUBLISH; the ingester's read
    # leaves it to paho, at the end of what is held or before more.
    good = _publish(b"a/drones/D1/telemetry", b"[]", qos=1, mid=9)
    packets = good + bad + (b"" if last else good)
    paho = _as_paho_reads(packets, [], ingesters=False)
    ours = _as_paho_reads(packets, [], ingesters=True)
    assert ours[:2] == paho[:2]
    assert ours[0] == [(b"a/drones/D1/telemetry", b"[]", 1, 9, False, False)] and ours[1] != 0


def test_what_the_ingesters_read_delivers_reads_as_pahos_message():
    from drone_ingest.mqtt import Publish

    msg = Publish(0x3B, b"a/drones/D1/status", 7, b"{}", 12.5)
    assert (msg.topic, msg.payload, msg.qos, msg.mid, msg.retain, msg.dup) == (
        "a/drones/D1/status",
        b"{}",
        1,
        7,
        True,
        True,
    )
    assert msg.timestamp == 12.5 and msg.properties is None
    with pytest.raises(UnicodeDecodeError):
        _ = Publish(0x30, b"a/\xff", 0, b"", 0.0).topic


# ---- acknowledgements together


def _written(client, act, *, read_ahead: bool) -> bytes:
    """The bytes ``client`` writes to its broker when ``act(client)`` runs."""
    ours, peer = socket.socketpair()
    ours.setblocking(False)
    peer.settimeout(1)
    client._sock = ReadAhead(ours, client._out_packet) if read_ahead else ours
    act(client)
    client.loop_write()
    ours.close()
    out = bytearray()
    while chunk := peer.recv(1 << 16):
        out += chunk
    peer.close()
    return bytes(out)


@pytest.mark.parametrize("manual_ack", [True, False])
def test_acknowledgements_together_are_the_bytes_paho_writes_one_by_one(manual_ack):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    mids = [1, 2, 300, 65535, 7]
    paho = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
    paho.manual_ack_set(manual_ack)
    ours = new_client(BrokerAddress.parse("mqtt://127.0.0.1"), read_ahead=True)
    ours.manual_ack_set(manual_ack)
    one_by_one = _written(paho, lambda c: [c.ack(m, 1) for m in mids], read_ahead=False)
    together = _written(ours, lambda c: c.ack_many(mids), read_ahead=True)
    assert together == one_by_one
    # By the standard's layout (section 3.4): 0x40, length 2, the packet id. Without
    # acknowledging by hand, paho acknowledged each message as it came: nothing here.
    expected = b"".join(b"\x40\x02" + m.to_bytes(2, "big") for m in mids)
    assert together == (expected if manual_ack else b"")
    assert _written(ours, lambda c: c.ack_many([]), read_ahead=True) == b""


def test_the_ingester_acknowledges_its_own_connections_messages_in_order():
    from drone_ingest.client import Ingester
    from drone_ingest.handlers import Message

    ing = Ingester(mqtt_url=None, engine=None)
    client = new_client(BrokerAddress.parse("mqtt://127.0.0.1"), read_ahead=True)
    client.manual_ack_set(True)
    ing._client, ing._generation = client, 2
    t = "agri/drones/D1/telemetry"
    messages = [
        Message(topic=t, payload=b"", qos=1, mid=1, generation=2),
        Message(topic=t, payload=b"", qos=1, mid=2, generation=1),  # an earlier connection's
        Message(topic=t, payload=b"", qos=2, mid=3, generation=2),  # PUBCOMP, in its turn
        Message(topic=t, payload=b"", qos=0, generation=2),  # nothing to acknowledge
        Message(topic=t, payload=b"", qos=1, mid=4, generation=2),
        Message(topic=t, payload=b"", qos=1, mid=5, generation=2),
    ]
    written = _written(client, lambda _c: ing._ack(messages), read_ahead=True)
    assert (
        written == b"\x40\x02\x00\x01" + b"\x70\x02\x00\x03" + b"\x40\x02\x00\x04\x40\x02\x00\x05"
    )


def test_messages_read_together_share_their_arrival_time():
    import time

    from drone_ingest.client import Ingester

    ing = Ingester(mqtt_url=None, engine=None)
    client, peer = _reading_client(ing._on_message)
    peer.sendall(
        b"".join(_publish_packet(b"agri/drones/D1/telemetry", b"%d" % i) for i in range(3))
    )
    client.loop_read()
    time.sleep(0.01)
    peer.sendall(_publish_packet(b"agri/drones/D1/telemetry", b"3"))
    client.loop_read()
    arrived = list(ing._unacked)
    assert [m.payload for m in arrived] == [b"0", b"1", b"2", b"3"]
    assert arrived[0].received_at == arrived[1].received_at == arrived[2].received_at
    assert (arrived[3].received_at - arrived[0].received_at).total_seconds() >= 0.01
    assert arrived[0].received_at.tzinfo is not None
    peer.close()
