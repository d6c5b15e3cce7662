"""The pages people open every day, on PostgreSQL: their HTML size and server time.

    .venv/bin/python bench/page_budgets.py              # [--requests 20 --port 8640]

The database (``agritrace_bench_pages`` on 127.0.0.1:5432, ``BENCH_DB`` to rename; kept
between runs, built when missing) is the province benchmark's season
(``bench/province_bench.py``: 86 drones, 30,000 fields, 60,000 missions, 1,000,000
diary entries) and, on top of it:

- the operator's busy day: a drone service of 86 drones flying 400 missions on
  2026-01-20 (Vietnam), each over a 2 ha field in lanes 5 m apart with a fix a second
  (800 fixes a mission, 320,000 in all), with their per-field results;
- a cooperative of 500 members (farmers moved into it with their 1,250 fields, seasons
  and diaries), each field with a harvested lot;
- an operator, an office and a cooperative user.

It serves the app with uvicorn (one worker, as ``agritrace serve``) and asks, in turn,
``--requests`` times each: ``/healthz`` (the ceiling: the same server and database doing
almost nothing), ``/operator/?day=2026-01-20``, ``/office/`` (the whole season) and
``/coop/``, each with its user's bearer token, and one mission's map as the
operator's page shows it (an image its browser asks for once scrolled near). Printed:
the HTML's size and the time to the whole answer, median and p95, with the goals
(operator < 150 kB and < 300 ms, office < 1 s, coop < 500 ms) and the load average.
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_DB", "agritrace_bench_pages")
BUSY_DAY = date(2026, 1, 20)
BUSY_ORG, COOP_ORG, OFFICE_ORG = "DV-BUSY", "HTX-500", "SNN-CM"
N_BUSY_DRONES, N_BUSY_MISSIONS, N_MEMBERS = 86, 400, 500
LANES, FIXES_PER_LANE = 20, 40
GOALS = {  # page: (bytes, seconds)
    "operator": (150_000, 0.300),
    "office": (None, 1.0),
    "coop": (None, 0.500),
}


def _url() -> str:
    return f"{PG.replace('postgresql://', 'postgresql+psycopg://')}/{DB}"


def _ready() -> bool:
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone():
            return False
    with psycopg.connect(f"{PG}/{DB}") as conn:
        try:
            found = conn.execute(
                "SELECT count(*) FROM missions WHERE mission_id LIKE 'BUSY-%%'"
            ).fetchone()[0]
        except psycopg.Error:
            return False
    return found == N_BUSY_MISSIONS


def _lanes(field_id: int, start: datetime):
    """A field's fixes: lanes 5 m apart along its 200 m side, 5 m/s, one fix a second."""
    import numpy as np
    from pyproj import Transformer

    idx = field_id - 1  # the province builder's grid (UTM 48N)
    e0 = 520_000.0 + (idx % 300) * 110.0
    n0 = 1_000_000.0 + (idx // 300) * 210.0
    xs, ys = [], []
    for lane in range(LANES):
        along = np.linspace(2.5, 197.5, FIXES_PER_LANE)
        xs.append(np.full(FIXES_PER_LANE, e0 + 2.5 + 5.0 * lane))
        ys.append(n0 + (along if lane % 2 == 0 else along[::-1]))
    lon, lat = Transformer.from_crs(32648, 4326, always_xy=True).transform(
        np.concatenate(xs), np.concatenate(ys)
    )
    return [(start + timedelta(seconds=k), float(lon[k]), float(lat[k])) for k in range(len(lon))]


def build() -> None:
    """The province's season (built by the province benchmark), then the pages' extras."""
    import province_bench
    import psycopg

    province_bench.DB = DB
    t0 = time.perf_counter()
    if not province_bench._exists():
        province_bench.load()
    now = datetime(2026, 4, 1, tzinfo=UTC)
    with psycopg.connect(f"{PG}/{DB}") as conn:
        _busy_day(conn, now)
        _cooperative(conn, now)
        for table in ("organisations", "drones", "missions", "lots"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        conn.commit()
    with psycopg.connect(f"{PG}/{DB}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"built {DB} in {time.perf_counter() - t0:.0f} s", flush=True)


def _busy_day(conn, now: datetime) -> None:
    import random

    from province_bench import _copy

    rnd = random.Random(22)
    org = conn.execute(
        "INSERT INTO organisations (code, name, kind, created_at) "
        "VALUES (%s, 'Dịch vụ bay bận rộn', 'drone_service', %s) RETURNING id",
        (BUSY_ORG, now),
    ).fetchone()[0]
    base = conn.execute("SELECT max(id) FROM drones").fetchone()[0]
    drones = [
        (base + i, f"BUSY-DR-{i:03d}", "DJI Agras T40", 5.0, 40.0, f"Tổ bay {i}", org, now)
        for i in range(1, N_BUSY_DRONES + 1)
    ]
    columns = ["id", "code", "model", "swath_m", "tank_capacity", "operator"]
    _copy(conn, "drones", [*columns, "organisation_id", "created_at"], drones)
    first = conn.execute("SELECT max(id) FROM missions").fetchone()[0] + 1
    missions, results, points = [], [], []
    day0 = datetime.combine(BUSY_DAY, datetime.min.time(), UTC) - timedelta(hours=7)
    for k in range(N_BUSY_MISSIONS):
        drone = k % N_BUSY_DRONES + 1
        code, mission_id = f"BUSY-DR-{drone:03d}", f"BUSY-{k + 1:04d}"
        field_id = (k * 37) % 30_000 + 1
        start = day0 + timedelta(hours=5.5 + (k // N_BUSY_DRONES) * 2.4, minutes=rnd.uniform(0, 30))
        fixes = _lanes(field_id, start)
        end = fixes[-1][0]
        area = round(rnd.uniform(1.85, 1.95), 4)
        amount = round(area * 20.0, 3)
        flags = '[{"code": "overlap"}]' if k % 9 == 0 else "[]"
        missions.append((
            first + k, mission_id, code, base + drone, "spray", "BVTV-01", 1, "complete",
            start, end, start, end, area, area, "L", amount, amount * 0.05, "L", 5.0, flags,
            "[]", "[]", False, len(fixes), now,
        ))  # fmt: skip
        results.append((first + k, field_id, area, area * 50.0, amount, amount / area,
                        amount * 0.05, amount * 0.05 / area))  # fmt: skip
        for seq, (ts, lon, lat) in enumerate(fixes):
            points.append((code, k * 10_000 + seq, mission_id, ts, lat, lon, 3.0, 5.0, True,
                           1.5, 5.0))  # fmt: skip
    _copy(conn, "missions", [
        "id", "mission_id", "drone_code", "drone_id", "type", "product_code", "product_id",
        "status", "started_at", "ended_at", "first_fix_at", "last_fix_at", "treated_area_ha",
        "sprayed_area_ha", "amount_unit", "applied_amount", "product_amount", "product_unit",
        "swath_m", "flags", "planned_field_codes", "zones", "dirty", "point_count", "created_at",
    ], missions)  # fmt: skip
    _copy(conn, "mission_fields", province_bench_result_columns(), results)
    _copy(conn, "telemetry", [
        "drone_code", "seq", "mission_id", "ts", "lat", "lon", "alt_m", "speed_mps", "spraying",
        "flow_lpm", "swath_m",
    ], points)  # fmt: skip


def province_bench_result_columns() -> list[str]:
    from province_bench import _RESULT_COLUMNS

    return _RESULT_COLUMNS


def _cooperative(conn, now: datetime) -> None:
    from province_bench import _copy, _sown

    org = conn.execute(
        "INSERT INTO organisations (code, name, kind, created_at) "
        "VALUES (%s, 'HTX Năm Trăm', 'cooperative', %s) RETURNING id",
        (COOP_ORG, now),
    ).fetchone()[0]
    conn.execute("UPDATE farmers SET organisation_id = %s WHERE id <= %s", (org, N_MEMBERS))
    fields = conn.execute(
        "SELECT f.id, s.id FROM fields f JOIN seasons s ON s.field_id = f.id "
        "WHERE f.farmer_id <= %s ORDER BY f.id",
        (N_MEMBERS,),
    ).fetchall()
    first = (conn.execute("SELECT max(id) FROM lots").fetchone()[0] or 0) + 1
    lots, links = [], []
    for k, (field_id, season_id) in enumerate(fields):
        harvested = _sown(field_id) + timedelta(days=100)
        lots.append((first + k, f"LUA-{field_id:06d}", "Lúa ST25", harvested, 12_000.0, now))
        links.append((first + k, field_id, season_id))
    _copy(conn, "lots", ["id", "code", "product_name", "harvested_on", "quantity_kg",
                         "created_at"], lots)  # fmt: skip
    _copy(conn, "lot_fields", ["lot_id", "field_id", "season_id"], links)


def _tokens() -> dict[str, str]:
    """A fresh token for each page's user (made on first use)."""
    from sqlmodel import Session, select

    from traceability.db import make_engine
    from traceability.models import Organisation, Role, User, UserCreate
    from traceability.services import users

    engine = make_engine(_url())
    out = {}
    with Session(engine) as session:
        office = select(Organisation).where(Organisation.code == OFFICE_ORG)
        if session.exec(office).first() is None:
            session.add(Organisation(code=OFFICE_ORG, name="Sở NN&MT", kind="office"))
            session.commit()
        for page, role, org in (
            ("operator", Role.operator, BUSY_ORG),
            ("office", Role.office, OFFICE_ORG),
            ("coop", Role.cooperative, COOP_ORG),
        ):
            name = f"bench {page}"
            found = session.exec(select(User).where(User.name == name)).first()
            if found is None:
                _user, out[page] = users.create_user(
                    session, data=UserCreate(name=name, role=role, organisation_code=org)
                )
            else:
                _token, out[page] = users.issue_token(session, user_id=found.id)
    engine.dispose()
    return out


def _serve(port: int) -> subprocess.Popen:
    import httpx

    env = os.environ | {"AGRITRACE_DATABASE_URL": _url()}
    cmd = [
        sys.executable, "-m", "uvicorn", "traceability.api.main:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    server = subprocess.Popen(cmd, env=env, cwd=ROOT)
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                return server
        except httpx.HTTPError:
            time.sleep(0.1)
    server.terminate()
    raise SystemExit("the server did not answer /healthz")


def _p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def measure(requests: int, port: int) -> None:
    import httpx

    tokens = _tokens()
    pages = {
        "healthz (ceiling)": ("/healthz", None),
        "operator": (f"/operator/?day={BUSY_DAY.isoformat()}", tokens["operator"]),
        "office": ("/office/", tokens["office"]),
        "coop": ("/coop/", tokens["coop"]),
        # What the operator's page asks for each mission's map once it is scrolled near.
        "a mission's map image": (
            "/api/v1/missions/BUSY-0001/map.svg?width=360",
            tokens["operator"],
        ),
    }
    server = _serve(port)
    times: dict[str, list[float]] = {name: [] for name in pages}
    sizes: dict[str, int] = {}
    try:
        print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60.0) as client:
            for name, (path, token) in pages.items():  # one unmeasured request each
                headers = {"Authorization": f"Bearer {token}"} if token else {}
                answer = client.get(path, headers=headers)
                assert answer.status_code == 200, (name, answer.status_code, answer.text[:300])
            for _ in range(requests):
                for name, (path, token) in pages.items():
                    headers = {"Authorization": f"Bearer {token}"} if token else {}
                    t = time.perf_counter()
                    answer = client.get(path, headers=headers)
                    times[name].append(time.perf_counter() - t)
                    assert answer.status_code == 200, (name, answer.status_code)
                    sizes[name] = len(answer.content)
    finally:
        server.terminate()
        server.wait(timeout=20)
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"\n{requests} requests each, in turn\n")
    print("| page | HTML | median | p95 | goal |\n|---|---|---|---|---|")
    for name, values in times.items():
        goal = GOALS.get(name)
        said = ""
        if goal:
            size, seconds = goal
            said = (f"< {size / 1000:.0f} kB, " if size else "") + f"< {seconds * 1000:.0f} ms"
        median, p95 = statistics.median(values) * 1000, _p95(values) * 1000
        print(f"| {name} | {sizes[name] / 1000:,.1f} kB | {median:,.1f} ms | {p95:,.1f} ms "
              f"| {said} |")  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--port", type=int, default=8640)
    ap.add_argument("--rebuild", action="store_true", help="build the database again")
    args = ap.parse_args()
    if args.rebuild or not _ready():
        if args.rebuild:
            import psycopg

            with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        build()
    measure(args.requests, args.port)


if __name__ == "__main__":
    main()
