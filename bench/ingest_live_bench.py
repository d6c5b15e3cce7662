"""A live stream of drone telemetry, stored by one and by two ingester processes, against C.

Run with ``.venv/bin/python bench/ingest_live_bench.py [--points 400000] [--backends ...]``.

Method: a private Mosquitto; the consumers subscribe first, then eight C publishers
(``mosquitto_pub -l -q 1``, one per drone, fed the JSON messages on stdin) send the
stream as fast as the broker takes it. Each consumer is timed from the first publish
until it holds every point:

- ceiling: ``mosquitto_sub -q 1 -C N`` (C, output to /dev/null) on the same shared
  subscription, until it has counted every message;
- one ingester: ``agritrace ingest`` (a real process, as deployed) storing into SQLite
  or PostgreSQL, timed until the missions' ``point_count`` adds up to N;
- two ingesters: two ``agritrace ingest`` processes on the same shared subscription,
  the broker splitting the stream between them.

The anchor of each ingest run is the database's own work for the very rows it stored
(the floor): once the run is checked, its ``telemetry_keys`` and ``telemetry`` rows are
copied aside, both tables emptied, and the rows put back with one ``INSERT … SELECT`` per
table in one transaction, timed. The ingester's rate over the floor's, on the same rows,
in the same run, is the figure to compare across runs on a machine whose load varies.
Beside it, the **pipeline alone** on the same stream: the writer's work without the
broker (``handlers.store``, in one thread, over the same messages already in hand, in
batches of the ingester's size), in a process of its own running the same checkout, into
a fresh database of the same backend, timed alone. The live ingester's rate over the
pipeline's tells what the road through MQTT (the network thread, the lanes, the
acknowledgements, the measurer beside them) costs.
``--old PATH`` (repeatable) runs the ingesters of another checkout too (on
``PYTHONPATH``), alternately with this one's, so before and after are measured in the
same run; ``--rounds`` repeats the whole alternation.

Beside the rate, the CPU time the ingester processes used over the timed span (user and
system, from ``/proc``), per point: a figure that other work on the machine moves less
than the rate; and the share of the machine's CPU time left idle over that span
(``/proc/stat``): near none, the stream, the ingester and the database together used
the machine up. After each run the store is checked for exactly-once storage: N rows, N distinct
``(drone, seq)``, and the missions' ``point_count`` summing to N. The publishers run on
the same two cores as the consumers, as they would on a one-machine deployment.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import create_engine, func, select, text
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_bench import (  # noqa: E402
    AGRITRACE,
    DRONES,
    MOSQUITTO_SUB,
    PG_ADMIN,
    Broker,
    floor,
    messages,
    migrate_as,
    stored_once,
)

from traceability.db import make_engine  # noqa: E402
from traceability.models import Drone, Mission  # noqa: E402

GROUP = "live"


def _qos1_at(broker: Broker) -> list[str]:
    """The C clients' arguments for the private broker, at QoS 1."""
    return ["-h", "127.0.0.1", "-p", str(broker.port), "-q", "1"]


def _shared(prefix: str) -> str:
    return f"$share/{GROUP}/{prefix}/drones/+/+"


def publishers(
    broker: Broker, stream: list[tuple[str, bytes]], kind: str = "c"
) -> tuple[list[subprocess.Popen], Callable[[], None]]:
    """One publisher process per drone topic, each to be fed its drone's messages on stdin.

    Returns the processes, connected, and the call that starts feeding them (the clock
    starts there, so a Python publisher's start-up is not timed).

    ``kind`` ``c``: ``mosquitto_pub -l``. ``python``: this script's ``--publish`` mode, the
    project's own paho :class:`~drone_ingest.publisher.Publisher` at QoS 1 (1,000 in
    flight), as a drone's or the simulator's Python client publishes.
    """
    by_topic: dict[str, list[bytes]] = {}
    for topic, payload in stream:
        by_topic.setdefault(topic, []).append(payload)
    procs, feeders = [], []
    for topic, payloads in by_topic.items():
        if kind == "c":
            argv = ["mosquitto_pub", *_qos1_at(broker), "-t", topic, "-l"]
        else:
            argv = [sys.executable, __file__, "--publish", broker.url, topic]
        p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        procs.append(p)
        feeders.append(threading.Thread(target=_feed, args=(p, payloads), daemon=True))
    if kind == "python":
        for p in procs:
            p.stdout.readline()  # "ready": connected

    def go() -> None:
        for f in feeders:
            f.start()

    return procs, go


