"""deploy/nginx/agritrace.conf, run for real in front of a real ``agritrace serve``: a body
over the limit is answered 413 by nginx before the API reads it; the rest passes through.
"""

import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import unavailable
from tests.mqtt import free_port, reachable, wait_until
from tests.ops import AGRITRACE, ROOT, agritrace, http_get, scrape

pytestmark = pytest.mark.integration

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def _nginx_conf(tmp: Path, listen: int, api_port: int) -> Path:
    """The shipped server block, pointed at the test's API, inside a minimal nginx.conf."""
    server = (ROOT / "deploy/nginx/agritrace.conf").read_text()
    server = server.replace("server api:8000;", f"server 127.0.0.1:{api_port};")
    server = server.replace("listen 8080;", f"listen 127.0.0.1:{listen};")
    conf = tmp / "nginx.conf"
    conf.write_text(
        "user root;\n"  # the tests run as root: workers must write the temp folders here
        f"pid {tmp}/nginx.pid;\nerror_log {tmp}/error.log;\nevents {{}}\n"
        "http {\n"
        f"  access_log {tmp}/access.log;\n"
        f"  client_body_temp_path {tmp}/body;\n  proxy_temp_path {tmp}/proxy;\n"
        f"  fastcgi_temp_path {tmp}/fcgi;\n  uwsgi_temp_path {tmp}/uwsgi;\n"
        f"  scgi_temp_path {tmp}/scgi;\n"
        f"{server}\n}}\n"
    )
    return conf


@pytest.fixture
def stack(tmp_path):
    """``agritrace serve`` on SQLite, and nginx in front of it: the proxy's base URL."""
    if not os.path.exists(NGINX):
        unavailable("nginx", f"{NGINX} does not exist")
    url = f"sqlite:///{tmp_path}/api.db"
    agritrace("db", "upgrade", "--database-url", url)
    api_port, proxy_port = free_port(), free_port()
    procs = []
    with (tmp_path / "serve.log").open("wb") as log:
        procs.append(
            subprocess.Popen(
                [*AGRITRACE, "serve", "--port", str(api_port), "--database-url", url],
                stdout=log,
                stderr=log,
                cwd=ROOT,
            )
        )
    conf = _nginx_conf(tmp_path, proxy_port, api_port)
    procs.append(subprocess.Popen([NGINX, "-c", str(conf), "-g", "daemon off;"]))
    try:
        wait_until(lambda: reachable("127.0.0.1", proxy_port), what="nginx")
        api = f"http://127.0.0.1:{api_port}"
        wait_until(lambda: http_get(f"{api}/readyz")[0] == 200, what="the API", timeout=60)
        yield f"http://127.0.0.1:{proxy_port}", api
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(30)


def _post(url: str, body: bytes) -> int:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except (TimeoutError, ConnectionResetError, BrokenPipeError):
        return -1


def test_proxy_refuses_a_large_body_before_the_api_reads_it(stack):
    proxy, api = stack
    assert _post(f"{proxy}/api/v1/lots", b"[" + b"1," * 1_500_000 + b"1]") == 413
    assert _lots_requests(api) == {}  # the API never saw it

    # A small body passes through, and the API answers it (no token: 401).
    assert _post(f"{proxy}/api/v1/lots", b"{}") == 401
    assert _lots_requests(api) == {"401": 1.0}
    assert http_get(f"{proxy}/healthz")[0] == 200
    assert http_get(f"{proxy}/readyz")[0] == 200
    assert http_get(f"{proxy}/metrics")[0] == 404  # metrics stay inside


def _lots_requests(api: str) -> dict[str, float]:
    """``{status: count}`` of the POST /api/v1/lots requests the API answered."""
    counts = {}
    for (name, labels), value in scrape(f"{api}/metrics").items():
        found = dict(labels)
        wanted = found.get("route") == "/api/v1/lots" and found.get("method") == "POST"
        if name == "agritrace_http_requests_total" and wanted:
            counts[found["status"]] = value
    return counts
