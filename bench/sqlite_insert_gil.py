"""SQLite's inserts of a batch of points, one row a step or many, with and without another thread.

Run with ``.venv/bin/python bench/sqlite_insert_gil.py [--points 100000] [--batch 5000]``.

Python's ``sqlite3`` gives the interpreter up around each step of a statement. With
``executemany`` that is once a row: while another thread of the process runs Python (in
the ingester, the network thread or the other writer), the writer waits for the
interpreter back after every row, up to the switch interval each time. The ingester now
inserts a batch in multi-row statements (:func:`traceability.ingest.points.sqlite_insert`,
:data:`~traceability.ingest.points.SQLITE_ROWS` rows a step).

Both ways insert the same rows (the live benchmark's stream, validated by the ingest
pipeline) into a freshly migrated database, one transaction per ``--batch`` points, keys
then points, as the ingester does; timed per batch, the median batch reported as wall
and CPU (this thread's) microseconds per point. Each way runs twice: alone, and while a
second thread of the same process runs Python without pause, at the ingester's switch
interval (0.5 ms).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_bench import messages  # noqa: E402

from drone_ingest.handlers import Message, batch_of  # noqa: E402
from drone_ingest.service import SWITCH_INTERVAL_S  # noqa: E402
from traceability.db import make_engine, migrate  # noqa: E402
from traceability.ingest import points  # noqa: E402

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_KEY = "INSERT INTO telemetry_keys (drone_code, seq) VALUES (?, ?)"
_ROW = (
    f"INSERT INTO telemetry ({points._NAMES}) VALUES ("
    + ", ".join(
        points.sqlite_time(f"?{i + 1}") if i == points._TS_AT else f"?{i + 1}"
        for i in range(len(points.COLUMNS))
    )
    + ")"
)


def one_row_a_step(cur, rows: list[tuple]) -> None:
    """The inserts as the ingester made them before: ``executemany``, a step a row."""
    at = points._TS_AT
    cur.executemany(_KEY, [(r[0], r[points._SEQ_AT]) for r in rows])
    cur.executemany(_ROW, [(*r[:at], (r[at] - _EPOCH) // _US, *r[at + 1 :]) for r in rows])


def rows_of(n: int) -> list[tuple]:
    """The stream's points as the store's rows, sorted by key as the ingester sorts them."""
    batch = batch_of(
        [Message(topic=t, payload=p) for t, p in messages(n, 10, "agri")],
        prefix="agri",
        max_bytes=1_000_000,
    )
    rows = {(d, p.seq): (d, *p.values()) for _, d, p in batch.points}
    return [rows[k] for k in sorted(rows)]


def run(insert, rows: list[tuple], batch: int, busy: bool) -> tuple[float, float]:
    """Median wall and CPU microseconds per point of ``insert`` over the batches."""
    work = Path(tempfile.mkdtemp(prefix="sqlite-gil-"))
    engine = make_engine(f"sqlite:///{work / 'b.db'}")
    migrate(engine)
    stop = threading.Event()

    def spin() -> None:
        while not stop.is_set():
            sum(range(100))

    other = threading.Thread(target=spin, daemon=True)
    if busy:
        other.start()
    walls, cpus = [], []
    try:
        for lo in range(0, len(rows), batch):
            part = rows[lo : lo + batch]
            with engine.connect() as conn:
                dbapi = conn.connection.driver_connection
                t, c = time.perf_counter(), time.thread_time()
                dbapi.execute("BEGIN IMMEDIATE")
                cur = dbapi.cursor()
                insert(cur, part)
                dbapi.commit()
                walls.append((time.perf_counter() - t) / len(part))
                cpus.append((time.thread_time() - c) / len(part))
    finally:
        stop.set()
        engine.dispose()
    return statistics.median(walls) * 1e6, statistics.median(cpus) * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--batch", type=int, default=5000)
    args = ap.parse_args()
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    rows = rows_of(args.points)
    print(f"{len(rows):,} points in batches of {args.batch:,}; SQLite {sqlite3.sqlite_version}")
    for busy in (False, True):
        for name, insert in (
            ("one row a step (executemany)", one_row_a_step),
            (f"{points.SQLITE_ROWS} rows a step (the ingester)", points.sqlite_insert),
        ):
            wall, cpu = run(insert, rows, args.batch, busy)
            alone = "with another thread running" if busy else "alone"
            print(f"{name:<32} {alone:<28}: wall {wall:7.2f} us/point, CPU {cpu:5.2f} us/point")


if __name__ == "__main__":
    main()
