"""Broker fixtures and flight builders for the ingest and mission tests.

- ``broker``: the real Mosquitto at 127.0.0.1:1883 when it answers, else an amqtt broker
  in this process (which has no shared subscriptions: tests that need them skip there).
- ``private_mosquitto``: a ``mosquitto -p PORT`` of our own, with persistence in a
  temporary folder, that a test may restart.
- ``prefix``: a topic prefix of its own per test, so parallel runs never collide.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest
from pyproj import Transformer
from sqlalchemy import func, select
from sqlalchemy.engine import Engine

from drone_ingest.client import Ingester
from drone_ingest.publisher import Publisher
from tests.conftest import unavailable
from tests.factories import ORIGIN_E, ORIGIN_N
from tests.ports import free_port
from traceability.models import IngestReject, TelemetryPoint

MOSQUITTO_HOST, MOSQUITTO_PORT = "127.0.0.1", 1883
MOSQUITTO_BIN = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
_TO_LONLAT = Transformer.from_crs(32648, 4326, always_xy=True)


def reachable(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at host:port."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass(frozen=True)
class BrokerInfo:
    """The broker a test talks to."""

    url: str
    kind: str  # "mosquitto" or "embedded"

    @property
    def shared(self) -> bool:
        """Whether ``$share/`` subscriptions work on it."""
        return self.kind == "mosquitto"

    @property
    def share_group(self) -> str:
        """The share group to give an Ingester on this broker."""
        return "agritrace" if self.shared else ""


@pytest.fixture(scope="session", name="broker")
def broker_fixture() -> Iterator[BrokerInfo]:
    """The real Mosquitto, or an embedded broker where none runs."""
    if reachable(MOSQUITTO_HOST, MOSQUITTO_PORT):
        yield BrokerInfo(f"mqtt://{MOSQUITTO_HOST}:{MOSQUITTO_PORT}", "mosquitto")
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        unavailable("Mosquitto at 127.0.0.1:1883", "connection refused")
    from drone_ingest.broker import EmbeddedBroker

    with EmbeddedBroker() as embedded:
        yield BrokerInfo(embedded.url, "embedded")


@pytest.fixture(name="prefix")
def prefix_fixture() -> str:
    """A topic prefix no other test uses."""
    return f"t{uuid.uuid4().hex[:12]}"


class PrivateMosquitto:
    """A Mosquitto of our own on a free port, with persistence, that can be restarted."""

    def __init__(self, workdir: Path, *, max_inflight: int = 100) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.conf = workdir / "mosquitto.conf"
        self.conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            # Started as root, mosquitto drops to user "mosquitto", which could not write
            # its persistence file here: stay the user running the tests.
            f"user {getpass.getuser()}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {workdir}/\n"
            f"max_inflight_messages {max_inflight}\n"
            "max_queued_messages 1000000\n"
            "log_dest none\n"
        )
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """Where it listens."""
        return f"mqtt://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start it and wait until it accepts connections."""
        self.proc = subprocess.Popen(
            [MOSQUITTO_BIN, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while not reachable("127.0.0.1", self.port, 0.2):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"mosquitto did not start on port {self.port}")
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop it cleanly (SIGTERM: it saves its persistence file)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(10)
        self.proc = None

    def restart(self) -> None:
        """Stop, then start again on the same port with the same persistence."""
        self.stop()
        self.start()


@pytest.fixture(name="private_mosquitto")
def private_mosquitto_fixture(tmp_path: Path) -> Iterator[PrivateMosquitto]:
    """A private, restartable Mosquitto."""
    if not os.path.exists(MOSQUITTO_BIN):
        unavailable("the mosquitto binary", f"{MOSQUITTO_BIN} does not exist")
    broker = PrivateMosquitto(tmp_path)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


# ---------------------------------------------------------------- flights


def lonlat(x: float, y: float) -> tuple[float, float]:
    """WGS84 of a point at UTM 48N offset (x, y) metres from the factories' ORIGIN."""
    return _TO_LONLAT.transform(ORIGIN_E + x, ORIGIN_N + y)


def lawnmower(
    *,
    mission_id: str,
    x0: float = 0.0,
    passes: int = 10,
    spacing: float = 10.0,
    y_from: float = 0.0,
    y_to: float = 200.0,
    step: float = 5.0,
    flow_lpm: float | None = 2.0,
    flow_kgpm: float | None = None,
    seq0: int = 0,
    t0: datetime = T0,
) -> list[dict]:
    """Telemetry of exact back-and-forth passes, 1 fix per second, applicator off in turns.

    Pass ``k`` flies along y at ``x = x0 + spacing * (k + 0.5)``; with a swath of
    ``spacing`` the passes tile the strip ``[x0, x0 + passes * spacing]`` exactly.
    """
    points = []
    seq, t = seq0, 0
    n = round((y_to - y_from) / step)
    for k in range(passes):
        x = x0 + spacing * (k + 0.5)
        ys = [y_from + i * step for i in range(n + 1)]
        if k % 2:
            ys.reverse()
        for i, y in enumerate(ys):
            lon, lat = lonlat(x, y)
            point = {
                "mission_id": mission_id,
                "seq": seq,
                "ts": (t0 + timedelta(seconds=t)).isoformat(),
                "lat": lat,
                "lon": lon,
                "spraying": i < len(ys) - 1,  # the stretch into the turn is not sprayed
            }
            if flow_lpm is not None:
                point["flow_lpm"] = flow_lpm
            if flow_kgpm is not None:
                point["flow_kgpm"] = flow_kgpm
            points.append(point)
            seq += 1
            t += 1
    return points


def start_event(mission_id: str, **kw) -> dict:
    """A mission start event."""
    return {"event": "start", "mission_id": mission_id, "ts": T0.isoformat(), "type": "spray"} | kw


def end_event(mission_id: str, points: list[dict] | None = None, **kw) -> dict:
    """A mission end event, timed after the last point."""
    ts = points[-1]["ts"] if points else (T0 + timedelta(hours=1)).isoformat()
    return {"event": "end", "mission_id": mission_id, "ts": ts} | kw


def stream(n: int, *, mission_id: str = "M-STREAM", seq0: int = 0) -> list[dict]:
    """``n`` simple points (not a meaningful flight; for counting)."""
    return [
        {
            "mission_id": mission_id,
            "seq": seq0 + i,
            "ts": (T0 + timedelta(seconds=i)).isoformat(),
            "lat": 9.23 + i * 1e-6,
            "lon": 105.43,
            "spraying": False,
        }
        for i in range(n)
    ]


def publish_points(
    pub: Publisher, prefix: str, drone: str, points: list[dict], *, per_message: int = 50
) -> None:
    """Publish points as arrays of ``per_message`` on the drone's telemetry topic."""
    topic = f"{prefix}/drones/{drone}/telemetry"
    for i in range(0, len(points), per_message):
        pub.publish(topic, orjson.dumps(points[i : i + per_message]))


def count_points(engine: Engine, drone: str | None = None) -> tuple[int, int]:
    """``(rows, distinct (drone, seq))`` stored."""
    with engine.connect() as conn:
        where = [TelemetryPoint.drone_code == drone] if drone else []
        rows = conn.execute(
            select(func.count()).select_from(TelemetryPoint).where(*where)
        ).scalar_one()
        distinct = conn.execute(
            select(func.count()).select_from(
                select(TelemetryPoint.drone_code, TelemetryPoint.seq)
                .where(*where)
                .distinct()
                .subquery()
            )
        ).scalar_one()
    return rows, distinct


def count_rejects(engine: Engine) -> int:
    """Rejects stored."""
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(IngestReject)).scalar_one()


def wait_until(
    check: Callable[[], bool], *, timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll ``check`` until true; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def forget_session(url: str, client_id: str) -> None:
    """Drop a persistent session at the broker (connect once with a clean session)."""
    with contextlib.suppress(OSError):
        Publisher(mqtt_url=url, client_id=client_id).close()


def ingester(
    broker_url: str,
    engine: Engine,
    prefix: str,
    *,
    share_group: str = "",
    client_id: str | None = None,
    **kw,
) -> Ingester:
    """A started, subscribed Ingester, with two writers as deployed unless told otherwise."""
    kw.setdefault("writers", 2)
    ing = Ingester(
        mqtt_url=broker_url,
        engine=engine,
        prefix=prefix,
        client_id=client_id or f"test-{prefix}-{uuid.uuid4().hex[:6]}",
        share_group=share_group,
        measure_interval_s=0.2,
        **kw,
    )
    ing.start()
    if not ing.wait_ready(15):
        ing.stop()
        pytest.fail(f"ingester did not subscribe at {broker_url}")
    return ing
