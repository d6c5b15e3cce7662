"""Sustained MQTT ingest into SQLite and PostgreSQL, against a C subscriber's ceiling.

Run with ``.venv/bin/python bench/ingest_bench.py [--points 200000] [--per-message 100]``.

Method: a private Mosquitto (tuned as in ``deploy/mosquitto.conf``) holds a backlog of
N points (arrays of ``--per-message`` points from 8 drones) queued for a persistent
session; then the consumer connects and we time how long it takes to drain it.

- ceiling: ``mosquitto_sub -q 1`` (C, output to /dev/null) on the same shared
  subscription, counting messages (``-C``);
- ingest: :class:`drone_ingest.client.Ingester` storing into SQLite (a file) and into
  PostgreSQL (127.0.0.1:5432), timed until it has stored N points, then checked for
  exactly-once storage (N rows, N distinct ``(drone, seq)``, mission point counts sum to N).
  Beside the rate, the CPU time of the process over the drain, per point (the broker and
  PostgreSQL not included);
- the floor: the rows the drain stored copied aside and put back with one
  ``INSERT … SELECT`` per point table in one transaction (:func:`floor`, shared with
  ``ingest_live_bench.py``); the drain's rate is given as a share of it.

A backlog isolates the consumer: a live publisher in Python would be the bottleneck.
"""

from __future__ import annotations

import argparse
import getpass
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from sqlalchemy import create_engine, func, select, text
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drone_ingest.client import Ingester  # noqa: E402
from drone_ingest.publisher import Publisher  # noqa: E402
from traceability.db import make_engine, migrate  # noqa: E402
from traceability.ingest.points import COLUMNS  # noqa: E402
from traceability.models import Drone, Mission, TelemetryPoint  # noqa: E402

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_SUB = shutil.which("mosquitto_sub") or "/usr/bin/mosquitto_sub"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
DRONES = [f"BENCH-{i:02d}" for i in range(8)]
GROUP = "bench"
AGRITRACE = str(Path(sys.executable).with_name("agritrace"))


def _deployed(setting: str) -> str:
    """A setting of the production broker (``deploy/mosquitto/mosquitto.conf``)."""
    conf = Path(__file__).resolve().parents[1] / "deploy/mosquitto/mosquitto.conf"
    for line in conf.read_text().splitlines():
        if line.split(None, 1)[:1] == [setting]:
            return line.split(None, 1)[1].strip()
    raise KeyError(setting)


#: The production broker's cap on unacknowledged messages per client.
DEPLOYED_INFLIGHT = int(_deployed("max_inflight_messages"))


