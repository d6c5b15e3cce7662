"""What the database alone spends to store a point, with no Python per point.

Run with ``.venv/bin/python bench/ingest_floor.py [--points 400000] [--batch 5000]``.

The ingester's every point ends in two inserts: its ``(drone_code, seq)`` into
``telemetry_keys`` (the exactly-once key) and its row into ``telemetry`` (with the index
on ``(mission_id, ts)`` that measuring a mission reads). This benchmark stages the same
rows as the live benchmark's stream in a temporary table first (not timed), then times
only those two ``INSERT … SELECT`` statements per batch of ``--batch`` points, one
transaction per batch, into a freshly migrated database: the engine's own work for the
stored rows, a floor under any client in any language that keeps the same schema.

On SQLite it also times the two inserts as the ingester makes them, through Python's
``sqlite3`` (multi-row statements): SQLite has one write lock, held for that long per point.
On PostgreSQL it also times the statement the ingester takes for a batch that repeats a
stored key (it finds the new keys and counts the new points per mission in the same
statement) over the same rows; a batch with no repeat takes the two bare inserts.

From the floor it prints the most points per second that the engine's work alone allows
on this machine: on SQLite one writer at a time, so ``1 / floor``; on PostgreSQL one
backend per ingester, so ``cores / floor``.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
import tempfile
import time
import uuid
from operator import itemgetter
from pathlib import Path

import msgspec
from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_bench import DRONES, PG_ADMIN, messages  # noqa: E402

from traceability.db import make_engine, migrate  # noqa: E402
from traceability.ingest.contract import Point  # noqa: E402
from traceability.ingest.points import _PG_INSERT, _PG_TEMP, COLUMNS  # noqa: E402

_NAMES = ", ".join(COLUMNS)
_POINTS = msgspec.json.Decoder(list[Point])
_SEQ_AT = COLUMNS.index("seq")


def rows(n: int, prefix: str) -> list[tuple]:
    """The live benchmark's stream (``ingest_bench.messages``) as the rows the ingester
    stores (:data:`COLUMNS` order, decoded by its own :class:`Point`), sorted by key."""
    out = []
    for topic, payload in messages(n, 100, prefix):
        drone = topic.split("/")[-2]
        out.extend((drone, *p.values()) for p in _POINTS.decode(payload))
    out.sort(key=itemgetter(0, _SEQ_AT))
    return out


def _statements(temp: str) -> list[str]:
    return [
        f"INSERT INTO telemetry_keys (drone_code, seq) SELECT drone_code, seq FROM {temp}",
        f"INSERT INTO telemetry ({_NAMES}) SELECT {_NAMES} FROM {temp}",
    ]


def floor_sqlite(data: list[tuple], batch: int, work: Path) -> float:
    """Seconds per point of SQLite's two inserts, batches of ``batch`` rows."""
    engine = make_engine(f"sqlite:///{work / 'floor.db'}")
    migrate(engine)
    engine.dispose()
    con = sqlite3.connect(work / "floor.db", isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "temp_store=MEMORY"):
        con.execute(f"PRAGMA {pragma}")
    cols = ", ".join(COLUMNS)
    con.execute(f"CREATE TEMP TABLE stage (k INTEGER PRIMARY KEY, {cols})")
    marks = ", ".join("?" * (len(COLUMNS) + 1))
    # SQLite keeps a time as the naive UTC text SQLAlchemy writes.
    con.executemany(
        f"INSERT INTO stage VALUES ({marks})",
        [(k, *r[:3], r[3].strftime("%Y-%m-%d %H:%M:%S.%f"), *r[4:]) for k, r in enumerate(data)],
    )
    took = 0.0
    for lo in range(0, len(data), batch):
        where = f"stage WHERE k >= {lo} AND k < {lo + batch}"
        t = time.perf_counter()
        con.execute("BEGIN")
        for sql in _statements(where):
            con.execute(sql)
        con.execute("COMMIT")
        took += time.perf_counter() - t
    con.close()
    return took / len(data)


