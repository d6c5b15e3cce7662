"""Real processes for the operations tests: ingesters as ``agritrace ingest`` subprocesses,
a Mosquitto with a password file and ACL, and readers of ``/readyz`` and ``/metrics``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.engine import Engine

from tests.mqtt import PrivateMosquitto, free_port

AGRITRACE = [sys.executable, "-m", "agritrace"]
ROOT = Path(__file__).resolve().parent.parent


def db_url(engine: Engine) -> str:
    """The URL a subprocess opens ``engine``'s database with."""
    return engine.url.render_as_string(hide_password=False)


def agritrace(*args: str, env: dict[str, str] | None = None, check: bool = True):
    """Run ``agritrace ARGS`` to the end; its completed process."""
    proc = subprocess.run(
        [*AGRITRACE, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=120,
    )
    if check and proc.returncode != 0:
        pytest.fail(f"agritrace {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc


def http_get(url: str, timeout: float = 5.0, token: str | None = None) -> tuple[int, bytes]:
    """``(status, body)`` of a GET (with a bearer ``token``); ``(0, b"")`` when nothing answers."""
    request = urllib.request.Request(url)
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:
        return 0, b""


def scrape(url: str) -> dict[tuple[str, tuple], float]:
    """Prometheus samples at ``url`` as ``{(name, sorted labels): value}``.

    Read with the bootstrap admin token of the tests' environment: the API's /metrics
    needs one (the ingester's, on its own port, ignores it).
    """
    status, body = http_get(url, token=os.environ.get("AGRITRACE_ADMIN_TOKEN"))
    assert status == 200, f"{url} answered {status}"
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def sample(samples: dict, name: str, **labels: str) -> float:
    """One sample's value (0 when absent, as Prometheus reads a missing counter)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


class IngestProcess:
    """``agritrace ingest`` in a subprocess, with its HTTP port and JSON logs."""

    def __init__(
        self, *, mqtt_url: str, engine: Engine, prefix: str, client_id: str, log: Path
    ) -> None:
        self.args = [
            *AGRITRACE,
            "ingest",
            "--mqtt-url",
            mqtt_url,
            "--client-id",
            client_id,
            "--database-url",
            db_url(engine),
            "--log-format",
            "json",
        ]
        self.prefix = prefix
        self.log = log
        self.port = 0
        self.proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        """The ingester's HTTP address."""
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, wait_ready: bool = True) -> IngestProcess:
        """Start it (a new HTTP port each time) and wait until /readyz says ready."""
        self.port = free_port()
        env = {
            **os.environ,
            "AGRITRACE_TOPIC_PREFIX": self.prefix,
            "AGRITRACE_INGEST_HTTP_HOST": "127.0.0.1",
            "AGRITRACE_INGEST_FLUSH_MS": "20",
        }
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [*self.args, "--http-port", str(self.port)],
                stdout=log,
                stderr=log,
                cwd=ROOT,
                env=env,
            )
        if wait_ready:
            self.wait_ready()
        return self

    def readyz(self) -> tuple[int, dict]:
        """``(status, body)`` of /readyz."""
        status, body = http_get(f"{self.base}/readyz", timeout=2)
        return status, (orjson.loads(body) if body else {})

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Block until /readyz answers 200; fail if the process ends first."""
        deadline = time.monotonic() + timeout
        while self.readyz()[0] != 200:
            if self.proc.poll() is not None:
                pytest.fail(f"ingester exited {self.proc.returncode}: {self.log.read_text()}")
            if time.monotonic() > deadline:
                pytest.fail(f"ingester not ready after {timeout} s: {self.log.read_text()}")
            time.sleep(0.1)

    def metrics(self) -> dict:
        """Its /metrics, parsed."""
        return scrape(f"{self.base}/metrics")

    def signal(self, signum: int) -> None:
        """Send ``signum``."""
        self.proc.send_signal(signum)

    def wait(self, timeout: float = 60.0) -> int:
        """Its exit status."""
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL, no goodbye."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def log_lines(self) -> list[dict]:
        """The JSON log lines it wrote so far."""
        lines = []
        for raw in self.log.read_text().splitlines():
            if raw.startswith("{"):
                lines.append(orjson.loads(raw))
        return lines


class SecureMosquitto(PrivateMosquitto):
    """A private Mosquitto that lets in only the accounts of its password file and ACL."""

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir, max_inflight=100)
        self.passwd = workdir / "passwd"
        self.acl = workdir / "acl"
        self.conf.write_text(
            self.conf.read_text().replace(
                "allow_anonymous true\n",
                f"allow_anonymous false\npassword_file {self.passwd}\nacl_file {self.acl}\n",
            )
        )

    def add(self, user: str, *, prefix: str, ingester: bool = False) -> str:
        """Create ``user``'s account with ``agritrace devices``; returns its password."""
        verb = ["add-ingester", "--passwd", str(self.passwd), "--acl", str(self.acl), user]
        if not ingester:
            verb = ["add", user, "--passwd", str(self.passwd), "--acl", str(self.acl)]
        out = agritrace("devices", *verb, "--prefix", prefix).stdout
        return out.split("(shown only once): ", 1)[1].split()[0]

    def url_for(self, user: str, password: str) -> str:
        """The broker URL with ``user``'s credentials."""
        return f"mqtt://{user}:{password}@127.0.0.1:{self.port}"
