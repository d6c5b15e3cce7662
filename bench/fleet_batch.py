"""One writer batch of a whole fleet's one-point messages: the store's own cost, in process.

Run::

    .venv/bin/python bench/fleet_batch.py                       # PostgreSQL, 6,000 drones
    .venv/bin/python bench/fleet_batch.py --code /path/to/other/checkout   # the same, its code
    .venv/bin/python bench/fleet_batch.py --help

At the whole country's fleet every drone sends a point a second, one point a message, so
a batch of the ingester's writer (2,000 points) holds 2,000 messages of 2,000 different
drones and missions. This times the writer's road on such batches
(:func:`drone_ingest.handlers.batch_of` and ``commit_batch``, with the drones and missions
the writer keeps between batches, :class:`~traceability.ingest.store.KnownRows`, where the
checkout has them; no broker, no network thread: validation, the drones and missions
looked up, the points copied in, the missions' counts moved, the commit) on a database of its own
(``agritrace_bench_fleet``, made afresh), after ``--warmup`` batches that create the
missions (and an ``ANALYZE`` after them, as autovacuum makes in a live database, so that
the server plans with real statistics). It prints the median CPU and wall time per
message over ``--batches`` batches, and checks that every point was stored once.

``--code PATH`` puts another checkout first on ``sys.path``, to compare before and after
on the same machine in the same hour.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--drones", type=int, default=6000, help="drones, one point each per turn")
    p.add_argument("--batch", type=int, default=2000, help="messages per batch")
    p.add_argument("--warmup", type=int, default=3, help="batches not timed")
    p.add_argument("--batches", type=int, default=20, help="batches timed")
    p.add_argument("--code", help="another checkout to import the product from")
    p.add_argument("--database", default="agritrace_bench_fleet", help="PostgreSQL database")
    args = p.parse_args()
    sys.path.insert(0, str(Path(args.code).resolve() if args.code else ROOT))

    import orjson
    from sqlalchemy import create_engine, func, select, text
    from sqlmodel import Session

    from drone_ingest import handlers
    from drone_ingest.handlers import Message
    from traceability.db import make_engine, migrate
    from traceability.models import Drone, Mission, TelemetryPoint

    admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
        c.execute(text(f'CREATE DATABASE "{args.database}"'))
    engine = make_engine(PG_ADMIN.rsplit("/", 1)[0] + f"/{args.database}")
    migrate(engine)
    codes = [f"FLEET-{i:05d}" for i in range(args.drones)]
    with Session(engine) as s:
        s.add_all(Drone(code=c, swath_m=6.0) for c in codes)
        s.commit()
    t0 = time.time() - 3600

    def message(k: int) -> Message:
        d, seq = k % args.drones, k // args.drones
        point = {
            "mission_id": f"M-{codes[d]}",
            "seq": seq,
            "ts": datetime.fromtimestamp(t0 + seq, UTC).isoformat(timespec="milliseconds"),
            "lat": 9.23 + d * 1e-4,
            "lon": 105.43 + seq * 1e-5,
            "alt_m": 2.5,
            "speed_mps": 4.0,
            "heading_deg": 90.0,
            "spraying": True,
            "flow_lpm": 2.0,
            "swath_m": 6.0,
            "battery_pct": 80.0,
        }
        return Message(
            topic=f"agri/drones/{codes[d]}/telemetry", payload=orjson.dumps(point), qos=1, mid=1
        )

    # The writer's road: what it keeps between batches, where the checkout has that.
    kept = handlers.KnownRows() if hasattr(handlers, "KnownRows") else None

    def store(session: Session, batch: list[Message]):
        if kept is None:
            return handlers.store(session, batch, prefix="agri", max_bytes=65536)
        work = handlers.batch_of(batch, prefix="agri", max_bytes=65536)
        return handlers.commit_batch(session, work, kept)

    cpu: list[float] = []
    wall: list[float] = []
    k = 0
    for b in range(args.warmup + args.batches):
        batch = [message(k + i) for i in range(args.batch)]
        k += args.batch
        c0, w0 = time.process_time(), time.perf_counter()
        with Session(engine) as s:
            result = store(s, batch)
        c1, w1 = time.process_time(), time.perf_counter()
        if result.stored != args.batch:
            raise SystemExit(f"batch {b}: stored {result.stored} of {args.batch}")
        if b == args.warmup - 1:
            # What autovacuum does to a live database within a minute: the planner's
            # statistics of the drones and missions as they are, as in production.
            with engine.connect() as c:
                c.execute(text("ANALYZE"))
                c.commit()
        if b >= args.warmup:
            cpu.append((c1 - c0) / args.batch)
            wall.append((w1 - w0) / args.batch)
    with Session(engine) as s:
        rows = s.execute(select(func.count()).select_from(TelemetryPoint)).scalar_one()
        counted = s.execute(select(func.sum(Mission.point_count))).scalar_one()
    engine.dispose()
    with admin.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{args.database}" WITH (FORCE)'))
    admin.dispose()
    print(
        f"{args.code or 'this checkout'}: {args.drones:,} drones, batches of {args.batch:,} "
        f"one-point messages{', rows kept between batches' if kept is not None else ''}: "
        f"CPU {statistics.median(cpu) * 1e6:.1f} us a message, "
        f"wall {statistics.median(wall) * 1e6:.1f} us (median of {args.batches}); "
        f"rows {rows:,}, point_count {counted:,}, sent {k:,}: "
        f"{'exactly once' if rows == counted == k else 'NOT EXACTLY ONCE'}; "
        f"load {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