def _feed(p: subprocess.Popen, payloads: list[bytes]) -> None:
    p.stdin.write(b"\n".join(payloads) + b"\n")
    p.stdin.close()


def publish_stdin(url: str, topic: str) -> None:
    """Publish each line of stdin to ``topic`` at QoS 1 and wait until the broker has them."""
    from drone_ingest.publisher import Publisher

    pub = Publisher(mqtt_url=url)
    pub.flush()
    ready = time.process_time()  # start-up (imports, connecting) is not the stream's work
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    for line in sys.stdin.buffer:
        pub.publish(topic, line.rstrip(b"\n"))
    pub.close()
    sys.stdout.write(f"{ready} {time.process_time()}\n")


def _add_drones(engine) -> None:
    """The stream's drones, registered as an operator registers them."""
    with Session(engine) as s:
        for drone in DRONES:
            s.add(Drone(code=drone, swath_m=6.5))
        s.commit()


def _pipeline(
    backend: str, work: Path, stream, prefix: str, n: int, code: str | None
) -> tuple[float, float]:
    """The pipeline alone's seconds and CPU seconds for the stream, in a process of its
    own running the checkout at ``code`` (or this one), into a fresh database."""
    url, engine, drop = database(backend, work, code)
    try:
        _add_drones(engine)
        stream_file = work / f"stream-{uuid.uuid4().hex[:6]}.tsv"
        stream_file.write_bytes(b"\n".join(t.encode() + b"\t" + p for t, p in stream))
        out = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("ingest_pipeline.py")),
                url,
                prefix,
                str(stream_file),
                *(["--code", code] if code else []),
            ],
            capture_output=True,
            check=True,
        )
        seconds, cpu = map(float, out.stdout.split())
        if not stored_once(engine, n)["exactly_once"]:
            raise RuntimeError("the pipeline alone did not store every point once")
        stream_file.unlink()
        return seconds, cpu
    finally:
        drop()


