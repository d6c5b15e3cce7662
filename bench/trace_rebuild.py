"""How fast stale traces are built again, and whether the bodies stay the same.

    .venv/bin/python bench/trace_rebuild.py --lots 2000 [--procs 2] [--repeat 3]
    .venv/bin/python bench/trace_rebuild.py --lots 2000 --dump /tmp/after.tsv
    .venv/bin/python bench/trace_rebuild.py --lots 300 --profile /tmp/rebuild.prof
    .venv/bin/python bench/trace_rebuild.py --scans 500 [--root /path/to/other/checkout]

Runs on the database of ``bench/trace_bench.py`` (``BENCH_DB``, default
``agritrace_bench``). Each round makes the first ``--lots`` lots of the benchmark's
sample stale (their stored stamps overwritten, as an edit of a product's PHI or a new
release would) and times ``agritrace trace-snapshots``' own work,
``trace_cache.refresh``, over them in ``--procs`` processes (each lot's JSON and its page
in every language, stored). In the same round, alternately, the *ceiling*: the same
lots' stored bodies read and written back as they are, in the same processes and
transactions of the same size — what a rebuild would cost if building were free. The
workers are started first (the code imported, the trace page's templates compiled: a
process's start, paid once per command, printed apart), so a round times building only.

``--scans N`` times instead the query a scan of a stored trace makes
(``snapshot.scan_dbapi``: the lot, its stored JSON and today's fingerprint) over the
sample's first N lots, one connection, against the ceiling of the same round trip
reading the lot alone (``SELECT id FROM lots WHERE code = ...``), alternately in rounds
of 50; ``--root`` imports the code of another checkout, to compare on the same data.

``--dump`` writes, per lot and variant, the SHA-256 of the stored body (after the last
round), to compare two versions of the code on the same data (``diff`` or ``cmp``).
"""

import argparse
import cProfile
import hashlib
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_root = sys.argv[sys.argv.index("--root") + 1] if "--root" in sys.argv else str(ROOT)
sys.path.insert(0, _root)
sys.path.insert(0, str(ROOT / "bench"))
# The package from ``--root``, before the benchmark's module puts this checkout first.
import traceability  # noqa: E402, F401

BASE_URL = "https://trace.example.vn"


def _url() -> str:
    from trace_bench import DB, PG

    return f"{PG.replace('postgresql://', 'postgresql+psycopg://')}/{DB}"


def _codes(engine, n: int, part: int, parts: int) -> list[str]:
    from sqlalchemy import text
    from trace_bench import SAMPLE_ORDER

    with engine.connect() as conn:
        return list(
            conn.execute(
                text(
                    f"SELECT code FROM (SELECT id, code FROM lots ORDER BY {SAMPLE_ORDER} "
                    f"LIMIT :n) s WHERE id % :parts = :part ORDER BY {SAMPLE_ORDER}"
                ),
                {"n": n, "parts": parts, "part": part},
            ).scalars()
        )


def _stale(n: int) -> None:
    """Make the stored traces of the sample's first ``n`` lots stale."""
    from sqlalchemy import text
    from trace_bench import SAMPLE_ORDER

    from traceability.db import make_engine

    engine = make_engine(_url())
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE trace_snapshots SET stamp = 'stale' WHERE lot_id IN "
                f"(SELECT id FROM lots ORDER BY {SAMPLE_ORDER} LIMIT :n)"
            ),
            {"n": n},
        )
    engine.dispose()


def _build_part(n: int, part: int, parts: int, profile: str | None) -> tuple[int, float, float]:
    from sqlmodel import Session

    from traceability.api import trace_cache
    from traceability.api.pages import RENDERINGS
    from traceability.db import make_engine

    engine = make_engine(_url())
    codes = _codes(engine, n, part, parts)
    prof = cProfile.Profile(time.process_time) if profile else None
    c0 = time.process_time()
    t0 = time.perf_counter()
    with Session(engine) as session:
        if prof:
            prof.enable()
        _seen, built = trace_cache.refresh(
            session, base_url=BASE_URL, renderings=RENDERINGS, codes=codes
        )
        if prof:
            prof.disable()
            prof.dump_stats(f"{profile}.{part}")
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    engine.dispose()
    return built, elapsed, cpu


# The ceiling: each lot's stored bodies read and written back, one transaction per lot.
_READ = "SELECT variant, stamp, lot_ids, field_ids, body FROM trace_snapshots WHERE lot_id = :id"
_WRITE = (
    "UPDATE trace_snapshots SET stamp = :stamp, body = :body, built_at = now() "
    "WHERE lot_id = :id AND variant = :variant"
)


def _ceiling_part(n: int, part: int, parts: int) -> tuple[int, float]:
    from sqlalchemy import text

    from traceability.db import make_engine

    engine = make_engine(_url())
    codes = _codes(engine, n, part, parts)
    c0 = time.process_time()
    t0 = time.perf_counter()
    with engine.connect() as conn:
        for code in codes:
            lot_id = conn.execute(text("SELECT id FROM lots WHERE code = :c"), {"c": code}).scalar()
            rows = conn.execute(text(_READ), {"id": lot_id}).all()
            conn.execute(
                text(_WRITE),
                [
                    {"stamp": "stale", "body": r.body, "id": lot_id, "variant": r.variant}
                    for r in rows
                ],
            )
            conn.commit()
    elapsed = time.perf_counter() - t0
    cpu = time.process_time() - c0
    engine.dispose()
    return len(codes), elapsed, cpu


