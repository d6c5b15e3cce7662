"""Diary entries sequenced into the transparency log per second, on PostgreSQL.

Builds ``agritrace_bench_tlog`` (migrated; ``--fields`` fields and ``--entries`` diary
entries written with COPY, hash values random), then, alternately and ``--repeat`` times:

- ``sequence``: :func:`traceability.services.tlog.sequence`, the log's own sequencer
  (batches of ``tlog.BATCH`` under the advisory lock, each leaf's RFC 8785 bytes and
  SHA-256 in Python);
- ``ceiling``: one hand-written SQL statement doing the same work inside PostgreSQL
  (the leaf's JSON by string concatenation, ``sha256`` in the server, one INSERT).

Both must give the same leaf hashes; the log is emptied between runs.

    .venv/bin/python bench/tlog_bench.py --entries 200000 --repeat 3
"""

import argparse
import os
import secrets
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from traceability.db import make_engine, migrate  # noqa: E402
from traceability.services import tlog  # noqa: E402

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
    conn.execute(text("TRUNCATE tlog_leaves"))
    conn.commit()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fields", type=int, default=2000)
    ap.add_argument("--entries", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--reuse", action="store_true", help="keep the database already built")
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
            for name in ("sequence", "ceiling"):
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
            f"  runs {', '.join(f'{t:.2f} s' for t in ts)}"
        )


if __name__ == "__main__":
    main()