def _children_cpu() -> float:
    """CPU time (user and system) of this process's children that have ended and been waited for."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def _publishers_cpu(pubs: list[subprocess.Popen]) -> float:
    """Wait for the publishers; the CPU seconds they spent publishing.

    A Python publisher reports its own CPU time from connected to done (its start-up and
    its interpreter's exit are not the stream's work); C publishers' is their whole run.
    """
    before = _children_cpu()
    reported: list[float] = []
    for p in pubs:
        out = p.stdout.read()
        p.wait(60)
        if out.strip():
            ready, done = map(float, out.split())
            reported.append(done - ready)
    return sum(reported) if reported else _children_cpu() - before


def ceiling(broker: Broker, stream, prefix: str, kind: str) -> tuple[float, float]:
    """Seconds the C subscriber takes to receive the live stream, and the CPU seconds of
    the publishers, the broker and the subscriber together."""
    sub = subprocess.Popen(
        [MOSQUITTO_SUB, *_qos1_at(broker), "-t", _shared(prefix), "-C", str(len(stream))],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)  # subscribed
    pubs, go = publishers(broker, stream, kind)
    cpu = -_children_cpu() - _cpu_seconds(broker.proc)
    t = time.perf_counter()
    go()
    sub.wait(600)
    elapsed = time.perf_counter() - t
    cpu += _cpu_seconds(broker.proc) + _children_cpu()  # the broker and the subscriber
    return elapsed, cpu + _publishers_cpu(pubs)


def _stored(engine) -> int:
    """Points committed so far, from the missions' counters (moved in the same transaction).

    Eight rows to add up: a ``count(*)`` of the points every 100 ms would itself take a
    good part of a core from the consumers by the end of the stream.
    """
    with engine.connect() as c:
        return c.execute(select(func.coalesce(func.sum(Mission.point_count), 0))).scalar_one()


def ingest(
    broker: Broker,
    work: Path,
    url: str,
    engine,
    stream,
    prefix: str,
    n: int,
    processes: int,
    kind: str,
    code: str | None = None,
) -> dict:
    """Seconds ``processes`` ingester processes take to store the live stream, and checks."""
    _add_drones(engine)
    env = os.environ | {
        "AGRITRACE_DATABASE_URL": url,
        "AGRITRACE_MQTT_URL": broker.url,
        "AGRITRACE_TOPIC_PREFIX": prefix,
        "AGRITRACE_INGEST_SHARE_GROUP": GROUP,
        "AGRITRACE_INGEST_BATCH_SIZE": "5000",
    }
    if code:
        env["PYTHONPATH"] = code
    ids = [f"live-{i}-{uuid.uuid4().hex[:6]}" for i in range(processes)]
    # Open each ingester's persistent session first, so nothing published while an
    # ingester is still starting is lost to it: the broker queues it for the session.
    for cid in ids:
        subprocess.run(
            [MOSQUITTO_SUB, *_qos1_at(broker), "-c", "-i", cid, "-t", _shared(prefix), "-W", "1"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    logs = [work / f"{cid}.log" for cid in ids]
    procs = [
        subprocess.Popen(
            [AGRITRACE, "ingest", "--client-id", cid],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log.open("wb"),
        )
        for cid, log in zip(ids, logs, strict=True)
    ]
    try:
        # Start the clock once every ingester has migrated, connected and subscribed.
        _wait(lambda: all(b"ingesting" in log.read_bytes() for log in logs), 120)
        time.sleep(0.5)
        pubs, go = publishers(broker, stream, kind)
        cpu = -sum(map(_cpu_seconds, procs))
        stream_cpu = -_cpu_seconds(broker.proc)
        idle0, all0 = _machine_jiffies()
        t = time.perf_counter()
        go()
        while _stored(engine) < n:
            time.sleep(0.1)
            if time.perf_counter() - t > 900:
                raise RuntimeError("ingest did not finish in 15 minutes")
        elapsed = time.perf_counter() - t
        idle1, all1 = _machine_jiffies()
        cpu += sum(map(_cpu_seconds, procs))
        stream_cpu += _cpu_seconds(broker.proc) + _publishers_cpu(pubs)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(60)
    return {
        "seconds": elapsed,
        "cpu_seconds": cpu,
        "stream_cpu_seconds": stream_cpu,
        "idle_share": (idle1 - idle0) / max(1, all1 - all0),
    } | stored_once(engine, n)


def _machine_jiffies() -> tuple[int, int]:
    """The machine's CPU time so far, idle (with I/O wait) and in all, from ``/proc/stat``."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return fields[3] + fields[4], sum(fields)


def _cpu_seconds(proc: subprocess.Popen) -> float:
    """CPU time (user and system) a process has used so far, from ``/proc``."""
    fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _wait(cond: Callable[[], bool], timeout_s: float) -> None:
    end = time.monotonic() + timeout_s
    while not cond():
        if time.monotonic() > end:
            raise RuntimeError("the ingesters did not start")
        time.sleep(0.1)


