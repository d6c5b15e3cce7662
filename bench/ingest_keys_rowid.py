"""SQLite: ``telemetry_keys`` as a rowid table (as migrated) or ``WITHOUT ROWID``.

    .venv/bin/python bench/ingest_keys_rowid.py     # [--points 100000 --per-message 10]

The ingest pipeline in this process (``handlers.store``: validation, then one
transaction per 500 messages) stores the drain benchmark's stream into a fresh SQLite
file, once with the key table as the migrations make it and once rebuilt ``WITHOUT
ROWID`` (one B-tree for the key instead of a rowid table and its index), alternately for
``--rounds``. Each run prints the points/s, the CPU per point, and the floor: the stored
rows copied aside and put back with one ``INSERT … SELECT`` per table.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_bench import DRONES, messages  # noqa: E402
from sqlmodel import Session  # noqa: E402

from drone_ingest.handlers import Message, store  # noqa: E402
from traceability.db import make_engine, migrate  # noqa: E402
from traceability.ingest.points import COLUMNS  # noqa: E402
from traceability.models import Drone  # noqa: E402

WITHOUT_ROWID = (
    "CREATE TABLE telemetry_keys (drone_code VARCHAR(64) NOT NULL, seq BIGINT NOT NULL, "
    "PRIMARY KEY (drone_code, seq)) WITHOUT ROWID"
)


def run(msgs: list[Message], n: int, without_rowid: bool) -> None:
    engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/keys.db")
    migrate(engine)
    if without_rowid:
        with engine.begin() as c:
            c.exec_driver_sql("DROP TABLE telemetry_keys")
            c.exec_driver_sql(WITHOUT_ROWID)
    with Session(engine) as s:
        for d in DRONES:
            s.add(Drone(code=d, swath_m=6.5))
        s.commit()
    t, cpu = time.perf_counter(), time.process_time()
    for i in range(0, len(msgs), 500):
        with Session(engine) as s:
            store(s, msgs[i : i + 500], prefix="p", max_bytes=10**6)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    names = ", ".join(COLUMNS)
    raw = engine.raw_connection()
    cur = raw.cursor()
    cur.execute("CREATE TABLE aside_keys AS SELECT drone_code, seq FROM telemetry_keys")
    cur.execute(f"CREATE TABLE aside_points AS SELECT {names} FROM telemetry")
    cur.execute("DELETE FROM telemetry")
    cur.execute("DELETE FROM telemetry_keys")
    raw.commit()
    t = time.perf_counter()
    cur.execute("INSERT INTO telemetry_keys (drone_code, seq) SELECT * FROM aside_keys")
    cur.execute(f"INSERT INTO telemetry ({names}) SELECT * FROM aside_points")
    raw.commit()
    floor = time.perf_counter() - t
    raw.close()
    engine.dispose()
    print(
        f"WITHOUT ROWID {'yes' if without_rowid else 'no '}: {n / seconds:>9,.0f} points/s, "
        f"CPU {cpu / n * 1e6:.1f} us/point; floor {n / floor:>9,.0f} points/s; "
        f"{floor / seconds:.2f} of the floor",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--points", type=int, default=100_000)
    ap.add_argument("--per-message", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    stream = messages(args.points, args.per_message, "p")
    msgs = [Message(topic=t, payload=p, qos=1, mid=i) for i, (t, p) in enumerate(stream)]
    n = sum(p.count(b'"seq"') for _, p in stream)
    for _ in range(args.rounds):
        run(msgs, n, False)
        run(msgs, n, True)


if __name__ == "__main__":
    main()
