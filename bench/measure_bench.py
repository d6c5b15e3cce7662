"""Time measuring a 20-minute mission against 300,000 field polygons in the database.

Run: ``.venv/bin/python bench/measure_bench.py [--fields 300000] [--backends sqlite,postgresql]``.

The database holds a grid of ``--fields`` paddies (50 m x 100 m, Bạc Liêu, UTM 48N) and
200 no-spray zones, bulk-inserted straight into the tables. A drone flies 1,200 fixes
(20 minutes at 1 Hz, 5 m/s, 6 m swath, lawnmower passes) in the middle of the grid; its
points arrive through the ingest pipeline and its end event completes it. We then time
:func:`traceability.services.missions.measure_dirty` for that mission: reading its points,
picking candidate fields and zones by bounding box in SQL, measuring, storing the result
(and, the first time, writing the diary entries). The target is under 0.5 s.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
from pyproj import Transformer
from sqlalchemy import create_engine, insert, text, update
from sqlmodel import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from drone_ingest import handlers  # noqa: E402
from drone_ingest.handlers import Message  # noqa: E402
from traceability.db import make_engine, migrate  # noqa: E402
from traceability.models import (  # noqa: E402
    Drone,
    Farmer,
    FarmField,
    InputProduct,
    Mission,
    NoSprayZone,
)
from traceability.services import missions  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
E0, N0 = 547_000.0, 1_021_000.0
W, H = 50.0, 100.0
TO_LL = Transformer.from_crs(32648, 4326, always_xy=True)


def load_fields(engine, n_fields: int) -> tuple[int, int]:
    cols = 600
    rows = -(-n_fields // cols)
    xs = E0 + np.arange(cols + 1) * W
    ys = N0 + np.arange(rows + 1) * H
    gx, gy = np.meshgrid(xs, ys)
    lon, lat = TO_LL.transform(gx, gy)
    now = datetime.now(UTC)
    with Session(engine) as s:
        farmer = Farmer(name="Bench farmer", code=f"BENCH-{uuid.uuid4().hex[:6]}")
        s.add(farmer)
        s.commit()
        farmer_id = farmer.id
    batch = []
    t = time.perf_counter()
    with engine.begin() as conn:
        for k in range(n_fields):
            r, c = divmod(k, cols)
            ring = [
                [round(lon[r, c], 7), round(lat[r, c], 7)],
                [round(lon[r, c + 1], 7), round(lat[r, c + 1], 7)],
                [round(lon[r + 1, c + 1], 7), round(lat[r + 1, c + 1], 7)],
                [round(lon[r + 1, c], 7), round(lat[r + 1, c], 7)],
            ]
            ring.append(ring[0])
            xs_, ys_ = zip(*ring, strict=True)
            batch.append(
                {
                    "code": f"BF-{k:06d}",
                    "farmer_id": farmer_id,
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "properties": {},
                    "area_ha": W * H / 10_000,
                    "utm_epsg": 32648,
                    "min_lon": min(xs_),
                    "min_lat": min(ys_),
                    "max_lon": max(xs_),
                    "max_lat": max(ys_),
                    "created_at": now,
                }
            )
            if len(batch) == 20_000:
                conn.execute(insert(FarmField), batch)
                batch = []
        if batch:
            conn.execute(insert(FarmField), batch)
        # 200 canals: thin strips across the grid, 5 m buffer.
        zones = []
        for z in range(200):
            y = N0 + (z * 997 % rows) * H + 2.0
            x = E0 + (z * 7919 % cols) * W
            corners = [(x, y), (x + 500, y), (x + 500, y + 4), (x, y + 4), (x, y)]
            ring = [list(TO_LL.transform(px, py)) for px, py in corners]
            lons, lats = zip(*ring, strict=True)
            zones.append(
                {
                    "code": f"BZ-{z:03d}",
                    "kind": "canal",
                    "buffer_m": 5.0,
                    "geometry": {"type": "Polygon", "coordinates": [ring]},
                    "min_lon": min(lons),
                    "min_lat": min(lats),
                    "max_lon": max(lons),
                    "max_lat": max(lats),
                    "created_at": now,
                }
            )
        conn.execute(insert(NoSprayZone), zones)
    print(f"  inserted {n_fields:,} fields and 200 zones in {time.perf_counter() - t:.1f} s")
    return cols, rows


def mission_points(mission_id: str, cols: int, rows: int) -> list[dict]:
    """1,200 fixes: 30 passes of 200 m at 5 m/s, 6 m apart, applicator off in the turns."""
    x0 = E0 + (cols // 2) * W + 3.0
    y0 = N0 + (rows // 2) * H
    t0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
    rng = np.random.default_rng(1)
    points = []
    for k in range(30):
        ys = np.arange(40) * 5.0
        if k % 2:
            ys = ys[::-1]
        for i, y in enumerate(ys):
            n = len(points)
            lon, lat = TO_LL.transform(
                x0 + 6.0 * k + rng.normal(0, 0.3), y0 + y + rng.normal(0, 0.3)
            )
            points.append(
                {
                    "mission_id": mission_id,
                    "seq": n,
                    "ts": (t0 + timedelta(seconds=n)).isoformat(),
                    "lat": lat,
                    "lon": lon,
                    "spraying": i < 39,
                    "flow_lpm": 1.6,
                    "swath_m": 6.0,
                }
            )
    return points


def run(engine, n_fields: int, repeats: int) -> dict:
    cols, rows = load_fields(engine, n_fields)
    with Session(engine) as s:
        s.add(Drone(code="BENCH-D", swath_m=6.0))
        s.add(
            InputProduct(
                code="BENCH-P", name="bench", kind="pesticide", unit="L", max_dose_per_ha=20
            )
        )
        s.commit()
    mid = "BENCH-M1"
    points = mission_points(mid, cols, rows)
    start = {
        "event": "start",
        "mission_id": mid,
        "ts": points[0]["ts"],
        "type": "spray",
        "product_code": "BENCH-P",
        "swath_m": 6.0,
    }
    end = {"event": "end", "mission_id": mid, "ts": points[-1]["ts"]}
    msgs = [Message(topic="agri/drones/BENCH-D/mission", payload=orjson.dumps(start))]
    msgs += [
        Message(topic="agri/drones/BENCH-D/telemetry", payload=orjson.dumps(points[i : i + 100]))
        for i in range(0, len(points), 100)
    ]
    msgs.append(Message(topic="agri/drones/BENCH-D/mission", payload=orjson.dumps(end)))
    with Session(engine) as s:
        handlers.store(s, msgs, prefix="agri", max_bytes=10_000_000)
        if engine.dialect.name == "postgresql":
            s.execute(text("ANALYZE fields"))
            s.execute(text("ANALYZE nospray_zones"))
            s.commit()
    times = []
    with Session(engine) as s:
        for _ in range(repeats):
            s.execute(update(Mission).where(Mission.mission_id == mid).values(dirty=True))
            s.commit()
            t = time.perf_counter()
            done = missions.measure_dirty(s, mission_ids=[mid])
            times.append(time.perf_counter() - t)
            assert done == [mid]
        m = missions.get_mission(s, mission_id=mid)
    return {"times": times, "mission": m}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fields", type=int, default=300_000)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--backends", default="sqlite,postgresql")
    args = ap.parse_args()
    for backend in args.backends.split(","):
        print(f"{backend}:")
        drop = None
        if backend == "sqlite":
            engine = make_engine(f"sqlite:///{tempfile.mkdtemp(prefix='measure-bench-')}/bench.db")
        else:
            name = f"agritrace_mbench_{uuid.uuid4().hex[:6]}"
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as c:
                c.execute(text(f'CREATE DATABASE "{name}"'))
            engine = make_engine(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
            drop = (admin, name)
        try:
            migrate(engine)
            r = run(engine, args.fields, args.repeats)
        finally:
            engine.dispose()
            if drop:
                with drop[0].connect() as c:
                    c.execute(text(f'DROP DATABASE IF EXISTS "{drop[1]}" WITH (FORCE)'))
        m, times = r["mission"], r["times"]
        print(
            f"  mission of {m.point_count} fixes: {len(m.fields)} fields treated, "
            f"{m.treated_area_ha:.3f} ha treated, {m.overspray_area_ha:.3f} ha overspray, "
            f"{len(m.zones)} zone hits, flags {[f['code'] for f in m.flags]}"
        )
        print(
            f"  measure: first (with diary) {times[0] * 1000:.0f} ms; then median "
            f"{statistics.median(times[1:]) * 1000:.0f} ms, max {max(times[1:]) * 1000:.0f} ms "
            f"over {len(times) - 1} runs"
        )


if __name__ == "__main__":
    main()
