"""Diary entries sequenced into the transparency log per second, on PostgreSQL.

Builds ``agritrace_bench_tlog`` (migrated; ``--fields`` fields and ``--entries`` diary
entries written with COPY, hash values random), then, alternately and ``--repeat`` times:

- ``sequence``: :func:`traceability.services.tlog.sequence`, the log's own sequencer
  (batches of ``tlog.BATCH`` under the advisory lock, each leaf's RFC 8785 bytes and
  SHA-256 in Python);
- ``ceiling``: one hand-written SQL statement doing the same work inside PostgreSQL
  (the leaf's JSON by string concatenation, ``sha256`` in the server, one INSERT).

Both must give the same leaf hashes; the log is emptied between runs. The sequencer's
runs include storing the tree's whole subtrees (``tlog_nodes``); the ceiling's do not.

Then, on the log the last ``sequence`` run left, proofs at tree sizes from 10^5 up to
every entry (``--proof-sizes``):

- ``now``: an inclusion proof and a consistency proof read from the stored tiles
  (:class:`traceability.services.tlog_nodes.Nodes`), with the range reads each made;
- ``before``: the same inclusion proof built as it was before the tiles were stored
  (every leaf of the tree read, every level hashed);
- ``ceiling``: one indexed SELECT of a single leaf row.

And the proofs' sizes in bytes at the largest tree.

    .venv/bin/python bench/tlog_bench.py --entries 1000000 --repeat 1
"""

import argparse
import os
import random
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from traceability import transparency as tl  # noqa: E402
from traceability.db import make_engine, migrate  # noqa: E402
from traceability.services import tlog  # noqa: E402
from traceability.services.tlog_nodes import Nodes  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DB = "agritrace_bench_tlog"

CEILING = """
INSERT INTO tlog_leaves (idx, entry_id, acceptance_id, field_code, leaf_hash)
SELECT row_number() OVER (ORDER BY e.id) - 1, e.id, NULL, f.code,
       encode(sha256('\\x00'::bytea || convert_to(
           '{"field":"' || f.code || '","hash":"' || e.hash
           || '","kind":"diary-entry","seq":' || e.chain_seq || '}', 'UTF8')), 'hex')
  FROM diary_entries e JOIN fields f ON f.id = e.field_id
 ORDER BY e.id
"""


def build(fields: int, entries: int) -> None:
    """A fresh database with ``fields`` fields and ``entries`` diary entries."""
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB}"')
    engine = make_engine(f"postgresql+psycopg://{PG.split('://', 1)[1]}/{DB}")
    migrate(engine)
    engine.dispose()
    with psycopg.connect(f"{PG}/{DB}") as conn:
        conn.execute("INSERT INTO farmers (name, created_at) VALUES ('Bench', now())")
        square = (
            '{"type":"Polygon","coordinates":[[[105.5,9.2],[105.501,9.2],[105.501,9.201],'
            "[105.5,9.201],[105.5,9.2]]]}"
        )
        conn.execute(
            "INSERT INTO fields (code, farmer_id, geometry, properties, area_ha, utm_epsg,"
            " min_lon, max_lon, min_lat, max_lat, diary_length, created_at) "
            "SELECT 'BL-' || lpad(i::text, 6, '0'), 1, %s, '{}', 1.0, 32648, 105.5, 105.501,"
            " 9.2, 9.201, 0, now() FROM generate_series(1, %s) i",
            (square, fields),
        )
        with conn.cursor().copy(
            "COPY diary_entries (field_id, chain_seq, occurred_at, recorded_at, activity,"
            " retracts, source, prev_hash, hash, hash_version) FROM STDIN"
        ) as copy:
            for i in range(entries):
                copy.write_row(
                    (
                        i % fields + 1,
                        i // fields + 1,
                        "2026-02-01T01:00:00Z",
                        "2026-02-01T02:00:00Z",
                        "observe",
                        False,
                        "manual",
                        "0" * 64,
                        secrets.token_hex(32),
                        2,
                    )
                )
    print(f"built {DB}: {fields} fields, {entries} entries", flush=True)


def _empty(conn) -> None:
    conn.execute(text("TRUNCATE tlog_leaves, tlog_nodes"))
    conn.commit()


