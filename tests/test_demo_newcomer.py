"""The README's first command, run as a newcomer runs it: ``./run demo``, a real process.

One fresh database, a free port and a high speed-up: the demo gets ready, its landing
page links all answer, the simulated day keeps adding missions and diary entries, a
second run on the same database resumes without writing any diary line twice, and
``agritrace report`` reads the demo's database.
"""

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.mqtt import free_port

ROOT = Path(__file__).resolve().parents[1]
# Fast enough that daylight, when farmers write their diaries, comes within seconds.
SPEED = "20000"
READY_TIMEOUT_S = 60.0
COUNTS = "SELECT (SELECT count(*) FROM missions), (SELECT count(*) FROM diary_entries)"
# Two diary lines saying the same thing about the same field at the same moment.
DUPLICATES = """
SELECT count(*) FROM (
  SELECT field_id, occurred_at, activity, input_id, quantity, count(*) AS n
  FROM diary_entries WHERE corrects_id IS NULL
  GROUP BY field_id, occurred_at, activity, input_id, quantity HAVING count(*) > 1
)
"""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="./run is a POSIX shell script")


class Demo:
    """``./run demo`` in a process of its own, its output read line by line."""

    def __init__(self, database_url: str, port: int):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AGRITRACE_")}
        env |= {"COLUMNS": "80", "PYTHONUNBUFFERED": "1"}
        self.base = f"http://localhost:{port}"
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        self.proc = subprocess.Popen(
            [str(ROOT / "run"), "demo", "--database-url", database_url, "--port", str(port)]
            + ["--speed", SPEED],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=env,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_ready(self) -> float:
        began = time.monotonic()
        while time.monotonic() - began < READY_TIMEOUT_S:
            try:
                line = self._queue.get(timeout=1.0)
            except queue.Empty:
                continue
            if line is None:
                break
            self.lines.append(line)
            if line.startswith("The simulated day goes on"):
                return time.monotonic() - began
        self.stop()
        pytest.fail("the demo did not get ready:\n" + "\n".join(self.lines))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)  # Ctrl-C
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def _counts(engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return tuple(conn.execute(text(COUNTS)).one())


def test_the_first_hour_of_a_newcomer(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    engine = create_engine(url)
    demo = Demo(url, free_port())
    try:
        ready_s = demo.wait_ready()
        print(f"demo ready in {ready_s:.1f} s")
        assert all(len(line) <= 80 for line in demo.lines), "the banner is wider than 80"
        first = _counts(engine)
        with httpx.Client(base_url=demo.base, timeout=10) as web:
            page = web.get("/")
            assert page.status_code == 200 and "Bản chạy thử" in page.text
            links = set(re.findall(r'(?:href|src)="(/[^"#]*)', page.text))
            assert any(link.startswith("/t/DEMO-") for link in links)
            assert any(link.endswith("/qr.svg") for link in links)
            for link in sorted(links):
                assert web.get(link).status_code == 200, link
        # The simulated day goes on: more missions and more diary entries.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            later = _counts(engine)
            if later[0] > first[0] and later[1] > first[1]:
                break
            time.sleep(0.5)
        assert later[0] > first[0] and later[1] > first[1], (first, later)
    finally:
        demo.stop()
    assert demo.proc.returncode == 0

    with engine.connect() as conn:
        users = conn.execute(text("SELECT count(*) FROM users")).scalar_one()
        assert conn.execute(text(DUPLICATES)).scalar_one() == 0
    again = Demo(url, free_port())
    try:
        again.wait_ready()
        assert any("first flights are recorded already" in line for line in again.lines)
    finally:
        again.stop()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == users
        assert conn.execute(text(DUPLICATES)).scalar_one() == 0
    engine.dispose()

    report = subprocess.run(
        [str(ROOT / "run"), "report", "missions", "--database-url", url],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert report.returncode == 0, report.stderr
    header, *rows = report.stdout.splitlines()
    assert header.split()[:2] == ["mission_id", "drone_code"] and len(rows) >= 6
