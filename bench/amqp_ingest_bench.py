"""Ingest through RabbitMQ: one and two ``agritrace ingest`` processes on the quorum queue.

Run with ``.venv/bin/python bench/amqp_ingest_bench.py [--points 200000]`` (RabbitMQ with
its MQTT plugin up: ``deploy/rabbitmq/setup.sh``; PostgreSQL at 127.0.0.1:5432).

Method, for each case in one run: the same stream as ``bench/ingest_bench.py`` (8 drones,
JSON arrays of ``--per-message`` points) is published over MQTT to RabbitMQ's MQTT plugin
(port 1884) and waits as a backlog in a fresh durable quorum queue bound to the prefix;
then the consumers start and drain it.

- ceilings, both C: ``bench/amqp_drain.c`` (librabbitmq; compiled on first use, Debian's
  ``librabbitmq-dev``) draining the same backlog from a quorum queue over AMQP with
  the ingester's acknowledgements, and ``mosquitto_sub -q 1`` draining it from the
  MQTT plugin's queue for a persistent session;
- ingest, 1 and 2: ``agritrace ingest`` processes with ``AGRITRACE_AMQP_URL`` into a
  PostgreSQL database of their own (partitioned telemetry), timed from the first
  stored point to the last (the processes' start-up is left out), then checked for
  exactly once: N rows, N distinct ``(drone, seq)``, N keys, missions' counts sum to N.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest_bench import DRONES, messages, preload  # noqa: E402

from drone_ingest.amqp import delete_queue, ensure_queue  # noqa: E402
from traceability.db import make_engine, migrate  # noqa: E402
from traceability.models import Drone  # noqa: E402

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
MQTT_URL = "mqtt://127.0.0.1:1884"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
MOSQUITTO_SUB = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"


def ceiling(stream, prefix: str) -> float:
    """Seconds ``mosquitto_sub`` takes to drain the backlog from RabbitMQ's MQTT plugin."""
    cid = f"bench-sub-{uuid.uuid4().hex[:6]}"
    base = [MOSQUITTO_SUB, "-h", "127.0.0.1", "-p", "1884", "-q", "1", "-c", "-i", cid]
    base += ["-t", f"{prefix}/drones/+/+"]
    subprocess.run([*base, "-W", "1"], capture_output=True, check=False)  # the session
    preload(MQTT_URL, stream)
    t = time.perf_counter()
    subprocess.run([*base, "-C", str(len(stream))], stdout=subprocess.DEVNULL, check=True)
    elapsed = time.perf_counter() - t
    # A clean session drops the persistent one and its queue.
    subprocess.run([*base[:-3], "-i", cid, "-t", "x", "-W", "1"], capture_output=True)
    return elapsed


def drain_binary() -> Path:
    """``bench/amqp_drain.c``, compiled once into the build folder."""
    out = ROOT / "build" / "amqp_drain"
    src = ROOT / "bench" / "amqp_drain.c"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        out.parent.mkdir(exist_ok=True)
        subprocess.run(["cc", "-O2", str(src), "-lrabbitmq", "-o", str(out)], check=True)
    return out