def migrate_as(engine, url: str, code: str | None) -> None:
    """Bring a fresh database to this checkout's schema or, given ``code``, to the one
    that checkout knows (its ingesters refuse a schema newer than theirs)."""
    if not code:
        migrate(engine)
        return
    env = os.environ | {"PYTHONPATH": code, "AGRITRACE_DATABASE_URL": url}
    subprocess.run([AGRITRACE, "db", "upgrade"], env=env, check=True, capture_output=True)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Broker:
    """A private, tuned Mosquitto: the production broker's in-flight cap, queues unbounded."""

    def __init__(self, workdir: Path, max_inflight: int = DEPLOYED_INFLIGHT) -> None:
        self.port = free_port()
        conf = workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\nallow_anonymous true\nuser {getpass.getuser()}\n"
            f"persistence false\nmax_inflight_messages {max_inflight}\nmax_queued_messages 0\n"
            "max_queued_bytes 0\nlog_dest none\n"
        )
        self.proc = subprocess.Popen([MOSQUITTO, "-c", str(conf)])
        time.sleep(0.3)
        self.url = f"mqtt://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def messages(
    n_points: int, per_message: int, prefix: str, drones: list[str] = DRONES
) -> list[tuple[str, bytes]]:
    """The stream: each drone flies one mission; points are split evenly among drones."""
    t0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    out = []
    per_drone = n_points // len(drones)
    for d, drone in enumerate(drones):
        points = [
            {
                "mission_id": f"{prefix}-{drone}",
                "seq": i,
                "ts": (t0 + timedelta(seconds=i * 0.2)).isoformat(),
                "lat": 9.23 + d * 0.01 + (i % 1000) * 1e-5,
                "lon": 105.43 + (i // 1000) * 1e-4,
                "alt_m": 3.0,
                "speed_mps": 5.0,
                "heading_deg": 90.0,
                "spraying": True,
                "flow_lpm": 2.0,
                "swath_m": 6.5,
                "tank_remaining": 30.0,
                "battery_pct": 80.0,
            }
            for i in range(per_drone)
        ]
        for i in range(0, per_drone, per_message):
            out.append(
                (f"{prefix}/drones/{drone}/telemetry", orjson.dumps(points[i : i + per_message]))
            )
    # Interleave drones, as a fleet's traffic is.
    out.sort(key=lambda m: (orjson.loads(m[1])[0]["seq"], m[0]))
    return out


def preload(url: str, stream: list[tuple[str, bytes]]) -> None:
    pub = Publisher(mqtt_url=url)
    for topic, payload in stream:
        pub.publish(topic, payload)
    pub.close()


def ceiling(broker: Broker, stream, prefix: str) -> float:
    cid = f"bench-sub-{uuid.uuid4().hex[:6]}"
    topic = f"$share/{GROUP}/{prefix}/drones/+/+"
    base = [
        MOSQUITTO_SUB,
        "-h",
        "127.0.0.1",
        "-p",
        str(broker.port),
        "-q",
        "1",
        "-c",
        "-i",
        cid,
        "-t",
        topic,
    ]
    # Create the persistent session, then queue the backlog for it.
    subprocess.run(
        [*base, "-W", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False
    )
    preload(broker.url, stream)
    t = time.perf_counter()
    subprocess.run(
        [*base, "-C", str(len(stream))], stdout=subprocess.DEVNULL, check=True, timeout=600
    )
    return time.perf_counter() - t


def ingest(
    broker: Broker,
    engine,
    stream,
    prefix: str,
    n_points: int,
    batch_size: int,
    drones: list[str] = DRONES,
) -> dict:
    with Session(engine) as s:
        for drone in drones:
            s.add(Drone(code=drone, swath_m=6.5))
        s.commit()
    cid = f"bench-ing-{uuid.uuid4().hex[:6]}"
    kw = dict(
        mqtt_url=broker.url,
        engine=engine,
        prefix=prefix,
        client_id=cid,
        share_group=GROUP,
        batch_size=batch_size,
        flush_ms=50,
    )
    ing = Ingester(**kw)
    ing.start()
    ing.wait_ready(10)
    ing.stop()
    preload(broker.url, stream)

    ing = Ingester(**kw)
    t = time.perf_counter()
    cpu = time.process_time()
    ing.start()
    # Poll the ingester's own counter: a count(*) every few ms would compete for the CPU.
    while ing.stats.stored < n_points:
        time.sleep(0.02)
        if time.perf_counter() - t > 900:
            raise RuntimeError("ingest did not finish in 15 minutes")
    elapsed = time.perf_counter() - t
    cpu = time.process_time() - cpu
    ing.stop()
    return {"seconds": elapsed, "cpu_seconds": cpu, "batches": ing.stats.batches} | stored_once(
        engine, n_points
    )


def stored_once(engine, n_points: int) -> dict:
    """Rows, distinct ``(drone, seq)`` and the missions' ``point_count``: each must be N."""
    with engine.connect() as c:
        rows = c.execute(select(func.count()).select_from(TelemetryPoint)).scalar_one()
        distinct = c.execute(
            select(func.count()).select_from(
                select(TelemetryPoint.drone_code, TelemetryPoint.seq).distinct().subquery()
            )
        ).scalar_one()
        counted = c.execute(select(func.sum(Mission.point_count))).scalar_one()
    return {
        "rows": rows,
        "distinct": distinct,
        "point_count_sum": counted,
        "exactly_once": rows == distinct == counted == n_points,
    }


def floor(engine, n: int) -> float:
    """Seconds the database takes to put back the ``n`` stored points with one
    ``INSERT … SELECT`` per point table, in one transaction (the rows copied aside first)."""
    names = ", ".join(COLUMNS)
    with engine.begin() as c:
        c.execute(text(f"CREATE TABLE aside_points AS SELECT {names} FROM telemetry"))
        c.execute(text("CREATE TABLE aside_keys AS SELECT drone_code, seq FROM telemetry_keys"))
        if engine.dialect.name == "postgresql":
            c.execute(text("TRUNCATE telemetry, telemetry_keys"))
        else:
            c.execute(text("DELETE FROM telemetry"))
            c.execute(text("DELETE FROM telemetry_keys"))
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        t = time.perf_counter()
        cur.execute(
            "INSERT INTO telemetry_keys (drone_code, seq) SELECT drone_code, seq FROM aside_keys"
        )
        cur.execute(f"INSERT INTO telemetry ({names}) SELECT {names} FROM aside_points")
        raw.commit()
        seconds = time.perf_counter() - t
        cur.close()
    finally:
        raw.close()
    with engine.connect() as c:
        back = c.execute(text("SELECT count(*) FROM telemetry")).scalar_one()
    if back != n:
        raise RuntimeError(f"the floor put back {back} points, not {n}")
    return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=200_000)
    ap.add_argument("--per-message", type=int, default=100)
    ap.add_argument("--batch-size", type=int, default=5000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--ceiling-repeat", type=int, default=10)
    ap.add_argument(
        "--max-inflight",
        type=int,
        default=DEPLOYED_INFLIGHT,
        help="broker max_inflight_messages (default: deploy/mosquitto/mosquitto.conf's)",
    )
    ap.add_argument(
        "--drones",
        type=int,
        default=len(DRONES),
        help="drones the stream is spread over (a fleet's one-point messages: --drones 6000 "
        "--per-message 1)",
    )
    args = ap.parse_args()
    fleet = DRONES if args.drones == len(DRONES) else [f"BENCH-{i:05d}" for i in range(args.drones)]
    n = args.points - args.points % (len(fleet) * args.per_message)
    work = Path(tempfile.mkdtemp(prefix="ingest-bench-"))
    work.chmod(0o777)
    broker = Broker(work, args.max_inflight)
    try:
        prefix = f"b{uuid.uuid4().hex[:8]}"
        stream = messages(n, args.per_message, prefix, fleet)
        size = sum(len(p) for _, p in stream)
        print(
            f"stream: {n:,} points in {len(stream):,} messages of {args.per_message} "
            f"({size / 1e6:.1f} MB)"
        )
        # Repeat the stream for the ceiling: one pass takes mosquitto_sub a few tens of ms,
        # too little to time well.
        secs = ceiling(broker, stream * args.ceiling_repeat, prefix) / args.ceiling_repeat
        print(
            f"ceiling  mosquitto_sub -q 1      : {n / secs:>10,.0f} points/s  "
            f"({len(stream) / secs:,.0f} msg/s, {secs:.2f} s)"
        )
        for backend in args.backends.split(","):
            prefix = f"b{uuid.uuid4().hex[:8]}"
            stream = messages(n, args.per_message, prefix, fleet)
            if backend == "sqlite":
                engine = make_engine(f"sqlite:///{work}/bench.db")
                drop = None
            else:
                name = f"agritrace_bench_{uuid.uuid4().hex[:6]}"
                admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
                with admin.connect() as c:
                    c.execute(text(f'CREATE DATABASE "{name}"'))
                engine = make_engine(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
                drop = (admin, name)
            migrate(engine)
            try:
                r = ingest(broker, engine, stream, prefix, n, args.batch_size, fleet)
                r["floor"] = floor(engine, n)
            finally:
                engine.dispose()
                if drop:
                    with drop[0].connect() as c:
                        c.execute(text(f'DROP DATABASE IF EXISTS "{drop[1]}" WITH (FORCE)'))
            print(
                f"ingest   {backend:<22}: {n / r['seconds']:>10,.0f} points/s  "
                f"({r['seconds']:.2f} s, CPU {r['cpu_seconds'] / n * 1e6:.1f} us/point, "
                f"{r['batches']} commits; rows {r['rows']:,}, distinct {r['distinct']:,}, "
                f"point_count {r['point_count_sum']:,}: "
                f"exactly once {'yes' if r['exactly_once'] else 'NO'}); floor "
                f"{n / r['floor']:,.0f} points/s, {r['floor'] / r['seconds']:.2f} of it"
            )
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
