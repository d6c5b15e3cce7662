"""Benchmark of the buyer's trace under load, on PostgreSQL with a province-sized record.

    .venv/bin/python bench/trace_bench.py load        # 100,000 lots, 1,000,000 diary entries
    .venv/bin/python bench/trace_bench.py prebuild    # store the traces ahead (sample first)
    .venv/bin/python bench/trace_bench.py run         # server + wrk + fixed-rate load, a table
    .venv/bin/python bench/trace_bench.py all         # all three
    .venv/bin/python bench/trace_bench.py sqlite      # the record copied into SQLite
    .venv/bin/python bench/trace_bench.py run --backend sqlite

``run --first`` scans each lot at most once per phase (first scans); the lots are a
fixed sample (``SAMPLE_ORDER``) so that ``prebuild`` stores theirs first.

``load`` builds a database of its own (``agritrace_bench`` on 127.0.0.1:5432) with
COPY: 25,000 farmers, 95,000 fields (2 ha rectangles on a UTM grid in Bạc Liêu)
each with a season and a harvest lot, 5,000 milled or mixed lots (1,000 of them two
levels deep), 1,000,000 diary entries whose hash chains are real (computed with
``services.diary.entry_hash``), and ~31,700 drone missions with their per-field
results and their drone lines in the diaries.

``run`` starts uvicorn with the app (``--workers``), then for each of ``/healthz``
(the ceiling: no database), ``/api/v1/trace/{code}`` and ``/t/{code}`` with a
random lot per request:

- ``wrk`` closed-loop for the maximum throughput and its latency;
- a fixed-rate (open-loop) generator at ``--rate`` requests/s, which measures each
  latency from the moment the request was *due*, so a stalled server cannot hide
  its queue (wrk2's correction of coordinated omission; wrk2 is not in Debian).

Both load generators run on the same 2-core machine as the server and PostgreSQL;
the numbers include that contention.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_DB", "agritrace_bench")
CODES_FILE = Path(tempfile.gettempdir()) / "agritrace_bench_codes.txt"
GTINS = ["8934567890120", "4006381333931", "8936012345677"]
# The lots a run draws from: a fixed random-looking sample (the first N in this order), so
# that ``prebuild`` stores the traces of the sample first.
SAMPLE_ORDER = "md5(code)"


# ---------------------------------------------------------------- load


def _valid_gtins() -> list[str]:
    from traceability.gs1 import gtin14

    out = []
    for g in GTINS:
        with contextlib.suppress(ValueError):
            out.append(gtin14(g))
    return out


def load(
    n_harvest: int = 95_000, n_milled: int = 4_000, n_mixed: int = 1_000, n_entries: int = 1_000_000
):
    """Create and fill the benchmark database."""
    import numpy as np
    import psycopg
    from pyproj import Transformer

    from traceability.db import make_engine, migrate
    from traceability.services.diary import GENESIS, entry_hash

    t0 = time.perf_counter()
    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB}"')
    engine = make_engine(f"{PG.replace('postgresql://', 'postgresql+psycopg://')}/{DB}")
    migrate(engine)
    engine.dispose()

    rnd = random.Random(42)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    n_farmers = 25_000
    n_fields = n_harvest
    per_field = n_entries // n_fields
    extra = n_entries - per_field * n_fields  # fields that get one more entry
    assert per_field >= 10, "the diary pattern needs at least 10 entries per field"

    products = []
    for i in range(1, 21):
        products.append(
            (
                i,
                f"BVTV-{i:02d}",
                f"Thuốc BVTV {i}",
                "pesticide",
                "L",
                rnd.choice([None] + [7] * 3 + [14] * 4 + [21] * 2) if i > 1 else 14,
                1.0,
                f"Hoạt chất {i}",
                f"VN-{1000 + i}",
            )
        )
    products.append((21, "UREA", "Phân urê", "fertilizer", "kg", None, 200.0, None, None))
    products.append((22, "NPK-16", "NPK 16-16-8", "fertilizer", "kg", None, 300.0, None, None))
    products.append((23, "ST25-SEED", "Giống lúa ST25", "seed", "kg", None, 150.0, None, None))
    pesticides = [p for p in products if p[3] == "pesticide"]

    # Field rectangles (100 m x 200 m) on a grid in UTM 48N around Giá Rai, then WGS84.
    cols = 300
    idx = np.arange(n_fields)
    e0 = 520_000.0 + (idx % cols) * 110.0
    n0 = 1_000_000.0 + (idx // cols) * 210.0
    tr = Transformer.from_crs(32648, 4326, always_xy=True)
    corners = [(e0, n0), (e0 + 100, n0), (e0 + 100, n0 + 200), (e0, n0 + 200)]
    lonlat = [tr.transform(x, y) for x, y in corners]

    def copy(conn, table: str, columns: list[str], rows) -> int:
        n = 0
        with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
            for row in rows:
                cp.write_row(row)
                n += 1
        return n

    with psycopg.connect(f"{PG}/{DB}") as conn:
        copy(
            conn,
            "inputs",
            [
                "id",
                "code",
                "name",
                "kind",
                "unit",
                "phi_days",
                "max_dose_per_ha",
                "active_ingredient",
                "registration_no",
                "created_at",
            ],
            (p + (now,) for p in products),
        )
        copy(
            conn,
            "farmers",
            ["id", "code", "name", "village", "phone", "national_id", "created_at"],
            (
                (
                    i,
                    f"F{i:05d}",
                    f"Nông dân {i}",
                    f"Ấp {i % 300}",
                    f"09{i:08d}",
                    f"0791{i:08d}",
                    now,
                )
                for i in range(1, n_farmers + 1)
            ),
        )

        def field_rows():
            for i in range(n_fields):
                ring = [
                    [round(lonlat[k][0][i], 7), round(lonlat[k][1][i], 7)] for k in (0, 1, 2, 3, 0)
                ]
                xs, ys = [p[0] for p in ring], [p[1] for p in ring]
                geom = json.dumps({"type": "Polygon", "coordinates": [ring]})
                yield (
                    i + 1,
                    f"BL-{i + 1:06d}",
                    i % n_farmers + 1,
                    None,
                    geom,
                    "{}",
                    2.0,
                    32648,
                    min(xs),
                    min(ys),
                    max(xs),
                    max(ys),
                    now,
                )

        copy(
            conn,
            "fields",
            [
                "id",
                "code",
                "farmer_id",
                "name",
                "geometry",
                "properties",
                "area_ha",
                "utm_epsg",
                "min_lon",
                "min_lat",
                "max_lon",
                "max_lat",
                "created_at",
            ],
            field_rows(),
        )
        sown = [date(2025, 12, 1) + timedelta(days=i % 40) for i in range(n_fields)]
        harvest = [s + timedelta(days=100) for s in sown]
        copy(
            conn,
            "seasons",
            ["id", "field_id", "crop", "variety", "sown_on", "created_at"],
            ((i + 1, i + 1, "lúa", "ST25", sown[i], now) for i in range(n_fields)),
        )
        print(f"  reference data: {time.perf_counter() - t0:.0f} s", flush=True)

        missions, mission_fields = [], []

        def entries():
            eid = 0
            local = timedelta(hours=-7)  # 07:00 local is 00:00 UTC
            for i in range(n_fields):
                fid = i + 1
                s = datetime.combine(sown[i], datetime.min.time(), UTC) + local
                h = datetime.combine(harvest[i], datetime.min.time(), UTC) + local
                late = rnd.random() < 0.05  # a late spray: this lot will fail its PHI
                plan = [
                    ("land_prep", s - timedelta(days=3), None, None),
                    ("seed", s, 23, 120.0),
                    ("fertilize", s + timedelta(days=10), 21, 100.0),
                    ("spray", s + timedelta(days=20), rnd.choice(pesticides)[0], 1.2),
                    ("fertilize", s + timedelta(days=35), 22, 150.0),
                    ("spray", s + timedelta(days=45), rnd.choice(pesticides)[0], 1.0),
                    ("observe", s + timedelta(days=50), None, None),
                    (
                        "spray",
                        (h - timedelta(days=5)) if late else s + timedelta(days=60),
                        rnd.choice(pesticides)[0],
                        0.8,
                    ),
                    ("observe", s + timedelta(days=80), None, None),
                    ("harvest", h + timedelta(hours=1), None, None),
                ]
                plan += [
                    ("observe", s + timedelta(days=85 + k), None, None)
                    for k in range(per_field - 10)
                ]
                if i < extra:
                    plan.append(("irrigate", s + timedelta(days=30), None, None))
                plan.sort(key=lambda p: p[1])
                prev = GENESIS
                for seq, (activity, at, input_id, qty) in enumerate(plan, start=1):
                    eid += 1
                    source, mission_id, area = "manual", None, None
                    unit = None if input_id is None else products[input_id - 1][4]
                    if activity == "spray" and i % 3 == 0 and at == s + timedelta(days=45):
                        # Flown by a drone: the mission, its field result and its diary line.
                        mission_id = f"BL-DR-{i % 86 + 1:03d}-{i:06d}"
                        mpk = len(missions) + 1
                        code = products[input_id - 1][1]
                        missions.append(
                            (
                                mpk,
                                mission_id,
                                f"BL-DR-{i % 86 + 1:03d}",
                                "spray",
                                code,
                                input_id,
                                "complete",
                                at,
                                at + timedelta(minutes=14),
                                1.9,
                                "L",
                                1.9,
                                "[]",
                                "[]",
                                "[]",
                                False,
                                300,
                                now,
                            )
                        )
                        mission_fields.append((mpk, fid, 1.9, 95.0, 1.9, 1.0))
                        source, qty, area = "drone", 1.9, 1.9
                    e = SimpleNamespace(
                        id=eid,
                        field_id=fid,
                        season_id=fid,
                        chain_seq=seq,
                        occurred_at=at,
                        recorded_at=at + timedelta(hours=2),
                        activity=activity,
                        input_id=input_id,
                        quantity=qty,
                        unit=unit,
                        area_ha=area,
                        note=None,
                        corrects_id=None,
                        retracts=False,
                        source=source,
                        mission_id=mission_id,
                        client_id=None,
                        author_id=None,
                        prev_hash=prev,
                    )
                    e.hash = entry_hash(e)
                    prev = e.hash
                    yield (
                        e.id,
                        e.field_id,
                        e.season_id,
                        e.chain_seq,
                        e.occurred_at,
                        e.recorded_at,
                        e.activity,
                        e.input_id,
                        e.quantity,
                        e.unit,
                        e.area_ha,
                        e.retracts,
                        e.source,
                        e.mission_id,
                        e.prev_hash,
                        e.hash,
                    )

        n = copy(
            conn,
            "diary_entries",
            [
                "id",
                "field_id",
                "season_id",
                "chain_seq",
                "occurred_at",
                "recorded_at",
                "activity",
                "input_id",
                "quantity",
                "unit",
                "area_ha",
                "retracts",
                "source",
                "mission_id",
                "prev_hash",
                "hash",
            ],
            entries(),
        )
        print(f"  {n:,} diary entries: {time.perf_counter() - t0:.0f} s", flush=True)
        # Each field records where its chain ends, as the diary service does on append.
        conn.execute(
            "UPDATE fields f SET diary_length = d.chain_seq, diary_head = d.hash "
            "FROM (SELECT DISTINCT ON (field_id) field_id, chain_seq, hash FROM diary_entries "
            "ORDER BY field_id, chain_seq DESC) d WHERE d.field_id = f.id"
        )
        copy(
            conn,
            "missions",
            [
                "id",
                "mission_id",
                "drone_code",
                "type",
                "product_code",
                "product_id",
                "status",
                "started_at",
                "ended_at",
                "applied_amount",
                "amount_unit",
                "treated_area_ha",
                "planned_field_codes",
                "flags",
                "zones",
                "dirty",
                "point_count",
                "created_at",
            ],
            missions,
        )
        copy(
            conn,
            "mission_fields",
            [
                "mission_pk",
                "field_id",
                "treated_area_ha",
                "coverage_pct",
                "applied_amount",
                "dose_per_ha",
            ],
            mission_fields,
        )

        gtins = _valid_gtins()
        lots, lot_fields, parents = [], [], []
        for i in range(n_harvest):
            gtin = gtins[i % len(gtins)] if i % 2 == 0 else None
            lots.append(
                (i + 1, f"BL-26-{i + 1:06d}", "Lúa ST25", harvest[i], 5000.0 + i % 1000, gtin, now)
            )
            lot_fields.append((i + 1, i + 1, i + 1))
        lid = n_harvest
        for j in range(n_milled):
            lid += 1
            a, b = 2 * j + 1, 2 * j + 2
            day = max(harvest[a - 1], harvest[b - 1]) + timedelta(days=5)
            lots.append((lid, f"GAO-26-{j + 1:05d}", "Gạo ST25", day, 6500.0, gtins[0], now))
            parents += [(lid, a), (lid, b)]
        for k in range(n_mixed):
            lid += 1
            milled = n_harvest + k + 1
            other = 2 * n_milled + k + 1
            day = max(lots[milled - 1][3], harvest[other - 1]) + timedelta(days=3)
            lots.append((lid, f"MIX-26-{k + 1:05d}", "Gạo ST25 phối trộn", day, 9000.0, None, now))
            parents += [(lid, milled), (lid, other)]
        copy(
            conn,
            "lots",
            ["id", "code", "product_name", "harvested_on", "quantity_kg", "gtin", "created_at"],
            lots,
        )
        copy(conn, "lot_fields", ["lot_id", "field_id", "season_id"], lot_fields)
        copy(conn, "lot_parents", ["lot_id", "parent_id"], parents)
        for table in (
            "inputs",
            "farmers",
            "fields",
            "seasons",
            "diary_entries",
            "missions",
            "lots",
        ):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()
    with psycopg.connect(f"{PG}/{DB}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(
        f"loaded {len(lots):,} lots, {n:,} diary entries, {len(missions):,} missions "
        f"in {time.perf_counter() - t0:.0f} s",
        flush=True,
    )


# ---------------------------------------------------------------- traces built ahead


def _prebuild_part(url: str, part: int, parts: int, first: int | None) -> tuple[int, int]:
    from sqlalchemy import text
    from sqlmodel import Session

    from traceability.api import trace_cache
    from traceability.api.pages import RENDERINGS
    from traceability.db import make_engine

    engine = make_engine(url)
    with Session(engine) as session:
        codes = (
            session.execute(
                text(
                    f"SELECT code FROM (SELECT id, code FROM lots ORDER BY {SAMPLE_ORDER} "
                    f"LIMIT :first) s WHERE id % :n = :k ORDER BY {SAMPLE_ORDER}"
                ),
                {"n": parts, "k": part, "first": first},
            )
            .scalars()
            .all()
        )
        out = trace_cache.refresh(
            session, base_url="https://trace.example.vn", renderings=RENDERINGS, codes=codes
        )
    engine.dispose()
    return out


def prebuild(url: str, procs: int, first: int | None = None) -> None:
    """Store every lot's trace ahead of the scans (as ``agritrace trace-snapshots`` does);
    ``first``: only the traces of the first lots of the sample the runs draw from."""
    from concurrent.futures import ProcessPoolExecutor

    t0 = time.perf_counter()
    with ProcessPoolExecutor(procs) as pool:
        done = list(
            pool.map(_prebuild_part, [url] * procs, range(procs), [procs] * procs, [first] * procs)
        )
    seen, built = sum(d[0] for d in done), sum(d[1] for d in done)
    print(
        f"traces stored ahead: {built:,} of {seen:,} lots built in "
        f"{time.perf_counter() - t0:.0f} s ({procs} processes)",
        flush=True,
    )


def copy_to_sqlite(path: Path, n_lots: int, reuse: bool = False) -> None:
    """The whole benchmark record copied into a SQLite file, then the traces of the first
    ``n_lots`` lots of the sample stored ahead (SQLite has one writer: one process)."""
    from sqlmodel import Session

    import traceability.models  # noqa: F401  (registers every table)
    from traceability.api import trace_cache
    from traceability.api.pages import RENDERINGS
    from traceability.db import make_engine

    t0 = time.perf_counter()
    src, dst = make_engine(_url("postgresql")), make_engine(f"sqlite:///{path}")
    if not reuse:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
        _copy(src, dst)
        print(f"  copied to {path}: {time.perf_counter() - t0:.0f} s", flush=True)
    with Session(dst) as session:
        seen, built = trace_cache.refresh(
            session, base_url="https://trace.example.vn", renderings=RENDERINGS,
            codes=_codes(n_lots),
        )  # fmt: skip
    print(
        f"SQLite copy ready in {time.perf_counter() - t0:.0f} s; traces stored ahead for "
        f"{built:,} of the {seen:,} lots of the sample",
        flush=True,
    )


def _copy(src, dst) -> None:
    from sqlalchemy import select
    from sqlmodel import SQLModel

    from traceability.db import migrate

    migrate(dst)
    with src.connect() as read, dst.begin() as write:
        for table in SQLModel.metadata.sorted_tables:
            if table.name in ("trace_snapshots", "alembic_version"):
                continue
            result = read.execution_options(stream_results=True).execute(select(table))
            for chunk in result.mappings().partitions(20_000):
                write.execute(table.insert(), [dict(r) for r in chunk])


def _coverage(url: str, codes: list[str]) -> int:
    """How many of ``codes`` have every rendering stored (stale or not)."""
    from sqlalchemy import bindparam, text

    from traceability.db import make_engine

    engine = make_engine(url)
    stmt = text(
        "SELECT count(*) FROM (SELECT s.lot_id FROM trace_snapshots s JOIN lots l "
        "ON l.id = s.lot_id WHERE l.code IN :codes GROUP BY s.lot_id HAVING count(*) = 3) x"
    ).bindparams(bindparam("codes", expanding=True))
    with engine.connect() as conn:
        n = conn.execute(stmt, {"codes": codes}).scalar()
    engine.dispose()
    return n


# ---------------------------------------------------------------- fixed-rate load generator


async def _fixed_rate(
    host: str, port: int, paths: list[str], rate: float, duration: float, conns: int
):
    """Open-loop load: request i is due at t0 + i/rate; latency counts from that moment."""
    total = int(rate * duration)
    queue: asyncio.Queue = asyncio.Queue()
    latencies: list[float] = []
    errors: dict[str, int] = {}
    t0 = time.perf_counter() + 0.2

    async def producer():
        for i in range(total):
            due = t0 + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            queue.put_nowait((due, paths[i % len(paths)]))
        for _ in range(conns):
            queue.put_nowait(None)

    async def worker():
        reader = writer = None
        while True:
            item = await queue.get()
            if item is None:
                break
            due, path = item
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection(host, port)
                writer.write(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head[9:12])
                m = re.search(rb"(?i)content-length:\s*(\d+)", head)
                await reader.readexactly(int(m.group(1)) if m else 0)
                latencies.append(time.perf_counter() - due)
                if status != 200:
                    errors[str(status)] = errors.get(str(status), 0) + 1
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                writer = None
        if writer is not None:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(producer(), *[worker() for _ in range(conns)])
    elapsed = time.perf_counter() - max(started, t0)
    latencies.sort()

    def pct(p: float) -> float:
        return (
            latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))] * 1000
            if latencies
            else float("nan")
        )

    return {
        "requests": len(latencies),
        "achieved_rps": len(latencies) / elapsed,
        "p50_ms": pct(50),
        "p90_ms": pct(90),
        "p99_ms": pct(99),
        "max_ms": latencies[-1] * 1000 if latencies else float("nan"),
        "errors": errors,
    }


def loadgen(args) -> None:
    """Subcommand run in its own process so it does not share the benchmark's interpreter."""
    paths = Path(args.paths).read_text().split()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    result = asyncio.run(
        _fixed_rate("127.0.0.1", args.port, paths, args.rate, args.duration, args.conns)
    )
    print(json.dumps(result))