def driver_sqlite(data: list[tuple], batch: int, work: Path) -> float:
    """Seconds per point of the two inserts as the ingester makes them through Python's
    ``sqlite3`` (:func:`traceability.ingest.points.sqlite_insert`: multi-row statements).

    This is what a writer does while it holds SQLite's one write lock.
    """
    from traceability.ingest.points import sqlite_insert

    engine = make_engine(f"sqlite:///{work / 'driver.db'}")
    migrate(engine)
    engine.dispose()
    con = sqlite3.connect(work / "driver.db", isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL"):
        con.execute(f"PRAGMA {pragma}")
    cur = con.cursor()
    took = 0.0
    for lo in range(0, len(data), batch):
        t = time.perf_counter()
        con.execute("BEGIN")
        sqlite_insert(cur, data[lo : lo + batch])
        con.execute("COMMIT")
        took += time.perf_counter() - t
    con.close()
    return took / len(data)


def floor_postgres(data: list[tuple], batch: int) -> tuple[float, float]:
    """Seconds per point of PostgreSQL's two inserts, batches of ``batch`` rows: bare, and as
    the ingester's statement for a batch with repeats (keys ``ON CONFLICT DO NOTHING
    RETURNING``, the points of the new keys, counts per mission) from its temporary table,
    filled untimed."""
    name = f"agritrace_floor_{uuid.uuid4().hex[:6]}"
    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    try:
        engine = make_engine(url)
        migrate(engine)
        from traceability.ingest.partitions import ensure_for_points

        ensure_for_points(engine, [data[0][3], data[-1][3]], data[0][3])
        raw = engine.raw_connection()
        dbapi = raw.driver_connection
        took = 0.0
        with dbapi.cursor() as cur:
            cur.execute(
                "CREATE UNLOGGED TABLE stage AS SELECT * FROM telemetry WITH NO DATA; "
                "ALTER TABLE stage ADD COLUMN k int8"
            )
            with cur.copy(f"COPY stage ({_NAMES}, k) FROM STDIN") as copy:
                for k, r in enumerate(data):
                    copy.write_row((*r, k))
            cur.execute("ALTER TABLE stage ADD PRIMARY KEY (k)")
            cur.execute("ANALYZE stage")
            dbapi.commit()
            for lo in range(0, len(data), batch):
                where = f"stage WHERE k >= {lo} AND k < {lo + batch}"
                t = time.perf_counter()
                for sql in _statements(where):
                    cur.execute(sql)
                dbapi.commit()
                took += time.perf_counter() - t
            # The same rows again, as the ingester stores them, into emptied tables.
            cur.execute("TRUNCATE telemetry, telemetry_keys")
            dbapi.commit()
            statement = 0.0
            for lo in range(0, len(data), batch):
                cur.execute(_PG_TEMP)
                cur.execute(
                    f"INSERT INTO telemetry_in SELECT {_NAMES} FROM stage "
                    f"WHERE k >= {lo} AND k < {lo + batch}"
                )
                t = time.perf_counter()
                cur.execute(_PG_INSERT)
                cur.fetchall()
                dbapi.commit()
                statement += time.perf_counter() - t
        raw.close()
        engine.dispose()
    finally:
        with admin.connect() as c:
            c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return took / len(data), statement / len(data)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=400_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    n = args.points - args.points % len(DRONES)
    data = rows(n, f"f{uuid.uuid4().hex[:6]}")
    cores = os.cpu_count() or 1
    print(f"load average before: {os.getloadavg()[0]:.2f}; {cores} cores; {n:,} points")
    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                per = driver_sqlite(data, args.batch, Path(tmp))
                print(
                    f"{backend:<10}: {per * 1e6:5.2f} us/point through Python's sqlite3"
                    f" (as the ingester inserts) -> at most {1 / per:>9,.0f} points/s"
                    " (one writer)"
                )
                per = floor_sqlite(data, args.batch, Path(tmp))
                most, how = 1 / per, "one writer"
            else:
                per, statement = floor_postgres(data, args.batch)
                print(
                    f"{backend:<10}: {statement * 1e6:5.2f} us/point in the statement for a batch"
                    " with repeats"
                    f" -> at most {cores / statement:>9,.0f} points/s ({cores} backends)"
                )
                most, how = cores / per, f"{cores} backends"
            print(
                f"{backend:<10}: {per * 1e6:5.2f} us/point in the two inserts"
                f" -> at most {most:>9,.0f} points/s ({how}, nothing else running)"
            )
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
