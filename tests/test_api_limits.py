"""Request bodies: too large is a 413 before anything is parsed, too slow is a 408.

A real server on a free port, spoken to over raw sockets: a client that announces 20 MB,
one that streams it chunked, and one that sends a body a few bytes at a time while
``/healthz`` must still answer. Then ``agritrace serve`` as a process of its own, whose
peak resident memory (``VmHWM`` in ``/proc/<pid>/status``) is read while it refuses 50 MB.
"""

import json
import os
import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from tests.mqtt import free_port, wait_until
from tests.ops import AGRITRACE, ROOT, http_get
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


def _send_body(sock: socket.socket, total: int, *, chunked: bool) -> int:
    """Send up to ``total`` bytes of body until the server answers; returns how many went.

    The socket must have had its head sent. A server that answers (or closes) before the
    end stops the sending, as a real client's would.
    """
    chunk = b"[" * 65536
    framed = f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" if chunked else chunk
    sent = 0
    while sent < total:
        readable, writable, _ = select.select([sock], [sock], [], 15)
        if readable:
            return sent
        assert writable, "the server neither read nor answered"
        try:
            sock.sendall(framed)
        except (BrokenPipeError, ConnectionResetError):
            return sent
        sent += len(chunk)
    if chunked:
        sock.sendall(b"0\r\n\r\n")
    return sent


def test_a_chunked_20_mb_body_is_cut_at_the_limit(server):
    with socket.create_connection(server) as sock:
        sock.sendall(_head(f"{API}/farmers", Transfer_Encoding="chunked"))
        sent = _send_body(sock, TWENTY_MB, chunked=True)
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


SIXTY_MB = 60 * 2**20  # under the 64 MiB an upload address takes


@pytest.mark.parametrize("path", ["ingest/logs", "fields/import", "zones/import"])
def test_an_anonymous_upload_announcing_60_mb_gets_401_without_sending_it(server, path):
    """Before, the server waited for the body (here a 408 after 2 s; 64 MiB read in all)."""
    with socket.create_connection(server) as sock:
        sock.sendall(_head(f"{API}/{path}", Content_Length=str(SIXTY_MB)))
        started = time.monotonic()
        status, body = _read_answer(sock)
    assert status == 401 and "missing token" in body["detail"]
    assert time.monotonic() - started < 1.5  # not the body timeout's 408


@pytest.mark.parametrize("token", [None, "not-a-token-of-anyone"], ids=["anonymous", "unknown"])
def test_a_chunked_upload_without_a_valid_token_is_refused_unread(server, token):
    headers = {"Transfer_Encoding": "chunked"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    with socket.create_connection(server) as sock:
        sock.sendall(_head(f"{API}/ingest/logs", **headers))
        sent = _send_body(sock, SIXTY_MB, chunked=True)
        status, _body = _read_answer(sock)
    assert status == 401
    # What kernels buffer on loopback before the answer arrives, not the 60 MB.
    assert sent < 8 * 2**20, sent


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


# ---- the server's memory while it refuses a large body

FIFTY_MB = 50 * 2**20
#: How much the API process's peak resident memory may grow while it refuses a 50 MB
#: body with a 1 MiB limit: the limit, the buffers of the server and of the event loop
#: on the way, and the allocator's slack: a few MiB, far from the 50 MB.
RSS_GROWTH_BOUND = 8 * 2**20


def _memory(pid: int) -> tuple[int, int]:
    """``(resident, peak resident)`` of process ``pid`` in bytes (``/proc/<pid>/status``)."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0]) * 1024  # kB
    return fields["VmRSS"], fields["VmHWM"]


def _reset_peak(pid: int) -> None:
    """Make the process's peak resident memory its present one (Linux ``clear_refs`` 5)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    rss, peak = _memory(pid)
    # Without the reset, a peak from start-up would hide the request's (the test would
    # pass on a server that does hold the body): insist on it.
    assert peak - rss < 2**20, "the peak resident memory was not reset"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator:
    """``serve(max_body_bytes)``: an ``agritrace serve`` process on SQLite: (pid, address)."""
    procs = []

    def start(max_body_bytes: int) -> tuple[int, tuple[str, int]]:
        port = free_port()
        env = os.environ | {"AGRITRACE_MAX_BODY_BYTES": str(max_body_bytes)}
        url = f"sqlite:///{tmp_path}/api-{port}.db"
        log = (tmp_path / f"serve-{port}.log").open("wb")
        proc = subprocess.Popen(
            [*AGRITRACE, "serve", "--port", str(port), "--database-url", url],
            stdout=log,
            stderr=log,
            cwd=ROOT,
            env=env,
        )
        procs.append(proc)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_get(f"{base}/readyz")[0] == 200, what="the API", timeout=60)
        return proc.pid, ("127.0.0.1", port)

    yield start
    for proc in procs:
        proc.terminate()
        proc.wait(30)


def _post_large(address: tuple[str, int], total: int, *, chunked: bool) -> int:
    """POST ``total`` bytes to the farmers' list (no token) as one client; the status."""
    framing = {"Transfer_Encoding": "chunked"} if chunked else {"Content_Length": str(total)}
    with socket.create_connection(address) as sock:
        sock.sendall(_head(f"{API}/farmers", **framing))
        _send_body(sock, total, chunked=chunked)
        return _read_answer(sock)[0]


def _peak_growth(pid: int, address: tuple[str, int], total: int, *, chunked: bool):
    """``(status, growth)``: the answer, and how far the peak rose above the resident."""
    rss_before, _ = _memory(pid)
    _reset_peak(pid)
    status = _post_large(address, total, chunked=chunked)
    _, peak_after = _memory(pid)
    return status, peak_after - rss_before


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_50_mb_body_is_refused_without_the_server_holding_it(serve, chunked):
    pid, address = serve(LIMIT)
    # A first refusal of each kind: what the first request imports and allocates is
    # the server's, not the large body's.
    for warm in (False, True):
        assert _post_large(address, 2 * LIMIT, chunked=warm) == 413
    for _ in range(2):  # and again: no growth that accumulates
        status, growth = _peak_growth(pid, address, FIFTY_MB, chunked=chunked)
        assert status == 413
        print(f"50 MB {'chunked' if chunked else 'announced'}: peak +{growth / 2**20:.2f} MiB")
        assert growth < RSS_GROWTH_BOUND, f"peak resident memory grew {growth / 2**20:.1f} MiB"


def test_the_measure_sees_a_body_the_server_does_hold(serve):
    # The same 50 MB under a limit above it is read whole, then found not to be JSON
    # (400, before authentication): the peak rises by at least the body, so the bound
    # above is not met by chance.
    pid, address = serve(64 * 2**20)
    assert _post_large(address, 2 * LIMIT, chunked=True) == 400
    status, growth = _peak_growth(pid, address, FIFTY_MB, chunked=True)
    assert status == 400
    print(f"50 MB read whole: peak +{growth / 2**20:.2f} MiB")
    assert growth > FIFTY_MB > RSS_GROWTH_BOUND