# ---------------------------------------------------------------- run


SQLITE = Path(os.environ.get("BENCH_SQLITE", Path(tempfile.gettempdir()) / "agritrace_bench.db"))


def _url(backend: str = "postgresql") -> str:
    if backend == "sqlite":
        return f"sqlite:///{SQLITE}"
    return f"{PG.replace('postgresql://', 'postgresql+psycopg://')}/{DB}"


def _codes(n: int = 20_000) -> list[str]:
    import psycopg

    with psycopg.connect(f"{PG}/{DB}") as conn:
        codes = [
            r[0]
            for r in conn.execute(f"SELECT code FROM lots ORDER BY {SAMPLE_ORDER} LIMIT %s", (n,))
        ]
    return codes


def _wrk(port: int, paths_file: Path, seconds: int, conns: int) -> dict:
    lua = Path(tempfile.gettempdir()) / "agritrace_wrk.lua"
    lua.write_text(
        f"""
local paths = {{}}
for line in io.lines("{paths_file}") do paths[#paths + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format("GET", paths[(i * 7919) % #paths + 1])
end
"""
    )
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{conns}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(lua),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout

    def ms(label: str) -> float:
        m = re.search(rf"{label}%\s+([\d.]+)(us|ms|s)", out)
        if not m:
            return float("nan")
        value, unit = float(m.group(1)), m.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50_ms": ms("50"),
        "p99_ms": ms("99"),
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
    }


