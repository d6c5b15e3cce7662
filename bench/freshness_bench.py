"""Freshness of the drone ingest as an operator feels it: publish -> readable through the API.

Run (the defaults are the full measurement: five steps of 30 s, each followed by up to
``--drain`` seconds for the ingester to catch up; 3 to 8 minutes in all)::

    .venv/bin/python bench/freshness_bench.py
    .venv/bin/python bench/freshness_bench.py --drones 500,1000 --warmup 5 --duration 10  # smoke
    .venv/bin/python bench/freshness_bench.py --help

Everything real, on one machine: a private Mosquitto with the production limits of
``deploy/mosquitto/mosquitto.conf`` (its cap on messages in flight; deep queues), a
PostgreSQL database of its own (``agritrace_bench_fresh``, made afresh and dropped after),
``agritrace ingest`` and ``agritrace serve`` as subprocesses (the commands an operator
deploys), and publishers in several processes, QoS 1, one connection per process carrying
its share of the fleet: by default lean ones that write each tick's MQTT packets in one
call (``bench/wire_publisher.py``), so that the simulated fleet leaves the shared cores to
what is measured; ``--publisher paho`` uses the project's paho
:class:`~drone_ingest.publisher.Publisher` instead, a message at a time.

Per step of the sweep (``--drones``), N drones each fly a spray mission over a fixture
field, one point a second (the ``telemetry`` contract, ``seq`` counting up per drone and
going on from step to step; the drones spread evenly over each second), for ``--warmup``
seconds and then ``--duration`` seconds measured. Three things are measured over the
same HTTP server at the same time:

1. **Point freshness.** A reader polls ``GET /api/v1/missions/{id}`` (the flying mission
   as an operator's page reads it; its ``point_count`` moves with every stored point) for
   a sample of drones, round robin. Each poll that sees the count grow from ``a`` to ``b``
   makes points ``a .. b-1`` readable at that poll's answer; their age is that moment minus
   the moment their publisher handed them to paho (kept by the publisher). Points
   published during the warm-up are not counted. p50/p90/p99/max per step, the poll's
   own round trip (the resolution), the publish rate achieved, and the backlog: published
   but not yet received by the ingester (broker side) and received but not committed
   (the ingester's own queue), sampled once a second from its ``/metrics``.
2. **A finished mission's result.** ``--ends`` drones per step send their mission's
   ``end`` event during the measured window (then start a new mission). Timed from the
   end event's publish until ``GET /api/v1/missions/{id}`` is complete and measured with
   every published point, and the diary line of each treated field
   (``GET /api/v1/diary?field_code=...``, an entry naming the mission) is there. Goal:
   within 10 s, even under a backlog.
3. **The ceiling in the same run.** The same reader polls the same endpoint for a
   mission whose count is moved by an ``UPDATE`` straight in the database (no broker, no
   ingester) once a second: the time from the commit until the API shows it. And the
   round trip of ``/healthz``. Both say what the machine does when only the read is left.

The last line gives the publish rate (points/s) at which p99 first crosses 1 s,
interpolated between steps ("not crossed" if it stays under).
"""

from __future__ import annotations

import argparse
import math
import multiprocessing as mp
import os
import queue
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import orjson
from shapely.geometry import shape
from sqlalchemy import create_engine, text
from sqlmodel import Session, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_bench import (  # noqa: E402
    AGRITRACE,
    DEPLOYED_INFLIGHT,
    PG_ADMIN,
    Broker,
    free_port,
    migrate_as,
)
from wire_publisher import WirePublisher  # noqa: E402

from traceability.db import make_engine  # noqa: E402
from traceability.models import Drone, FarmField, Mission  # noqa: E402
from traceability.services.fixtures import load_fixtures  # noqa: E402

PRODUCT = "FUJIONE40EC"  # a fixture pesticide sprayed as a liquid
TOKEN = "freshness-bench-admin-token-" + "x" * 16
PREFIX = "fresh"
SWATH_M = 6.5
M_PER_DEG = 111_320.0


# ---------------------------------------------------------------- the fleet


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")


