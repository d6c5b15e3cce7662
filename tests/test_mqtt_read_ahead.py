"""The ingester's read-ahead socket: paho's small reads served from one large read."""

import socket

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


def test_the_ingesters_client_reads_ahead_and_others_do_not():
    address = BrokerAddress.parse("mqtt://127.0.0.1:1")
    assert new_client(address, read_ahead=True)._create_socket.__qualname__.startswith(
        "_ReadAheadClient"
    )
    assert not new_client(address)._create_socket.__qualname__.startswith("_ReadAheadClient")