def run(args) -> None:
    """Start the server, load each endpoint, print a markdown table."""
    env = os.environ | {
        "AGRITRACE_DATABASE_URL": _url(args.backend),
        "AGRITRACE_PUBLIC_BASE_URL": "https://trace.example.vn",
    }
    print(f"{args.backend}; load average at start: {os.getloadavg()}", flush=True)
    cmd = [
        sys.executable,
        "-m",
        "uvicorn",
        "traceability.api.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(args.port),
        "--workers",
        str(args.workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    server = subprocess.Popen(cmd, env=env, cwd=ROOT)
    try:
        import httpx

        for _ in range(100):
            try:
                if httpx.get(f"http://127.0.0.1:{args.port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        codes = _codes(args.lots)
        print(
            f"{_coverage(_url(args.backend), codes):,} of the {len(codes):,} lots drawn from "
            "have their traces stored",
            flush=True,
        )
        endpoints = {
            "/healthz (ceiling)": ["/healthz"],
            "/api/v1/trace/{code}": [f"/api/v1/trace/{c}" for c in codes],
            "/t/{code}": [f"/t/{c}" for c in codes],
        }
        rows = []
        for name, paths in endpoints.items():
            random.Random(1).shuffle(paths)
            pf = Path(tempfile.gettempdir()) / "agritrace_bench_paths.txt"
            pf_fixed = Path(tempfile.gettempdir()) / "agritrace_bench_paths_fixed.txt"
            # --first: wrk and the fixed-rate generator scan two halves of the lots, each
            # lot once at most, so no worker has served a lot before (first scans).
            half = len(paths) // 2 if args.first and len(paths) > 1 else len(paths)
            pf.write_text("\n".join(paths[:half]))
            pf_fixed.write_text("\n".join(paths[half:] or paths))
            # By default this warms the workers (imports, pools), not the data: every run
            # draws random lots. A longer --warm over a small --lots pool measures the
            # steady state of lots being scanned again and again (the cached path).
            _wrk(args.port, pf, args.warm, 8)
            closed = _wrk(args.port, pf, args.duration, args.wrk_conns)
            out = subprocess.run(
                [
                    sys.executable,
                    __file__,
                    "loadgen",
                    "--port",
                    str(args.port),
                    "--paths",
                    str(pf_fixed),
                    "--rate",
                    str(args.rate),
                    "--duration",
                    str(args.duration),
                    "--conns",
                    str(args.conns),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            fixed = json.loads(out.strip().splitlines()[-1])
            rows.append((name, closed, fixed))
            print(name, closed, fixed, flush=True)
        print()
        print(f"load average at the end: {os.getloadavg()}")
        print(
            f"{args.backend}, lots={args.lots}{' (first scans: halves)' if args.first else ''}, "
            f"warm-up {args.warm}s, "
            f"workers={args.workers}, wrk -c{args.wrk_conns} for {args.duration}s; "
            f"fixed rate {args.rate}/s for {args.duration}s over {args.conns} connections"
        )
        print()
        print(
            "| endpoint | wrk max req/s | wrk p50 ms | wrk p99 ms | fixed-rate achieved req/s "
            "| p50 ms | p90 ms | p99 ms | max ms | errors |"
        )
        print("|---|---|---|---|---|---|---|---|---|---|")
        for name, c, f in rows:
            print(
                f"| `{name}` | {c['rps']:.0f} | {c['p50_ms']:.1f} | {c['p99_ms']:.1f} | "
                f"{f['achieved_rps']:.0f} | {f['p50_ms']:.1f} | {f['p90_ms']:.1f} | "
                f"{f['p99_ms']:.1f} | "
                f"{f['max_ms']:.0f} | {sum(f['errors'].values()) + c['non2xx']} |"
            )
    finally:
        server.terminate()
        server.wait(timeout=20)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_load = sub.add_parser("load", help="build the benchmark database")
    p_load.add_argument("--entries", type=int, default=1_000_000)
    for name in ("run", "all"):
        p = sub.add_parser(
            name, help="load the server and report" if name == "run" else "load, then run"
        )
        p.add_argument("--port", type=int, default=8765)
        p.add_argument("--workers", type=int, default=2)
        p.add_argument("--rate", type=float, default=500.0)
        p.add_argument("--duration", type=int, default=20)
        p.add_argument(
            "--conns", type=int, default=64, help="connections of the fixed-rate generator"
        )
        p.add_argument("--wrk-conns", type=int, default=32)
        p.add_argument("--entries", type=int, default=1_000_000)
        p.add_argument("--lots", type=int, default=20_000, help="lots drawn from, at random")
        p.add_argument("--warm", type=int, default=3, help="seconds of unmeasured load first")
        p.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
        p.add_argument(
            "--first", action="store_true", help="each lot scanned once at most (first scans)"
        )
    p_pre = sub.add_parser("prebuild", help="store every lot's trace ahead of the scans")
    p_pre.add_argument("--procs", type=int, default=2)
    p_pre.add_argument(
        "--first", type=int, help="only the first N lots of the sample (default: every lot)"
    )
    p_sq = sub.add_parser("sqlite", help="copy the record into SQLite, store traces ahead")
    p_sq.add_argument("--lots", type=int, default=5_000)
    p_sq.add_argument("--reuse", action="store_true", help="keep the copy, store traces only")
    p_gen = sub.add_parser("loadgen", help=argparse.SUPPRESS)
    p_gen.add_argument("--port", type=int, required=True)
    p_gen.add_argument("--paths", required=True)
    p_gen.add_argument("--rate", type=float, required=True)
    p_gen.add_argument("--duration", type=float, required=True)
    p_gen.add_argument("--conns", type=int, required=True)
    args = parser.parse_args()
    if args.cmd == "loadgen":
        loadgen(args)
        return
    if args.cmd in ("load", "all"):
        load(n_entries=args.entries)
    if args.cmd in ("prebuild", "all"):
        prebuild(_url(), getattr(args, "procs", 2), getattr(args, "first", None))
    if args.cmd == "sqlite":
        copy_to_sqlite(SQLITE, args.lots, args.reuse)
    if args.cmd in ("run", "all"):
        run(args)


if __name__ == "__main__":
    main()