def _dump(n: int, path: str) -> None:
    from sqlalchemy import text
    from trace_bench import SAMPLE_ORDER

    from traceability.db import make_engine

    engine = make_engine(_url())
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT l.code, s.variant, s.body FROM trace_snapshots s JOIN lots l "
                f"ON l.id = s.lot_id WHERE l.id IN (SELECT id FROM lots ORDER BY {SAMPLE_ORDER} "
                "LIMIT :n) ORDER BY l.code, s.variant"
            ),
            {"n": n},
        ).all()
    with open(path, "w") as out:
        for code, variant, body in rows:
            out.write(f"{code}\t{variant}\t{hashlib.sha256(body).hexdigest()}\n")
    print(f"{len(rows):,} bodies of {n:,} lots dumped to {path}")
    engine.dispose()


_LOT = "SELECT id FROM lots WHERE code = %s"


def _scans(n: int) -> None:
    import psycopg
    from trace_bench import DB, PG, SAMPLE_ORDER

    from traceability.services.trace import snapshot

    with psycopg.connect(f"{PG}/{DB}", autocommit=True) as conn:
        codes = [
            r[0]
            for r in conn.execute(f"SELECT code FROM lots ORDER BY {SAMPLE_ORDER} LIMIT %s", (n,))
        ]
        spent = {"scan": 0.0, "ceiling": 0.0}
        for i in range(0, len(codes), 50):
            part = codes[i : i + 50]
            t0 = time.perf_counter()
            for code in part:
                snapshot.scan_dbapi(conn, code=code, variant="json", base_url=BASE_URL)
            spent["scan"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            for code in part:
                conn.execute(
                    "SELECT id FROM lots WHERE code = %s", (code,), prepare=True
                ).fetchone()
            spent["ceiling"] += time.perf_counter() - t0
    per = {k: v / len(codes) * 1000 for k, v in spent.items()}
    print(
        f"{len(codes):,} scans: {per['scan']:.2f} ms each; ceiling (the lot alone) "
        f"{per['ceiling']:.2f} ms; ratio {per['scan'] / per['ceiling']:.1f}; "
        f"load average {os.getloadavg()[0]:.1f}"
    )


def _warm(_i: int) -> tuple[int, float]:
    """Import the code and compile the trace page's templates in this worker: the start a
    ``agritrace trace-snapshots`` process pays once, kept out of the rate. (pid, seconds)"""
    t0 = time.perf_counter()
    from traceability.api import pages

    for name in ("trace.html", "base.html", "trace_trust.html", "trace_anchor.html"):
        pages.templates.get_template(name)
    took = time.perf_counter() - t0
    time.sleep(0.5)  # long enough that every worker takes one
    return os.getpid(), took


def _start(pool, procs: int) -> float:
    """Start every worker of ``pool`` and warm it; the slowest worker's start, in seconds."""
    t0 = time.perf_counter()
    pids: dict[int, float] = {}
    while len(pids) < procs:
        pids.update(pool.map(_warm, range(procs)))
    return time.perf_counter() - t0 - 0.5


def _timed(pool, fn, n: int, procs: int, *extra) -> tuple[int, float, float]:
    """Lots done, wall seconds, and this code's CPU seconds per lot (the processes' own)."""
    t0 = time.perf_counter()
    done = list(pool.map(fn, [n] * procs, range(procs), [procs] * procs, *extra))
    count = sum(d[0] for d in done)
    return count, time.perf_counter() - t0, sum(d[2] for d in done) / max(count, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lots", type=int, default=2000)
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--dump", help="write each body's SHA-256 here after the last round")
    parser.add_argument("--profile", help="cProfile each process's build to PROFILE.<n>")
    parser.add_argument("--no-ceiling", action="store_true")
    parser.add_argument("--scans", type=int, help="time the scan's query over N lots instead")
    parser.add_argument("--root", default=str(ROOT), help="the checkout whose code is measured")
    args = parser.parse_args()
    print(f"code of {traceability.__file__}; load average at start: {os.getloadavg()}", flush=True)
    if args.scans:
        _scans(args.scans)
        return
    with ProcessPoolExecutor(args.procs) as pool:
        print(
            f"{args.procs} workers started (imports, templates compiled) in "
            f"{_start(pool, args.procs):.1f} s, not counted below",
            flush=True,
        )
        for r in range(1, args.repeat + 1):
            _stale(args.lots)
            built, wall, cpu = _timed(
                pool,
                _build_part,
                args.lots,
                args.procs,
                [args.profile] * args.procs,
            )
            line = (
                f"round {r}: refresh {built:,} lots in {wall:.1f} s = {built / wall:,.0f} lots/s "
                f"({cpu * 1000:.1f} ms CPU a lot)"
            )
            if not args.no_ceiling:
                copied, cwall, _cpu = _timed(pool, _ceiling_part, args.lots, args.procs)
                line += (
                    f"; ceiling (bodies read and written back) {copied / cwall:,.0f} lots/s; "
                    f"ratio {built / wall / (copied / cwall):.2f}"
                )
            print(line + f"; load average {os.getloadavg()[0]:.1f}", flush=True)
    if args.dump:
        _dump(args.lots, args.dump)


if __name__ == "__main__":
    main()
