"""A buyer's first (cold) scan and a stored scan, before the transparency log and now, on
PostgreSQL, one after the other in one run, with ``/healthz`` as the ceiling.

    git worktree add --detach /tmp/agritrace-81cc8d3 81cc8d3   # before the trust work
    git worktree add --detach /tmp/agritrace-1ca4ed5 1ca4ed5   # main just before it merged
    .venv/bin/python bench/first_scan.py --lots 200 \
        --before /tmp/agritrace-81cc8d3 --before /tmp/agritrace-1ca4ed5

For each checkout (each ``--before``, then this one), in a process that imports that
checkout's code only:

- a database of its own (``agritrace_bench_first_<n>``), migrated by that code (to
  every head, where a commit had several), with ``--lots`` harvest lots (a field, a
  season, a spray, irrigation, an observation each, written by that code's
  ``tests/factories``) and one signed checkpoint of the diaries (that code's own:
  per-field heads before, the append-only log now);
- that code's API on uvicorn (one worker), then, one request at a time over one
  keep-alive connection: ``/healthz`` (the ceiling: no database), the first scan of
  every lot (``GET /api/v1/trace/{code}``, nothing stored: the trace is built and
  stored), the second scan of every lot (stored), and, now only, each lot's proof
  served apart (``GET /api/v1/lots/{code}/proof``).

With ``--bare``, this checkout once more with no checkpoint published (its traces carry
no anchor): the anchor's share of a first scan.

Latencies are per request, in ms, median and 90th percentile.
"""

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def record(url: str, db: str, n_lots: int, checkpoint: bool = True) -> list[str]:
    """The database, migrated by this checkout's code, with ``n_lots`` lots and a checkpoint."""
    from datetime import date

    import psycopg
    from sqlmodel import Session

    from tests.factories import Factory
    from traceability import transparency as tl
    from traceability.db import make_engine, migrate

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{db}"')
    engine = make_engine(url)
    migrate(engine, "heads")
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
        try:
            from traceability.services import tlog
        except ImportError:  # before the append-only log: per-field-head checkpoints
            from traceability.services import checkpoints as tlog
        if checkpoint:
            tlog.publish(session, key=tl.new_key(), origin="agritrace.bench/diaries")
    engine.dispose()
    return codes


def child(root: Path, name: str, n_lots: int) -> dict:
    """Everything for one checkout; runs in a process whose path starts at ``root``."""
    import http.client

    db = f"agritrace_bench_first_{name.replace('-', '_')}"
    url = f"postgresql+psycopg://{PG.split('://', 1)[1]}/{db}"
    codes = record(url, db, n_lots, checkpoint=not name.endswith("bare"))
    port = _port()
    env = os.environ | {
        "PYTHONPATH": str(root),
        "AGRITRACE_DATABASE_URL": url,
        "AGRITRACE_PUBLIC_BASE_URL": "https://trace.example.vn",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "traceability.api.main:create_app", "--factory",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1", "--log-level",
         "warning", "--no-access-log"],
        cwd=root, env=env,
    )  # fmt: skip
    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

        def get(path: str) -> float:
            t0 = time.perf_counter()
            conn.request("GET", path)
            r = conn.getresponse()
            r.read()
            took = (time.perf_counter() - t0) * 1000
            if r.status != 200:
                raise SystemExit(f"{path}: {r.status}")
            return took

        out = {"healthz": [get("/healthz") for _ in range(max(200, n_lots))]}
        out["first scan"] = [get(f"/api/v1/trace/{c}") for c in codes]
        out["stored scan"] = [get(f"/api/v1/trace/{c}") for c in codes]
        if (root / "traceability" / "services" / "tlog.py").exists() and "bare" not in name:
            out["proof apart"] = [get(f"/api/v1/lots/{c}/proof") for c in codes]
    finally:
        server.terminate()
        server.wait(timeout=30)
    return out


def _label(root: Path) -> str:
    """A checkout's short commit id."""
    out = subprocess.run(
        ["git", "-C", str(root), "rev-parse", "--short=7", "HEAD"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out.stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, action="append", default=[],
                    help="a checkout of an older commit (repeat for more)")  # fmt: skip
    ap.add_argument("--lots", type=int, default=200)
    ap.add_argument(
        "--bare",
        action="store_true",
        help="also this checkout with no checkpoint (its traces carry no anchor)",
    )
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        name, root = args.child.split("=", 1)
        print(json.dumps(child(Path(root), name, args.lots)))
        return
    results = {}
    checkouts = [(_label(b.resolve()), b.resolve()) for b in args.before] + [("now", HERE)]
    if args.bare:
        checkouts.append(("now-bare", HERE))
    for name, root in checkouts:
        load = os.getloadavg()
        print(f"{name}: code from {root}; load average {load[0]:.2f} / {load[1]:.2f} / "
              f"{load[2]:.2f}", flush=True)  # fmt: skip
        done = subprocess.run(
            [sys.executable, str(HERE / "bench" / "first_scan.py"), "--lots", str(args.lots),
             "--child", f"{name}={root}"],
            cwd=root, env=os.environ | {"PYTHONPATH": str(root)}, check=True,
            capture_output=True, text=True,
        )  # fmt: skip
        results[name] = json.loads(done.stdout.strip().splitlines()[-1])
    load = os.getloadavg()
    print(f"load average after {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
    print(f"{'':12s}" + "".join(f"{n:>24s}" for n in results))
    for what in ("healthz", "first scan", "stored scan", "proof apart"):
        row = []
        for name in results:
            v = results[name].get(what)
            row.append(
                f"{statistics.median(v):9.2f} / {_pct(v, 90):7.2f} ms" if v else f"{'—':>24s}"
            )
        print(f"{what:12s}" + "".join(f"{c:>24s}" for c in row))


if __name__ == "__main__":
    if "--child" in sys.argv:
        # The checkout's own code first (this file lives in the newer checkout).
        sys.path.insert(0, os.environ["PYTHONPATH"])
    main()