def database(
    backend: str, work: Path, code: str | None = None
) -> tuple[str, object, Callable[[], None]]:
    """A fresh database, migrated by this checkout or the one at ``code``: its URL, an
    engine, and how to drop it."""
    if backend == "sqlite":
        path = work / f"live-{uuid.uuid4().hex[:6]}.db"
        url = f"sqlite:///{path}"
        engine = make_engine(url)
        migrate_as(engine, url, code)
        return url, engine, engine.dispose
    name = f"agritrace_bench_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    engine = make_engine(url)
    migrate_as(engine, url, code)

    def drop() -> None:
        engine.dispose()
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    return url, engine, drop


def run_one(args, broker, work, n, kind, c_rate, backend, k, label, code) -> None:
    """One ingest run and its floor, printed as one line."""
    prefix = f"l{uuid.uuid4().hex[:8]}"
    url, engine, drop = database(backend, work, code)
    try:
        stream = messages(n, args.per_message, prefix)
        load = os.getloadavg()[0]
        r = ingest(broker, work, url, engine, stream, prefix, n, k, kind, code)
        floor_s = floor(engine, n)
    finally:
        drop()
    alone_s, alone_cpu = _pipeline(backend, work, stream, prefix, n, code)
    rate = n / r["seconds"]
    floor_rate = n / floor_s
    alone_rate = n / alone_s
    print(
        f"ingest   {backend:<10} {label:<16} {k} process{'es' if k > 1 else '  '}: "
        f"{rate:>9,.0f} points/s, floor {floor_rate:>9,.0f}, "
        f"**{rate / floor_rate:.2f} of the floor** ({r['seconds']:.2f} s, load {load:.1f}, "
        f"{rate / c_rate:.3f} of C; ingester CPU {r['cpu_seconds'] / n * 1e6:.1f} us/point, "
        f"publishers and broker {r['stream_cpu_seconds'] / n * 1e6:.1f}; "
        f"the machine idle {r['idle_share']:.0%}; "
        f"exactly once {'yes' if r['exactly_once'] else 'NO'})"
    )
    print(
        f"         {'':<10} {label:<16} pipeline alone: {alone_rate:>9,.0f} points/s, "
        f"{alone_rate / floor_rate:.2f} of the floor; **the live ingester "
        f"{rate / alone_rate:.2f} of it** (CPU {alone_cpu / n * 1e6:.1f} us/point)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=400_000)
    ap.add_argument("--per-message", type=int, default=100)
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--processes", default="1,2", help="ingester processes to try, e.g. 1,2")
    ap.add_argument(
        "--publishers",
        choices=("c", "python"),
        default="c",
        help="who publishes the stream: eight mosquitto_pub (c) or eight paho clients (python)",
    )
    ap.add_argument(
        "--old",
        action="append",
        default=[],
        help="another checkout whose ingesters run too, alternately (repeatable)",
    )
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--publish", nargs=2, metavar=("URL", "TOPIC"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.publish:
        publish_stdin(*args.publish)
        return
    sys.stdout.reconfigure(line_buffering=True)
    n = args.points - args.points % (len(DRONES) * args.per_message)
    work = Path(tempfile.mkdtemp(prefix="ingest-live-"))
    work.chmod(0o777)
    broker = Broker(work)
    print(f"load average before: {os.getloadavg()[0]:.2f}")
    try:
        prefix = f"l{uuid.uuid4().hex[:8]}"
        kind = args.publishers
        secs, c_cpu = ceiling(broker, messages(n, args.per_message, prefix), prefix, kind)
        c_rate = n / secs
        print(f"stream   {kind} publishers, {n:,} points in messages of {args.per_message}")
        print(
            f"ceiling  mosquitto_sub -q 1 (live)     : {c_rate:>9,.0f} points/s ({secs:.2f} s; "
            f"publishers, broker and subscriber CPU {c_cpu / n * 1e6:.1f} us/point)"
        )
        codes = [("this", None)] + [(Path(p).name, p) for p in args.old]
        for _round in range(args.rounds):
            for backend in args.backends.split(","):
                for k in (int(x) for x in args.processes.split(",")):
                    for label, code in codes:
                        run_one(args, broker, work, n, kind, c_rate, backend, k, label, code)
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
