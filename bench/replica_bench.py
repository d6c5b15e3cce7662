"""Buyer's scans read from a streaming replica, against the primary alone and /healthz.

    .venv/bin/python bench/replica_bench.py            # [--lots 400 --duration 10 --rounds 2]

Brings up a PostgreSQL primary and a hot standby of its own (``tests/pgcluster.py``:
``initdb``, ``pg_basebackup -R``, both as the postgres OS user, ``pg_stat_statements``
loaded), records ``--lots`` harvest lots (a field, a season, three diary lines each),
stores their traces ahead on the primary and waits for the standby to replay them. Then,
alternately for ``--rounds``, starts uvicorn (``--workers``) on ``--port`` in each mode
and runs ``wrk`` over ``/healthz`` (the ceiling: no database) and
``/api/v1/trace/{code}`` (a random lot per request):

- ``primary``: ``AGRITRACE_DATABASE_URL`` only (every scan reads the primary);
- ``replica``: ``AGRITRACE_READ_DATABASE_URL`` set to the standby (the primary is asked
  its WAL position, the standby answers the scan).

For each scan run it also reads both servers' ``pg_stat_statements``: how many statements
each ran per scan and the execution time each spent per scan, which is what moves to
another machine when the replica is one. Everything here shares the same two cores, so
req/s shows the cost of the extra round trip, not the gain of a second machine.
"""

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from trace_bench import _wrk  # noqa: E402

BASE = "https://trace.example.vn"


def record(engine, n_lots: int) -> list[str]:
    """``n_lots`` harvest lots, each on a field of its own with a season and a diary."""
    from sqlmodel import Session

    from tests.factories import Factory
    from traceability.api import trace_cache
    from traceability.api.routes.trace import RENDERINGS

    codes = []
    with Session(engine) as session:
        factory = Factory(session)
        product = factory.input(phi_days=14)
        for _ in range(n_lots):
            field = factory.field()
            factory.season(field, sown_on=date(2026, 1, 5))
            factory.entry(field, activity="spray", input_code=product.code)
            factory.entry(field, activity="irrigate")
            factory.entry(field, activity="observe")
            codes.append(factory.lot(fields_=[field]).code)
        seen, built = trace_cache.refresh(session, base_url=BASE, renderings=RENDERINGS)
    print(f"{n_lots} lots recorded, {built} of {seen} traces stored ahead", flush=True)
    return codes


def statements(cluster, server: str) -> tuple[int, float]:
    """(calls, total execution ms) of the app's statements on ``server`` since the reset."""
    from sqlalchemy import text

    with cluster.admin(server).connect() as conn:
        calls, ms = conn.execute(
            text(
                "SELECT coalesce(sum(calls), 0), coalesce(sum(total_exec_time), 0) "
                "FROM pg_stat_statements WHERE query NOT LIKE '%pg_stat_statements%'"
            )
        ).one()
    return int(calls), float(ms)


def reset(cluster) -> None:
    from sqlalchemy import text

    for server in ("primary", "standby"):
        with cluster.admin(server).connect() as conn:
            conn.execute(text("SELECT pg_stat_statements_reset()"))


def serve(cluster, mode: str, port: int, workers: int) -> subprocess.Popen:
    import httpx

    env = os.environ | {
        "AGRITRACE_DATABASE_URL": cluster.url("primary"),
        "AGRITRACE_PUBLIC_BASE_URL": BASE,
    }
    env.pop("AGRITRACE_READ_DATABASE_URL", None)
    if mode == "replica":
        env["AGRITRACE_READ_DATABASE_URL"] = cluster.url("standby")
    cmd = [
        sys.executable, "-m", "uvicorn", "traceability.api.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    server = subprocess.Popen(cmd, env=env, cwd=ROOT)
    for _ in range(150):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.2)
    server.terminate()
    raise RuntimeError("the server did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lots", type=int, default=400)
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--conns", type=int, default=16)
    parser.add_argument("--port", type=int, default=8620)
    args = parser.parse_args()

    from tests import pgcluster
    from traceability.db import make_engine, migrate

    print(f"load average at start: {os.getloadavg()}", flush=True)
    cluster = pgcluster.start()
    try:
        primary = make_engine(cluster.url("primary"))
        migrate(primary)
        codes = record(primary, args.lots)
        primary.dispose()
        cluster.wait_replayed()
        paths = [f"/api/v1/trace/{c}" for c in codes]
        random.Random(1).shuffle(paths)
        scans = Path(tempfile.gettempdir()) / "agritrace_replica_paths.txt"
        scans.write_text("\n".join(paths))
        health = Path(tempfile.gettempdir()) / "agritrace_replica_health.txt"
        health.write_text("/healthz")
        rows = []
        for round_ in range(1, args.rounds + 1):
            for mode in ("primary", "replica"):
                server = serve(cluster, mode, args.port, args.workers)
                try:
                    _wrk(args.port, scans, 3, 8)  # warm: imports, pools, prepared statements
                    load = os.getloadavg()[0]
                    ceiling = _wrk(args.port, health, args.duration, args.conns)
                    reset(cluster)
                    scan = _wrk(args.port, scans, args.duration, args.conns)
                    n = scan["rps"] * args.duration
                    p_calls, p_ms = statements(cluster, "primary")
                    s_calls, s_ms = statements(cluster, "standby")
                finally:
                    server.terminate()
                    server.wait(timeout=20)
                row = (round_, mode, load, ceiling, scan, p_calls / n, p_ms / n * 1000,
                       s_calls / n, s_ms / n * 1000)  # fmt: skip
                rows.append(row)
                print(row, flush=True)
        print(f"\nload average at the end: {os.getloadavg()}")
        print(
            f"{args.lots} lots, traces stored; workers={args.workers}, "
            f"wrk -c{args.conns} for {args.duration}s each\n"
        )
        print(
            "| round | scans read from | load avg | `/healthz` req/s | scans req/s | scans p99 ms "
            "| errors | primary: statements / µs per scan | standby: statements / µs per scan |"
        )
        print("|---|---|---|---|---|---|---|---|---|")
        for r, mode, load, c, s, pc, pu, sc, su in rows:
            print(
                f"| {r} | {mode} | {load:.1f} | {c['rps']:,.0f} | {s['rps']:,.0f} | "
                f"{s['p99_ms']:.1f} | {s['non2xx'] + c['non2xx']} | {pc:.2f} / {pu:.0f} | "
                f"{sc:.2f} / {su:.0f} |"
            )
    finally:
        cluster.close()


if __name__ == "__main__":
    main()
