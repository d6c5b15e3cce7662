"""Request bodies: too large is a 413 before anything is parsed, too slow is a 408.

A real server on a free port, spoken to over raw sockets: a client that announces 20 MB,
one that streams it chunked, and one that sends a body a few bytes at a time while
``/healthz`` must still answer.
"""

import json
import select
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from tests.mqtt import free_port
from tests.record_helpers import API
from traceability.config import Settings
from traceability.db import make_engine, migrate

LIMIT = 1_048_576
TWENTY_MB = 20 * 2**20


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """The API on a free port with a 1 MiB body limit and a 2 s body timeout: (host, port)."""
    from traceability.api.main import create_app

    url = f"sqlite:///{tmp_path_factory.mktemp('limits') / 'api.db'}"
    engine = make_engine(url)
    migrate(engine)
    settings = Settings(database_url=url, max_body_bytes=LIMIT, body_timeout_s=2.0)
    app = create_app(settings=settings, engine=engine)
    port = free_port()
    srv = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(250):
        if srv.started:
            break
        time.sleep(0.02)
    yield "127.0.0.1", port
    srv.should_exit = True
    thread.join(timeout=5)
    engine.dispose()


def _head(path: str, **headers: str) -> bytes:
    lines = [f"POST {path} HTTP/1.1", "Host: localhost", "Content-Type: application/json"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _read_answer(sock: socket.socket) -> tuple[int, dict]:
    """Status and JSON body of the one answer on ``sock`` (the server closes after it)."""
    sock.settimeout(15)
    data = b""
    while b"\r\n\r\n" not in data or len(data.split(b"\r\n\r\n", 1)[1]) < _length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    return int(head.split()[1]), json.loads(body)


def _length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def test_an_announced_20_mb_body_is_a_413_before_it_is_sent(server):
    with socket.create_connection(server) as sock:
        # Anonymous: no token. The limit answers before authentication would.
        sock.sendall(_head(f"{API}/farmers", Content_Length=str(TWENTY_MB)))
        status, body = _read_answer(sock)
    assert status == 413
    assert "1 MiB" in body["detail"] and "1,048,576 bytes" in body["detail"]


def test_a_chunked_20_mb_body_is_cut_at_the_limit(server):
    chunk = b"[" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n"
    sent = 0
    with socket.create_connection(server) as sock:
        sock.sendall(_head(f"{API}/farmers", Transfer_Encoding="chunked"))
        answered = False
        while sent < TWENTY_MB:
            readable, writable, _ = select.select([sock], [sock], [], 15)
            if readable:
                answered = True
                break
            assert writable, "the server neither read nor answered"
            try:
                sock.sendall(framed)
            except (BrokenPipeError, ConnectionResetError):
                answered = True
                break
            sent += len(chunk)
        assert answered
        status, body = _read_answer(sock)
    assert status == 413 and "1 MiB" in body["detail"]
    # The server stopped reading at the limit: what was sent is what kernels buffer, not 20 MB.
    assert sent < TWENTY_MB


def test_healthz_answers_while_a_body_trickles_in_and_the_slow_body_gets_408(server):
    host, port = server
    with socket.create_connection(server) as slow:
        slow.sendall(_head(f"{API}/farmers", Content_Length="1000") + b'{"name": "')
        r = httpx.get(f"http://{host}:{port}/healthz", timeout=10)
        assert r.status_code == 200 and r.json() == {"status": "ok"}
        slow.sendall(b"Le")  # still far from the 1000 bytes announced
        status, body = _read_answer(slow)
    assert status == 408
    assert "did not arrive within 2 s" in body["detail"]


def test_a_body_within_the_limit_still_reaches_authentication(server):
    host, port = server
    r = httpx.post(f"http://{host}:{port}{API}/farmers", json={"name": "x" * 1000}, timeout=10)
    assert r.status_code == 401


def test_the_limit_answers_in_process_and_uploads_take_more(client, admin_headers, factory):
    big = b'{"name": "' + b"x" * (LIMIT + 10) + b'"}'
    r = client.post(f"{API}/farmers", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and "1 MiB" in r.json()["detail"]
    # A flight log of 2 MiB is under the upload limit: it reaches the pipeline.
    factory.drone(code="D1")
    log = b"mission_id,seq,ts,lat,lon,spraying\n" + b"\n" * (2 * LIMIT)
    r = client.post(
        f"{API}/ingest/logs",
        files={"file": ("big.csv", log, "text/csv")},
        data={"drone": "D1"},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