def _point(mission: str, seq: int, t: float, lon0: float, lat0: float, k: int) -> bytes:
    """Point ``k`` of a mission: a lawnmower of 20 m legs, 4 m/s, over the field's middle."""
    leg, along = divmod(k % 200, 5)
    east = along * 4.0 if leg % 2 == 0 else (4 - along) * 4.0
    north = leg * SWATH_M - 130.0 if leg * SWATH_M > 130 else leg * SWATH_M
    lat = lat0 + (north - 20.0) / M_PER_DEG
    lon = lon0 + (east - 8.0) / (M_PER_DEG * math.cos(math.radians(lat0)))
    return orjson.dumps(
        {
            "mission_id": mission,
            "seq": seq,
            "ts": _iso(t),
            "lat": lat,
            "lon": lon,
            "alt_m": 2.5,
            "speed_mps": 4.0,
            "heading_deg": 90.0,
            "spraying": True,
            "flow_lpm": 2.0,
            "swath_m": SWATH_M,
            "battery_pct": 80.0,
        }
    )


def _start(mission: str, t: float) -> bytes:
    return orjson.dumps(
        {
            "event": "start",
            "mission_id": mission,
            "ts": _iso(t),
            "type": "spray",
            "product_code": PRODUCT,
            "swath_m": SWATH_M,
        }
    )


def _end(mission: str, t: float) -> bytes:
    return orjson.dumps({"event": "end", "mission_id": mission, "ts": _iso(t)})


@dataclass
class Plan:
    """What one publisher process flies."""

    mqtt_url: str
    step: str
    drones: list[tuple[str, float, float]]  # code, lon, lat of its field's middle
    t0: float  # wall clock of second 0
    seconds: int  # warm-up and measured window
    sample: set[str]  # drones whose publish times are kept
    ends: dict[str, int]  # drone -> the second its end event goes
    seq0: int  # the step's first seq: a drone's seq goes on from step to step
    tick_s: float  # points due within this of now go at once (0: a sleep before each)
    publisher: str  # "wire" (one write a tick) or "paho" (the project's Publisher)


class _PahoOut:
    """The project's paho :class:`~drone_ingest.publisher.Publisher`, a message at a time."""

    def __init__(self, mqtt_url: str, client_id: str) -> None:
        from drone_ingest.publisher import Publisher

        self._pub = Publisher(mqtt_url=mqtt_url, client_id=client_id)

    def publish_many(self, messages: list[tuple[bytes, bytes]]) -> None:
        for topic, payload in messages:
            self._pub.publish(topic.decode(), payload)

    def close(self) -> None:
        self._pub.close()


def publish_fleet(plan: Plan, out, live, counter) -> None:
    """One publisher process: its drones at 1 Hz, each spread evenly over the second.

    ``live`` gets each end event as it goes; ``counter`` (shared) counts what was published.
    A point's publish time is taken when it is built, before it is handed to the socket
    (``wire``: the messages due by the same tick go in one write) or to paho (``paho``: one
    at a time).
    """
    cid = f"fresh-pub-{uuid.uuid4().hex[:8]}"
    one_by_one = plan.publisher != "wire"
    pub = (_PahoOut if one_by_one else WirePublisher)(plan.mqtt_url, cid)
    n = len(plan.drones)
    mission = {code: f"{plan.step}-{code}-0" for code, _, _ in plan.drones}
    done_points = {code: 0 for code, _, _ in plan.drones}  # points of the current mission
    seq = {code: plan.seq0 for code, _, _ in plan.drones}
    kept: dict[str, list[float]] = {code: [] for code in plan.sample}
    ends: list[tuple[str, str, float, int]] = []  # mission, drone, end publish time, points
    topics = {code: f"{PREFIX}/drones/{code}/".encode() for code, _, _ in plan.drones}
    batch: list[tuple[bytes, bytes]] = []

    def send(topic: bytes, payload: bytes) -> None:
        batch.append((topic, payload))
        counter.value += 1
        if one_by_one or len(batch) >= 256:  # a publisher behind its schedule never sleeps
            flush()

    def flush() -> None:
        if batch:
            pub.publish_many(batch)
            batch.clear()

    published = 0
    late = 0.0
    for code, _, _ in plan.drones:
        send(topics[code] + b"mission", _start(mission[code], plan.t0))
    for s in range(plan.seconds):
        for i, (code, lon, lat) in enumerate(plan.drones):
            due = plan.t0 + s + i / n
            wait = due - time.time()
            if wait > plan.tick_s:
                # Asleep until the next tick, then every point due by then at once: a
                # sleep and a wake of paho's thread per point took more of the shared
                # cores than the ingester did (147 us a point).
                flush()
                time.sleep(wait)
            elif wait < 0:
                late = max(late, -wait)
            now = time.time()
            send(
                topics[code] + b"telemetry",
                _point(mission[code], seq[code], now, lon, lat, done_points[code]),
            )
            if code in kept:
                kept[code].append(now)
            seq[code] += 1
            done_points[code] += 1
            published += 1
            if plan.ends.get(code) == s:
                now = time.time()
                send(topics[code] + b"mission", _end(mission[code], now))
                ends.append((mission[code], code, now, done_points[code]))
                live.put((mission[code], now, done_points[code]))
                mission[code] = f"{plan.step}-{code}-1"
                done_points[code] = 0
                send(topics[code] + b"mission", _start(mission[code], now))
    flush()
    last_sent = time.time()
    pub.close()
    cpu = os.times()
    out.put(
        {
            "kept": kept,
            "ends": ends,
            "published": published,
            "late_s": late,
            "cpu_s": cpu.user + cpu.system,
            "sent_s": last_sent - plan.t0,
        }
    )