def amqp_ceiling(n_messages: int, per_message: int, batch_size: int) -> float:
    """Seconds the C consumer takes to drain a backlog of the stream from a quorum queue."""
    prefix = f"b{uuid.uuid4().hex[:8]}"
    queue = f"agritrace.ingest.{prefix}"
    drain = drain_binary()
    stream = messages(n_messages * per_message, per_message, prefix)
    ensure_queue(AMQP_URL, queue=queue, prefix=prefix)
    try:
        preload(MQTT_URL, stream)
        batch = str(max(1, batch_size // per_message))
        t = time.perf_counter()
        subprocess.run(
            # The ingester's prefetch: twice its batch (which it counts in points).
            [drain, "127.0.0.1", "5672", queue, str(len(stream)), batch, str(2 * batch_size)],
            stdout=subprocess.DEVNULL,
            check=True,
        )
        return time.perf_counter() - t
    finally:
        delete_queue(AMQP_URL, queue=queue)


def _database():
    name = f"agritrace_bench_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
    migrate(engine)
    with Session(engine) as s:
        for drone in DRONES:
            s.add(Drone(code=drone, swath_m=6.5))
        s.commit()
    return engine, admin, name


def _stored(engine) -> int:
    with engine.connect() as c:
        return c.execute(text("SELECT coalesce(sum(point_count), 0) FROM missions")).scalar()


def _check(engine) -> tuple[int, int, int, int]:
    with engine.connect() as c:
        return tuple(
            c.execute(text(q)).scalar()
            for q in (
                "SELECT count(*) FROM telemetry",
                "SELECT count(*) FROM (SELECT DISTINCT drone_code, seq FROM telemetry) d",
                "SELECT count(*) FROM telemetry_keys",
                "SELECT sum(point_count) FROM missions",
            )
        )


def _bytes(engine) -> tuple[int, int]:
    """Bytes on disk of telemetry's partitions and of telemetry_keys, indexes included."""
    with engine.connect() as c:
        points = c.execute(
            text(
                "SELECT sum(pg_total_relation_size(inhrelid)) FROM pg_inherits "
                "WHERE inhparent = 'telemetry'::regclass"
            )
        ).scalar()
        keys = c.execute(text("SELECT pg_total_relation_size('telemetry_keys')")).scalar()
    return int(points), int(keys)


def ingest(n: int, per_message: int, consumers: int, batch_size: int) -> dict:
    """Drain a backlog of ``n`` points with ``consumers`` ingest processes."""
    prefix = f"b{uuid.uuid4().hex[:8]}"
    stream = messages(n, per_message, prefix)
    queue = f"agritrace.ingest.{prefix}"
    ensure_queue(AMQP_URL, queue=queue, prefix=prefix)
    engine, admin, name = _database()
    env = os.environ | {
        "AGRITRACE_DATABASE_URL": engine.url.render_as_string(hide_password=False),
        "AGRITRACE_AMQP_URL": AMQP_URL,
        "AGRITRACE_INGEST_QUEUE": queue,
        "AGRITRACE_TOPIC_PREFIX": prefix,
        "AGRITRACE_INGEST_BATCH_SIZE": str(batch_size),
    }
    procs = []
    try:
        preload(MQTT_URL, stream)
        waiting = ensure_queue(AMQP_URL, queue=queue, prefix=prefix)
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "agritrace", "ingest", "--client-id", f"{prefix}-{i}"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(consumers)
        ]
        first = 0
        while (first := _stored(engine)) == 0:
            time.sleep(0.01)
        t0 = time.perf_counter()
        while (done := _stored(engine)) < n:
            time.sleep(0.05)
            if time.perf_counter() - t0 > 900:
                raise RuntimeError(f"stored {done} of {n} in 15 minutes")
        elapsed = time.perf_counter() - t0
        checks = _check(engine)
        size = _bytes(engine)
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(60)
        engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        delete_queue(AMQP_URL, queue=queue)
    return {
        "seconds": elapsed,
        "points": n - first,
        "waiting": waiting,
        "checks": checks,
        "exactly_once": set(checks) == {n},
        "exit": [p.returncode for p in procs],
        "bytes": size,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--per-message", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=5000)
    ap.add_argument("--ceiling-repeat", type=int, default=3)
    args = ap.parse_args()
    n = args.points - args.points % (len(DRONES) * args.per_message)
    prefix = f"b{uuid.uuid4().hex[:8]}"
    stream = messages(n, args.per_message, prefix)
    size = sum(len(p) for _, p in stream)
    print(f"stream: {n:,} points in {len(stream):,} messages ({size / 1e6:.1f} MB)")
    secs = ceiling(stream * args.ceiling_repeat, prefix) / args.ceiling_repeat
    print(f"ceiling  mosquitto_sub -q 1 (C)   : {n / secs:>10,.0f} points/s ({secs:.2f} s)")
    reps = args.ceiling_repeat
    secs = amqp_ceiling(len(stream) * reps, args.per_message, args.batch_size) / reps
    print(f"ceiling  amqp_drain, quorum (C)   : {n / secs:>10,.0f} points/s ({secs:.2f} s)")
    for consumers in (1, 2):
        r = ingest(n, args.per_message, consumers, args.batch_size)
        print(
            f"ingest   {consumers} x agritrace ingest : {r['points'] / r['seconds']:>10,.0f} "
            f"points/s ({r['points']:,} points in {r['seconds']:.2f} s after the first batch; "
            f"{r['waiting']:,} messages queued; rows/distinct/keys/point_count "
            f"{'/'.join(f'{c:,}' for c in r['checks'])}: "
            f"exactly once {'yes' if r['exactly_once'] else 'NO'}; exit {r['exit']})"
        )
    points_b, keys_b = r["bytes"]
    print(
        f"storage  {(points_b + keys_b) / n:,.0f} bytes per point on PostgreSQL "
        f"(telemetry partitions {points_b / n:,.0f} + telemetry_keys {keys_b / n:,.0f}, "
        "indexes included)"
    )


if __name__ == "__main__":
    main()