def _ms(fn, times: int) -> list[float]:
    out = []
    for _ in range(times):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def proofs(s: Session, sizes: list[int], samples: int, before_runs: int) -> None:
    """Proof times at each tree size: from the stored tiles, as before, and the ceiling."""
    rng = random.Random(17)
    print("proofs (ms, median of runs; reads = range reads per proof)")
    for n in sizes:
        picks = [rng.randrange(n) for _ in range(samples)]
        reads = []

        def now_inclusion(n=n, picks=picks, reads=reads):
            nodes = Nodes(s, n)
            i = picks[len(reads) % len(picks)]
            assert len(nodes.inclusion(i)) > 0 and nodes.leaf(i)
            reads.append(nodes.reads)

        def now_consistency(n=n, picks=picks):
            Nodes(s, n).consistency(max(1, picks[0]))

        def before(n=n, picks=picks):
            levels = tl.levels(tlog.leaf_hashes(s, n))
            tl.inclusion_path(levels, picks[0], n)

        def ceiling(picks=picks):
            s.execute(
                text("SELECT leaf_hash FROM tlog_leaves WHERE idx = :i"), {"i": picks[0]}
            ).scalar_one()

        t_now = _ms(now_inclusion, samples)
        t_cons = _ms(now_consistency, samples)
        t_ceil = _ms(ceiling, samples)
        t_before = _ms(before, before_runs)
        s.rollback()
        print(
            f"  n={n:>9,}  inclusion now {statistics.median(t_now):7.2f}"
            f" (reads {min(reads)}-{max(reads)})  consistency now"
            f" {statistics.median(t_cons):7.2f}  before {statistics.median(t_before):9.1f}"
            f"  ceiling {statistics.median(t_ceil):6.3f}",
            flush=True,
        )
    n = sizes[-1]
    nodes = Nodes(s, n)
    inc = nodes.inclusion(n // 3)
    root = nodes.root()
    assert tl.verify_inclusion(n // 3, n, nodes.leaf(n // 3), inc, root)
    cons = [len(nodes.consistency(m)) for m in (1, n // 2 + 1, n - 1, n // 3)]
    print(
        f"  sizes at n={n:,}: inclusion proof {len(inc)} hashes = {32 * len(inc)} bytes;"
        f" consistency proofs {min(cons)}-{max(cons)} hashes = {32 * min(cons)}-"
        f"{32 * max(cons)} bytes"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fields", type=int, default=2000)
    ap.add_argument("--entries", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reuse", action="store_true", help="keep the database already built")
    ap.add_argument("--proof-sizes", default="100000,300000,1000000")
    ap.add_argument("--samples", type=int, default=50)
    ap.add_argument("--before-runs", type=int, default=3)
    args = ap.parse_args()
    if not args.reuse:
        build(args.fields, args.entries)
    engine = make_engine(f"postgresql+psycopg://{PG.split('://', 1)[1]}/{DB}")
    times: dict[str, list[float]] = {"sequence": [], "ceiling": []}
    with Session(engine) as s:
        n = s.execute(text("SELECT count(*) FROM diary_entries")).scalar_one()
        s.execute(text("ANALYZE"))
        s.commit()
        reference = None
        for _ in range(args.repeat):
            for name in ("ceiling", "sequence"):
                _empty(s)
                t0 = time.perf_counter()
                if name == "sequence":
                    assert tlog.sequence(s) == n
                else:
                    s.execute(text(CEILING))
                    s.commit()
                times[name].append(time.perf_counter() - t0)
                got = s.execute(text("SELECT md5(string_agg(leaf_hash, '' ORDER BY idx)) "
                                     "FROM tlog_leaves")).scalar_one()  # fmt: skip
                reference = reference or got
                assert got == reference, f"{name} gave other leaves"
        load = os.getloadavg()
        print(f"{n} entries; load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
        for name, ts in times.items():
            rates = [n / t for t in ts]
            print(
                f"{name:9s} best {max(rates):9,.0f}/s  median {statistics.median(rates):9,.0f}/s"
                f"  runs {', '.join(f'{t:.2f} s' for t in ts)}",
                flush=True,
            )
        sizes = [int(x) for x in args.proof_sizes.split(",") if int(x) <= n] or [n]
        proofs(s, sizes, args.samples, args.before_runs)
        load = os.getloadavg()
        print(f"load average after {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")


if __name__ == "__main__":
    main()