# ---------------------------------------------------------------- the reader


class Api:
    """A keep-alive HTTP client of the server (one per thread)."""

    def __init__(self, port: int) -> None:
        import http.client

        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Authorization": f"Bearer {TOKEN}"}

    def get(self, path: str) -> tuple[int, dict | None]:
        """Status and JSON of a GET."""
        self.conn.request("GET", path, headers=self.headers)
        r = self.conn.getresponse()
        body = r.read()
        return r.status, (orjson.loads(body) if body and r.status == 200 else None)


@dataclass
class Seen:
    """What the reader saw of one step."""

    counts: dict[str, list[tuple[int, float]]] = field(default_factory=dict)  # drone -> (count, t)
    rtt: list[float] = field(default_factory=list)
    ends: dict[str, float] = field(default_factory=dict)  # mission -> readable at
    pending: dict[str, tuple[float, int]] = field(default_factory=dict)  # ended: at, points
    ceiling: list[float] = field(default_factory=list)
    healthz: list[float] = field(default_factory=list)
    backlog: list[tuple[float, float, float]] = field(default_factory=list)  # t, broker, queue


def poll_points(port: int, step: str, sample: list[str], stop: threading.Event, seen: Seen) -> None:
    """Round robin over the sampled drones' first missions, as fast as answers come."""
    api = Api(port)
    last = dict.fromkeys(sample, 0)
    for code in sample:
        seen.counts[code] = []
    while not stop.is_set():
        for code in sample:
            t = time.time()
            status, body = api.get(f"/api/v1/missions/{step}-{code}-0")
            now = time.time()
            seen.rtt.append(now - t)
            if status == 200 and body["point_count"] > last[code]:
                last[code] = body["point_count"]
                seen.counts[code].append((last[code], now))


def poll_ends(port: int, live, stop: threading.Event, seen: Seen) -> None:
    """Each ended mission (as its publisher reports it), until its result and diary
    lines are readable."""
    api = Api(port)
    pending = seen.pending
    while not stop.is_set():
        while True:
            try:
                mission, t_end, n = live.get_nowait()
            except queue.Empty:
                break
            pending[mission] = (t_end, n)
        for mission, (t_end, n) in list(pending.items()):
            if mission in seen.ends or time.time() < t_end:
                continue
            status, body = api.get(f"/api/v1/missions/{mission}")
            if (
                status != 200
                or body["status"] != "complete"
                or body["measured_at"] is None
                or body["point_count"] < n
                or body["treated_area_ha"] is None
                or not body["fields"]
            ):
                continue
            lines = 0
            for f in body["fields"]:
                _, diary = api.get(f"/api/v1/diary?field_code={f['field_code']}&limit=200")
                lines += any(e.get("mission_id") == mission for e in (diary or {}).get("data", []))
            if lines == len(body["fields"]):
                seen.ends[mission] = time.time()
        time.sleep(0.05)


