"""CPU time of a buyer's scan, server and database together: less blurred by a busy machine.

    .venv/bin/python bench/trace_cpu.py --lots 1000 [--backend sqlite] [--repeat]

Scans ``--lots`` lots of the benchmark's sample (``bench/trace_bench.py``: the same
database, the same lots) through the app in this process, each lot once (first
scans; ``--repeat`` scans them all a second time and measures that), JSON then page,
and reports per scan: wall time, this process's CPU time (``time.process_time``:
routing, building or reading, rendering) and, on PostgreSQL, the CPU time of the
database backend serving the connection (``/proc/<pid>/stat``; PostgreSQL runs on this
machine). Two cores give at most ``2 / (CPU per scan)`` scans per second: the bound
the load tests approach when nothing else runs.

Point ``--root`` at another checkout to measure that code on the same data.
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _backend_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lots", type=int, default=1000)
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--repeat", action="store_true", help="measure second scans")
    parser.add_argument("--root", default=str(ROOT), help="the checkout whose code is measured")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "bench"))
    import trace_bench  # (puts this checkout first on the path: the one measured goes before)

    sys.path.insert(0, args.root)

    os.environ["AGRITRACE_DATABASE_URL"] = trace_bench._url(args.backend)
    os.environ["AGRITRACE_PUBLIC_BASE_URL"] = "https://trace.example.vn"
    from fastapi.testclient import TestClient
    from sqlalchemy import event, text

    import traceability
    from traceability.api.main import create_app
    from traceability.db import get_engine

    print(f"code from {Path(traceability.__file__).parent.parent}; load {os.getloadavg()}")
    codes = trace_bench._codes(args.lots)
    engine = get_engine()
    pids: set[int] = set()
    if args.backend == "postgresql":

        def note(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("SELECT pg_backend_pid()")
            pids.add(cur.fetchone()[0])

        # The scans read on the read pool beside the engine (traceability.db.read_engine),
        # builds on the engine's own: both counted (a checkout older code lacks is skipped).
        import traceability.db as tdb

        pools = [engine] + ([tdb.read_engine(engine)] if hasattr(tdb, "read_engine") else [])
        for pool in pools:
            event.listen(pool, "connect", note)
            with pool.connect() as conn:  # at least one connection before counting
                conn.execute(text("SELECT 1"))
    with TestClient(create_app()) as client:
        client.get("/healthz")
        for url in ("/api/v1/trace/{}", "/t/{}"):
            if args.repeat:
                for c in codes:
                    client.get(url.format(c))
            pg0 = sum(_backend_cpu(p) for p in pids)
            wall0, cpu0 = time.perf_counter(), time.process_time()
            for c in codes:
                assert client.get(url.format(c)).status_code == 200
            wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
            pg = sum(_backend_cpu(p) for p in pids) - pg0
            n = len(codes)
            print(
                f"{'repeat' if args.repeat else 'first'} scans {url.format('{code}')} "
                f"({args.backend}, {n} lots): wall {wall / n * 1000:.2f} ms, app CPU "
                f"{cpu / n * 1000:.2f} ms, database CPU {pg / n * 1000:.2f} ms, "
                f"bound on 2 cores {2 * n / (cpu + pg):.0f} scans/s",
                flush=True,
            )


if __name__ == "__main__":
    main()
