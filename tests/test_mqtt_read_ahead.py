"""The ingester's read-ahead socket: paho's small reads served from one large read."""

import socket
import threading
from collections import deque

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
    # 100 messages arrive at once. One pass of paho's read takes one; the ingester's
    # client goes on through those the read-ahead holds, up to READ_BURST.
    from drone_ingest.mqtt import READ_BURST

    got: list[bytes] = []
    client, peer = _reading_client(lambda _c, _u, msg: got.append(msg.payload))
    peer.sendall(b"".join(_publish_packet(b"a/drones/D1/telemetry", b"%d" % i) for i in range(100)))
    client.loop_read()
    assert got == [b"%d" % i for i in range(READ_BURST)]
    client.loop_read()
    assert got == [b"%d" % i for i in range(min(100, 2 * READ_BURST))]
    # Nothing more held: the pass ends with what there was, and waits for the socket.
    while len(got) < 100:
        client.loop_read()
    assert client.loop_read() == 0 and len(got) == 100
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


def test_an_exception_in_on_message_is_raised_as_paho_raises_it():
    def fails(_c, _u, _msg):
        raise ValueError("boom")

    client, peer = _reading_client(fails)
    peer.sendall(_publish_packet(b"a/drones/D1/telemetry", b"[]"))
    with pytest.raises(ValueError, match="boom"):
        client.loop_read()
    client.suppress_exceptions = True
    peer.sendall(_publish_packet(b"a/drones/D1/telemetry", b"[]"))
    client.loop_read()  # logged, not raised
    peer.close()