def poll_ceiling(port: int, url: str, mission: str, stop: threading.Event, seen: Seen) -> None:
    """A count moved straight in the database once a second; and ``/healthz``."""
    api = Api(port)
    engine = create_engine(url)
    n = 0
    while not stop.is_set():
        n += 1
        with engine.begin() as c:
            c.execute(
                text("UPDATE missions SET point_count = :n WHERE mission_id = :m"),
                {"n": n, "m": mission},
            )
        committed = time.time()
        while not stop.is_set():
            _, body = api.get(f"/api/v1/missions/{mission}")
            if body and body["point_count"] >= n:
                seen.ceiling.append(time.time() - committed)
                break
        t = time.time()
        api.get("/healthz")
        seen.healthz.append(time.time() - t)
        time.sleep(max(0.0, committed + 1.0 - time.time()))
    engine.dispose()


def _counts(metrics_port: int) -> tuple[float, float] | None:
    """(received, committed) messages of one ingester, from its ``/metrics``."""
    try:
        text_ = urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5).read()
    except OSError:
        return None
    values = {}
    for line in text_.decode().splitlines():
        if line and not line.startswith("#") and " " in line:
            name, value = line.rsplit(" ", 1)
            values[name] = float(value)
    received = values.get("agritrace_ingest_messages_received_total", 0.0)
    return received, values.get("agritrace_ingest_messages_committed_total", received)


def poll_backlog(metrics_ports: list[int], published, stop: threading.Event, seen: Seen) -> None:
    """Once a second: published but not received (broker), received but not committed,
    summed over every ingester."""
    while not stop.wait(1.0):
        counts = [_counts(p) for p in metrics_ports]
        if any(c is None for c in counts):
            continue
        received = sum(c[0] for c in counts)
        committed = sum(c[1] for c in counts)
        seen.backlog.append((time.time(), published() - received, received - committed))


# ---------------------------------------------------------------- one step


def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile (nearest rank) of ``values``."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def _fmt(values: list[float]) -> str:
    if not values:
        return "none seen"
    return (
        f"p50 {pct(values, 0.5):6.3f}  p90 {pct(values, 0.9):6.3f}  "
        f"p99 {pct(values, 0.99):6.3f}  max {max(values):6.3f} s  (n={len(values):,})"
    )


def run_step(
    args, broker: Broker, url: str, engine, port: int, metrics_ports: list[int], n: int
) -> dict:
    """One step of the sweep: ``n`` drones for warm-up and window; the figures."""
    step = f"s{n}-{uuid.uuid4().hex[:4]}"
    codes = [f"FR-{i:05d}" for i in range(n)]
    with Session(engine) as s:
        have = set(s.exec(select(Drone.code).where(Drone.code.like("FR-%"))).all())
        s.add_all(Drone(code=c, swath_m=SWATH_M) for c in codes if c not in have)
        s.commit()
        geometries = s.exec(select(FarmField.geometry).order_by(FarmField.code)).all()
    middles = [(p.x, p.y) for p in (shape(g).representative_point() for g in geometries)]
    fleet = [(c, *middles[i % len(middles)]) for i, c in enumerate(codes)]
    sample = codes[:: max(1, n // args.sample)][: args.sample]
    seconds = args.warmup + args.duration
    # The end events: spread over the measured window, none in its last 2 s.
    # Never a sampled drone: the reader follows a sampled drone's first mission only.
    sampled = set(sample)
    enders = [c for c in codes[1 :: max(1, n // max(1, args.ends))] if c not in sampled]
    enders = enders[: args.ends]
    ends = {
        c: args.warmup + int(i * max(1, args.duration - 2) / max(1, len(enders)))
        for i, c in enumerate(enders)
    }
    procs = max(1, min(args.publishers, n))
    t0 = time.time() + 2.0 + n / 2000  # time for every process to connect
    out, live = mp.Queue(), mp.Queue()
    counters = [mp.Value("q", 0, lock=False) for _ in range(procs)]
    workers = []
    for k in range(procs):
        mine = fleet[k::procs]
        plan = Plan(
            mqtt_url=broker.url,
            step=step,
            drones=mine,
            t0=t0,
            seconds=seconds,
            sample={c for c, _, _ in mine if c in set(sample)},
            ends={c: s for c, s in ends.items() if any(c == m[0] for m in mine)},
            seq0=int(args.published_before) + 1,  # above any seq an earlier step sent
            tick_s=args.tick,
            publisher=args.publisher,
        )
        w = mp.Process(target=publish_fleet, args=(plan, out, live, counters[k]), daemon=True)
        w.start()
        workers.append(w)
    seen = Seen()
    stop = threading.Event()
    pending = seen.pending
    window = (t0 + args.warmup, t0 + seconds)

    def published() -> float:
        # The ingester's counts run over the whole sweep; the publishers' over one step.
        return args.published_before + float(sum(c.value for c in counters))

    threads = [
        threading.Thread(target=poll_points, args=(port, step, sample, stop, seen)),
        threading.Thread(target=poll_ends, args=(port, live, stop, seen)),
        threading.Thread(target=poll_ceiling, args=(port, url, "fresh-ceiling", stop, seen)),
        threading.Thread(target=poll_backlog, args=(metrics_ports, published, stop, seen)),
    ]
    for th in threads:
        th.start()
    results = [out.get(timeout=seconds + 600) for _ in workers]
    for w in workers:
        w.join(30)
    for r in results:
        for mission, _code, t_end, points in r["ends"]:
            live.put((mission, t_end, points))
    time.sleep(0.2)
    kept: dict[str, list[float]] = {}
    for r in results:
        kept.update(r["kept"])

    def caught_up() -> bool:
        points = all(
            seen.counts.get(c) and seen.counts[c][-1][0] >= len(t) for c, t in kept.items()
        )
        return points and len(seen.ends) >= len(pending)

    # Let the stored points and the ended missions catch up (bounded by --drain), so
    # that the next step starts on an empty backlog.
    drain_until = time.time() + args.drain
    while time.time() < drain_until and not caught_up():
        time.sleep(0.2)
    drained = time.time() - window[1]
    stop.set()
    for th in threads:
        th.join(60)

    ages = []
    unseen = 0
    for code, times in kept.items():
        prev = 0
        for count, t_seen in seen.counts.get(code, []):
            for q in range(prev, min(count, len(times))):
                if window[0] <= times[q] < window[1]:
                    ages.append(t_seen - times[q])
            prev = count
        unseen += sum(1 for q in range(prev, len(times)) if window[0] <= times[q] < window[1])
    total = sum(r["published"] for r in results)
    args.published_before += float(sum(c.value for c in counters))
    end_ages = [seen.ends[m] - t for m, (t, _) in pending.items() if m in seen.ends]
    missing_ends = len(pending) - len(end_ages)
    in_window = [b for b in seen.backlog if window[0] <= b[0] < window[1]]
    late = max(r["late_s"] for r in results)
    publishers_cpu = sum(r["cpu_s"] for r in results)
    # Over the time the publishers took: a publisher that fell behind sent for longer.
    took = max(seconds, max(r["sent_s"] for r in results))
    rate = total / took
    print(f"\n== {n:,} drones at 1 Hz ({procs} publisher processes) ==")
    print(
        f"published  {total:,} points in {took:.1f} s: {rate:,.0f} points/s achieved "
        f"(asked {n:,}/s; the latest publisher fell {late:.2f} s behind its schedule)"
    )
    print(
        f"           the {args.publisher} publishers used {publishers_cpu:.1f} CPU s in all "
        f"(with starting up; {publishers_cpu / took:.2f} of a core over the {took:.0f} s they sent)"
    )
    print(f"point      publish -> readable  {_fmt(ages)}; not readable by the end: {unseen:,}")
    print(f"           reader's poll round trip {_fmt(seen.rtt)} ({len(sample)} drones sampled)")
    if in_window:
        print(
            "backlog    broker (published, not yet received) max "
            f"{max(b[1] for b in in_window):,.0f} msgs, last {in_window[-1][1]:,.0f}; "
            f"ingester queue (received, not committed) max {max(b[2] for b in in_window):,.0f}"
        )
        if args.timeline:
            print(
                "           each second (broker / ingester queue): "
                + ", ".join(f"{b[1]:,.0f}/{b[2]:,.0f}" for b in in_window)
            )
    print(
        f"mission    end event -> result and diary readable  {_fmt(end_ages)}; "
        f"not readable within {args.drain:.0f} s after the window: {missing_ends}"
    )
    print(f"caught up  {drained:.1f} s after the window (--drain {args.drain:.0f})")
    print(f"ceiling    DB update -> readable  {_fmt(seen.ceiling)}")
    print(f"           /healthz round trip    {_fmt(seen.healthz)}")
    return {
        "drones": n,
        "rate": rate,
        # A point never seen counts as older than any seen.
        "p99": pct(ages + [math.inf] * unseen, 0.99) if ages or unseen else math.inf,
        "end_max": max(end_ages) if end_ages else float("nan"),
        "ends_missing": missing_ends,
        "unseen": unseen,
    }


def crossing(rows: list[dict], limit: float = 1.0) -> str:
    """The publish rate at which p99 first passes ``limit``, interpolated between steps."""
    below = None
    for row in rows:
        p99 = row["p99"]
        if p99 > limit:
            if below is None:
                return f"p99 is over {limit:g} s already at {row['rate']:,.0f} points/s"
            if math.isinf(p99):
                return f"between {below['rate']:,.0f} and {row['rate']:,.0f} points/s"
            frac = (limit - below["p99"]) / (p99 - below["p99"])
            at = below["rate"] + frac * (row["rate"] - below["rate"])
            return f"about {at:,.0f} points/s (between {below['rate']:,.0f} and {row['rate']:,.0f})"
        below = row
    top = rows[-1]["rate"] if rows else 0
    return f"not crossed up to {top:,.0f} points/s"


# ---------------------------------------------------------------- setup


def database(name: str, code: str | None = None) -> tuple[str, object]:
    """A fresh database ``name``, migrated (by the checkout at ``code``, if given, to the
    schema that code knows), with the fixtures: its URL and engine."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    migrate_as(engine, url, code)
    with Session(engine) as s:
        load_fixtures(s)
        # The ceiling's mission: never flown, its count moved straight in the database.
        s.add(Mission(mission_id="fresh-ceiling", drone_code="FR-CEILING", dirty=False))
        s.commit()
    return url, engine


def drop(name: str) -> None:
    """Drop database ``name``."""
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _wait_http(url: str, timeout: float) -> None:
    end = time.monotonic() + timeout
    while True:
        try:
            urllib.request.urlopen(url, timeout=2).read()
            return
        except OSError:
            if time.monotonic() > end:
                raise RuntimeError(f"{url} did not answer in {timeout:.0f} s") from None
            time.sleep(0.2)


class _Help(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The docstring's commands as written, and each option's default."""


def machine_speed() -> float:
    """Milliseconds this process takes for a fixed Python loop (3 million additions): the
    shared host's speed at the start, to compare runs taken hours apart."""
    t = time.perf_counter()
    total = 0
    for i in range(3_000_000):
        total += i
    return (time.perf_counter() - t) * 1000


def main() -> None:
    """Parse the arguments, set everything up, run the sweep, print the figures."""
    p = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__.split("\n\n")[1] + "\n\n" + __doc__.split("\n\n")[2],
        formatter_class=_Help,
    )
    p.add_argument(
        "--drones", default="500,1000,2000,4000,6000", help="the sweep: drones, each at 1 Hz"
    )
    p.add_argument("--warmup", type=int, default=10, help="seconds before the window")
    p.add_argument("--duration", type=int, default=20, help="seconds measured per step")
    p.add_argument(
        "--drain", type=float, default=60.0, help="at most this long after the window to catch up"
    )
    p.add_argument("--sample", type=int, default=20, help="drones whose points the reader polls")
    p.add_argument("--ends", type=int, default=10, help="end events per step, in the window")
    p.add_argument("--publishers", type=int, default=4, help="publisher processes")
    p.add_argument(
        "--tick",
        type=float,
        default=0.01,
        help="a publisher sends every point due within this many seconds at once; "
        "0 sleeps before each point",
    )
    p.add_argument(
        "--publisher",
        choices=("wire", "paho"),
        default="wire",
        help="wire: MQTT packets built by the standard's layout, one write a tick "
        "(bench/wire_publisher.py); paho: the project's Publisher, a message at a time",
    )
    p.add_argument("--ingesters", type=int, default=1, help="agritrace ingest processes")
    p.add_argument(
        "--ingest-code",
        metavar="PATH",
        help="run the ingesters from another checkout (put first on PYTHONPATH), on the "
        "schema it migrates to, to compare",
    )
    p.add_argument(
        "--max-inflight",
        type=int,
        default=DEPLOYED_INFLIGHT,
        help="the broker's max_inflight_messages (default: deploy/mosquitto/mosquitto.conf's)",
    )
    p.add_argument("--database", default="agritrace_bench_fresh", help="PostgreSQL database")
    p.add_argument("--keep", action="store_true", help="keep the database afterwards")
    p.add_argument(
        "--timeline", action="store_true", help="print the backlog of each second of the window"
    )
    args = p.parse_args()
    speed = machine_speed()  # before anything of the benchmark runs
    sweep = [int(x) for x in args.drones.split(",") if x]
    args.published_before = 0.0

    work = Path(tempfile.mkdtemp(prefix="freshness-"))
    broker = Broker(work, args.max_inflight)
    url, engine = database(args.database, args.ingest_code)
    port = free_port()
    metrics_ports = [free_port() for _ in range(args.ingesters)]
    env = os.environ | {
        "AGRITRACE_DATABASE_URL": url,
        "AGRITRACE_MQTT_URL": broker.url,
        "AGRITRACE_TOPIC_PREFIX": PREFIX,
        "AGRITRACE_ADMIN_TOKEN": TOKEN,
        "AGRITRACE_INGEST_SHARE_GROUP": "fresh",
    }
    procs = [
        subprocess.Popen(
            [AGRITRACE, "serve", "--port", str(port), "--no-migrate"],
            env=env,
            stdout=(work / "serve.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
    ]
    for k in range(args.ingesters):
        cmd = [AGRITRACE, "ingest", "--client-id", f"fresh-ingest-{k}"]
        cmd += ["--http-port", str(metrics_ports[k])]  # the backlog is summed over them all
        ingest_env = env | ({"PYTHONPATH": args.ingest_code} if args.ingest_code else {})
        procs.append(
            subprocess.Popen(
                cmd,
                env=ingest_env,
                stdout=(work / f"ingest-{k}.log").open("wb"),
                stderr=subprocess.STDOUT,
            )
        )
    started = time.time()
    rows = []
    try:
        _wait_http(f"http://127.0.0.1:{port}/healthz", 60)
        for metrics_port in metrics_ports:
            _wait_http(f"http://127.0.0.1:{metrics_port}/readyz", 60)
        print(
            f"freshness: PostgreSQL {args.database}, Mosquitto {broker.url}, "
            f"{args.ingesters} ingester(s) from {args.ingest_code or 'this checkout'}, "
            f"API on :{port}; {os.cpu_count()} cores, "
            f"load average {os.getloadavg()[0]:.1f} at the start, a fixed loop took "
            f"{speed:.0f} ms (lower is faster); logs in {work}"
        )
        for n in sweep:
            rows.append(run_step(args, broker, url, engine, port, metrics_ports, n))
            print(f"           (load average {os.getloadavg()[0]:.1f})")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        broker.stop()
        engine.dispose()
        if not args.keep:
            drop(args.database)
            shutil.rmtree(work, ignore_errors=True)
    print(f"\np99 of publish -> readable crosses 1 s at {crossing(rows)}")
    ends = [r["end_max"] for r in rows if not math.isnan(r["end_max"])]
    missing = sum(r["ends_missing"] for r in rows)
    if ends or missing:
        worst = max(ends, default=0.0)
        verdict = "met" if worst <= 10 and not missing else "NOT met"
        print(
            f"finished mission readable within 10 s: {verdict} (worst seen {worst:.1f} s; "
            f"{missing} not readable by the end of their step's --drain)"
        )
    median = statistics.median(r["rate"] for r in rows) if rows else 0.0
    print(f"total {time.time() - started:.0f} s; median step rate {median:,.0f} points/s")


if __name__ == "__main__":
    main()
