"""Benchmark of the province report on a season of a province, on PostgreSQL.

    .venv/bin/python bench/province_bench.py            # build the database, then measure
    .venv/bin/python bench/province_bench.py --reuse    # measure on the database already built
                                                        # (built first if it is not there)

The database (``agritrace_bench_province`` on 127.0.0.1:5432, kept between runs) holds
one Đông Xuân season: 86 drones of 6 drone services, 12,000 farmers (70 % in 20
cooperatives), 30,000 fields of 2 ha in the province's communes, 60,000 drone missions
(one in ten over two fields; 3 % flagged overdose, 5 % overspray, 1 % no-spray zone,
1 % of the per-field results treating nothing) and 1,000,000 diary entries: each
mission's diary line on each field, hand sprays, fertiliser and seed, purchases (never
counted), water and observations, with 2 % of the hand sprays corrected and 1 %
withdrawn. Loaded with COPY in about a minute.

It times ``reports.province_report`` (the product's code, through its public function)
and, in the same run, one hand-written SQL statement computing the same figures (the
ceiling: PostgreSQL doing nothing but the aggregation), alternately, ``--repeat`` times
each, and checks that both give the same figures row by row. The machine is shared:
the load average is printed with the figures.
"""

import argparse
import json
import os
import random
import statistics
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DB = os.environ.get("BENCH_DB", "agritrace_bench_province")
N_DRONES, N_SERVICES, N_COOPS = 86, 6, 20
N_FARMERS, N_FIELDS, N_MISSIONS, N_ENTRIES = 12_000, 30_000, 60_000, 1_000_000
FLAG_SHARES = {"dose_above_max": 0.03, "overspray": 0.05, "nospray_zone": 0.01, "overlap": 0.05}


def _copy(conn, table: str, columns: list[str], rows) -> int:
    n = 0
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as cp:
        for row in rows:
            cp.write_row(row)
            n += 1
    return n


def _create() -> None:
    import psycopg

    from traceability.db import make_engine, migrate

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB}"')
    engine = make_engine(_url())
    migrate(engine)
    engine.dispose()


def _exists() -> bool:
    """Whether a complete benchmark database is there to reuse."""
    import psycopg

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        found = admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB,)).fetchone()
    if not found:
        return False
    with psycopg.connect(f"{PG}/{DB}") as conn:
        try:
            return conn.execute("SELECT count(*) FROM diary_entries").fetchone()[0] == N_ENTRIES
        except psycopg.Error:
            return False


def _url() -> str:
    return f"{PG.replace('postgresql://', 'postgresql+psycopg://')}/{DB}"


def _reference(conn, now: datetime) -> list[tuple]:
    """Organisations, drones, products, farmers, fields and seasons; the products."""
    from traceability import adminunits
    from traceability.models import AdminUnitLevel

    orgs = [(i, f"DV-{i:02d}", f"Dịch vụ bay {i}", "drone_service", now) for i in range(1, 7)]
    orgs += [(6 + i, f"HTX-{i:02d}", f"HTX {i}", "cooperative", now) for i in range(1, 21)]
    _copy(conn, "organisations", ["id", "code", "name", "kind", "created_at"], orgs)
    drones = [
        (i, f"BL-DR-{i:03d}", "DJI Agras T40", 10.0, 40.0, f"Tổ bay {i}", i % 6 + 1, now)
        for i in range(1, N_DRONES + 1)
    ]
    columns = ["id", "code", "model", "swath_m", "tank_capacity", "operator"]
    _copy(conn, "drones", [*columns, "organisation_id", "created_at"], drones)
    products = [
        (i, f"BVTV-{i:02d}", f"Thuốc {i}", "pesticide", "L" if i % 3 else "kg", 14, 1.0, None)
        for i in range(1, 21)
    ]
    products += [
        (21, "UREA46", "Urê", "fertilizer", "kg", None, 150.0, 46.0),
        (22, "NPK202015", "NPK 20-20-15", "fertilizer", "kg", None, 200.0, 20.0),
        (23, "SEED-ST25", "Lúa giống ST25", "seed", "kg", None, 120.0, None),
    ]
    columns = ["id", "code", "name", "kind", "unit", "phi_days", "max_dose_per_ha"]
    _copy(conn, "inputs", [*columns, "nitrogen_pct", "created_at"], (p + (now,) for p in products))
    farmers = (
        (i, f"ND{i:05d}", f"Nông dân {i}", 7 + i % 20 if i % 10 < 7 else None, now)
        for i in range(1, N_FARMERS + 1)
    )
    _copy(conn, "farmers", ["id", "code", "name", "organisation_id", "created_at"], farmers)
    communes = [
        u.code
        for u in adminunits.units(level=AdminUnitLevel.commune, parent_code=adminunits.CA_MAU.code)
    ]
    _copy(conn, "fields", _FIELD_COLUMNS, _fields(communes, now))
    seasons = ((i, i, "lúa", _sown(i), now) for i in range(1, N_FIELDS + 1))
    _copy(conn, "seasons", ["id", "field_id", "crop", "sown_on", "created_at"], seasons)
    return products


_FIELD_COLUMNS = [
    "id", "code", "farmer_id", "commune_code", "geometry", "properties", "area_ha", "utm_epsg",
    "min_lon", "min_lat", "max_lon", "max_lat", "created_at",
]  # fmt: skip


def _fields(communes: list[str], now: datetime):
    """2 ha rectangles (100 m x 200 m) on a grid in UTM 48N, in WGS84."""
    import numpy as np
    from pyproj import Transformer

    idx = np.arange(N_FIELDS)
    e0 = 520_000.0 + (idx % 300) * 110.0
    n0 = 1_000_000.0 + (idx // 300) * 210.0
    to_wgs84 = Transformer.from_crs(32648, 4326, always_xy=True)
    corners = [to_wgs84.transform(x, y) for x, y in ((e0, n0), (e0 + 100, n0),
               (e0 + 100, n0 + 200), (e0, n0 + 200))]  # fmt: skip
    for i in range(N_FIELDS):
        ring = [[round(corners[k][0][i], 7), round(corners[k][1][i], 7)] for k in (0, 1, 2, 3, 0)]
        xs, ys = [p[0] for p in ring], [p[1] for p in ring]
        geometry = json.dumps({"type": "Polygon", "coordinates": [ring]})
        commune = communes[i % len(communes)]
        yield (i + 1, f"BL-{i + 1:06d}", i % N_FARMERS + 1, commune, geometry, "{}", 2.0, 32648,
               min(xs), min(ys), max(xs), max(ys), now)  # fmt: skip


def _sown(field_id: int) -> date:
    return date(2025, 12, 1) + timedelta(days=field_id % 40)


def _local(day: date, hour: float) -> datetime:
    """``hour`` o'clock Vietnam time on ``day``, in UTC."""
    return datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=hour - 7)


def _missions(rnd: random.Random, products: list[tuple], now: datetime):
    """Missions and their per-field results; {(mission_id, field_id): (at, product, qty)}."""
    missions, results, lines = [], [], {}
    pesticides = products[:20]
    for pk in range(1, N_MISSIONS + 1):
        drone = (pk - 1) % N_DRONES + 1
        fields = [rnd.randrange(1, N_FIELDS + 1)]
        if rnd.random() < 0.1:
            fields.append(fields[0] % N_FIELDS + 1)
        product = rnd.choice(pesticides)
        start = _local(_sown(fields[0]) + timedelta(days=rnd.randrange(15, 80)), rnd.uniform(5, 17))
        end = start + timedelta(minutes=rnd.uniform(8, 25))
        flags = [{"code": c} for c, share in FLAG_SHARES.items() if rnd.random() < share]
        treated = 0.0
        mission_id = f"M-{drone:03d}-{pk:06d}"
        for field_id in fields:
            area = 0.0 if rnd.random() < 0.01 else round(rnd.uniform(1.5, 2.0), 4)
            amount = round(area * rnd.uniform(0.6, 1.3), 4)
            dose = round(amount / area, 6) if area else None
            results.append((pk, field_id, area, area * 50.0, amount * 20, dose, amount, dose))
            lines[(mission_id, field_id)] = (end, product[0], amount, product[4], area)
            treated += area
        missions.append((
            pk, mission_id, f"BL-DR-{drone:03d}", drone, "spray", product[1], product[0],
            "complete", start, end, treated, "L", product[4], json.dumps(flags), "[]", "[]",
            False, 300, now,
        ))  # fmt: skip
    return missions, results, lines


_MISSION_COLUMNS = [
    "id", "mission_id", "drone_code", "drone_id", "type", "product_code", "product_id",
    "status", "started_at", "ended_at", "treated_area_ha", "amount_unit", "product_unit",
    "flags", "planned_field_codes", "zones", "dirty", "point_count", "created_at",
]  # fmt: skip
_RESULT_COLUMNS = [
    "mission_pk", "field_id", "treated_area_ha", "coverage_pct", "applied_amount",
    "dose_per_ha", "product_amount", "product_dose_per_ha",
]  # fmt: skip
_ENTRY_COLUMNS = [
    "id", "field_id", "season_id", "chain_seq", "occurred_at", "recorded_at", "activity",
    "input_id", "quantity", "unit", "area_ha", "retracts", "corrects_id", "source",
    "mission_id", "prev_hash", "hash",
]  # fmt: skip
_HAND = [("seed", 23, 120.0), ("fertilize", 21, 100.0), ("fertilize", 22, 150.0),
         ("purchase", 1, 5.0)]  # fmt: skip
_OTHER = ["observe", "irrigate", "drain", "observe", "land_prep", "irrigate", "drain"]


def _plan(rnd, field_id, lines_of_field, products):
    """One field's diary before corrections: (at, activity, input, qty, unit, area, mission)."""
    sown = _sown(field_id)
    plan = [(at, "spray", p, q, u, a, m) for m, (at, p, q, u, a) in lines_of_field]
    for activity, product, qty in _HAND:
        plan.append((_local(sown, 7), activity, product, qty, products[product - 1][4], 2.0, None))
    for k in range(4):
        p = rnd.randrange(1, 21)
        at = _local(sown + timedelta(days=20 + 15 * k), rnd.uniform(5, 18))
        plan.append((at, "spray", p, round(rnd.uniform(0.5, 2.5), 3), products[p - 1][4],
                     round(rnd.uniform(0.5, 2.0), 3), None))  # fmt: skip
    plan.append((_local(sown + timedelta(days=100), 9), "harvest", None, None, None, None, None))
    return plan


def _entries(rnd, lines: dict, products: list[tuple]):
    """1,000,000 diary rows; hand sprays corrected (2 %) or withdrawn (1 %)."""
    by_field: dict[int, list] = {}
    for (mission_id, field_id), line in lines.items():
        by_field.setdefault(field_id, []).append((mission_id, line))
    eid = 0
    per_field = N_ENTRIES // N_FIELDS
    for field_id in range(1, N_FIELDS + 1):
        budget = per_field + (1 if field_id <= N_ENTRIES - per_field * N_FIELDS else 0)
        plan = _plan(rnd, field_id, by_field.get(field_id, []), products)
        rows = []
        for at, activity, product, qty, unit, area, mission in plan:
            rows.append([at, activity, product, qty, unit, area, False, None, mission])
            if activity == "spray" and mission is None and rnd.random() < 0.03:
                fix = rnd.random() < 2 / 3  # a correction, else a withdrawal
                rows.append([at, "spray", product if fix else None, round(qty * 0.8, 3) if fix
                             else None, unit if fix else None, area if fix else None, not fix,
                             len(rows) - 1, None])  # fmt: skip
        sown = _sown(field_id)
        k = 0
        while len(rows) < budget:
            day = sown + timedelta(days=2 + 3 * k)
            rows.append([_local(day, 6), _OTHER[k % 7], None, None, None, None, False, None, None])
            k += 1
        first = eid + 1
        for seq, (at, activity, product, qty, unit, area, retracts, corrects, mission) in enumerate(
            rows[:budget], start=1
        ):
            eid += 1
            yield (eid, field_id, field_id, seq, at, at + timedelta(hours=1), activity, product,
                   qty, unit, area, retracts, first + corrects if corrects is not None else None,
                   "drone" if mission else "manual", mission, "0" * 64, f"{eid:064x}")  # fmt: skip


def load() -> None:
    """Create and fill the benchmark database."""
    import psycopg

    t0 = time.perf_counter()
    _create()
    rnd = random.Random(9)
    now = datetime(2026, 4, 1, tzinfo=UTC)
    with psycopg.connect(f"{PG}/{DB}") as conn:
        products = _reference(conn, now)
        missions, results, lines = _missions(rnd, products, now)
        _copy(conn, "missions", _MISSION_COLUMNS, missions)
        _copy(conn, "mission_fields", _RESULT_COLUMNS, results)
        n = _copy(conn, "diary_entries", _ENTRY_COLUMNS, _entries(rnd, lines, products))
        for table in ("organisations", "drones", "inputs", "farmers", "fields", "seasons",
                      "missions", "diary_entries"):  # fmt: skip
            conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                         f"(SELECT max(id) FROM {table}))")  # fmt: skip
        conn.commit()
    with psycopg.connect(f"{PG}/{DB}", autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    print(f"loaded {len(missions):,} missions, {len(results):,} mission results, "
          f"{n:,} diary entries in {time.perf_counter() - t0:.0f} s", flush=True)  # fmt: skip


# ---------------------------------------------------------------- the ceiling

# One statement, written by hand from the report's definition: hectares treated per ISO
# week (Vietnam time), commune, product and activity (a diary entry's, or a mission's
# type, untyped counting as a spray), from the diary's standing entries that are
# applications (neither a purchase nor a sale, nor a drone's line of a mission that put
# something on that field) and from missions' results that put something on a field;
# and per week and commune, the missions flagged overdose, overspray or no-spray zone.
CEILING = """
WITH applied AS (
    SELECT d.occurred_at AS at, d.field_id, p.code AS product_code, p.name AS product_name,
           d.area_ha AS area, d.activity::text AS activity
    FROM diary_entries d JOIN inputs p ON p.id = d.input_id
    WHERE d.input_id IS NOT NULL AND NOT d.retracts
      AND d.activity NOT IN ('purchase', 'sale')
      AND NOT EXISTS (SELECT 1 FROM diary_entries n WHERE n.corrects_id = d.id)
      AND NOT EXISTS (
          SELECT 1 FROM missions m JOIN mission_fields mf ON mf.mission_pk = m.id
          WHERE m.mission_id = d.mission_id AND mf.field_id = d.field_id
            AND (mf.treated_area_ha <> 0 OR mf.applied_amount <> 0))
    UNION ALL
    SELECT coalesce(m.ended_at, m.started_at), mf.field_id, m.product_code, p.name,
           mf.treated_area_ha,
           CASE WHEN m.type IN ('fertilize', 'seed') THEN m.type::text ELSE 'spray' END
    FROM mission_fields mf JOIN missions m ON m.id = mf.mission_pk
    LEFT JOIN inputs p ON p.id = m.product_id
    WHERE (mf.treated_area_ha <> 0 OR mf.applied_amount <> 0) AND m.product_code IS NOT NULL
), flagged AS (
    SELECT m.id, m.started_at,
           m.flags::jsonb @> '[{"code": "dose_above_max"}]' AS dose,
           m.flags::jsonb @> '[{"code": "overspray"}]' AS over,
           m.flags::jsonb @> '[{"code": "nospray_zone"}]' AS zone
    FROM missions m
)
SELECT 'hectares' AS part,
       to_char(a.at AT TIME ZONE 'Asia/Ho_Chi_Minh', 'IYYY-"W"IW') AS week,
       f.commune_code, a.product_code, a.product_name, a.activity,
       sum(a.area) AS treated_area_ha, count(*) AS applications,
       NULL::bigint AS flagged_missions, NULL::bigint AS dose_above_max,
       NULL::bigint AS overspray, NULL::bigint AS nospray_zone
FROM applied a JOIN fields f ON f.id = a.field_id
GROUP BY 2, 3, 4, 5, 6
UNION ALL
SELECT 'flags', to_char(x.started_at AT TIME ZONE 'Asia/Ho_Chi_Minh', 'IYYY-"W"IW'),
       f.commune_code, NULL, NULL, NULL, NULL, NULL,
       count(DISTINCT x.id), count(DISTINCT x.id) FILTER (WHERE x.dose),
       count(DISTINCT x.id) FILTER (WHERE x.over), count(DISTINCT x.id) FILTER (WHERE x.zone)
FROM flagged x
LEFT JOIN mission_fields mf ON mf.mission_pk = x.id
LEFT JOIN fields f ON f.id = mf.field_id
WHERE x.dose OR x.over OR x.zone
GROUP BY 2, 3
"""


def ceiling(engine):
    import pandas as pd
    from sqlalchemy import text

    with engine.connect() as conn:
        return pd.read_sql(text(CEILING), conn)


# ---------------------------------------------------------------- measure

_KEYS = ["part", "week", "commune_code", "product_code", "activity"]
_FIGURES = ["treated_area_ha", "applications", "flagged_missions", "dose_above_max",
            "overspray", "nospray_zone"]  # fmt: skip


def same_figures(report, sql) -> int:
    """Rows compared; raises AssertionError naming the first difference."""
    import numpy as np

    blank = {"product_code": "", "activity": ""}
    a = report[_KEYS + _FIGURES].fillna(blank).sort_values(_KEYS)
    b = sql[_KEYS + _FIGURES].fillna(blank).sort_values(_KEYS)
    assert len(a) == len(b), f"{len(a)} rows in the report, {len(b)} in the SQL"
    a, b = a.reset_index(drop=True), b.reset_index(drop=True)
    for key in _KEYS:
        mismatch = (a[key].astype(str) != b[key].astype(str)).to_numpy()
        assert not mismatch.any(), f"{key}: {a[mismatch].head(3)} vs {b[mismatch].head(3)}"
    for column in _FIGURES:
        x, y = a[column].astype("Float64").to_numpy(), b[column].astype("Float64").to_numpy()
        x, y = np.nan_to_num(x.astype(float), nan=-1), np.nan_to_num(y.astype(float), nan=-1)
        assert np.allclose(x, y, rtol=1e-9, atol=1e-6), f"{column} differs"
    return len(a)


def measure(repeat: int) -> None:
    from traceability import reports
    from traceability.db import make_engine

    engine = make_engine(_url())
    times: dict[str, list[float]] = {"report": [], "sql": []}
    for _ in range(repeat):
        t = time.perf_counter()
        report = reports.province_report(engine)
        times["report"].append(time.perf_counter() - t)
        t = time.perf_counter()
        sql = ceiling(engine)
        times["sql"].append(time.perf_counter() - t)
    rows = same_figures(report, sql)
    print(f"load average (1, 5, 15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"same figures: {rows:,} rows ({(report['part'] == 'hectares').sum():,} hectares, "
          f"{(report['part'] == 'flags').sum():,} flags)")  # fmt: skip
    print("| | best | median | runs |\n|---|---|---|---|")
    for name, values in times.items():
        runs = ", ".join(f"{v:.2f}" for v in values)
        print(f"| {name} | {min(values):.2f} s | {statistics.median(values):.2f} s | {runs} |")
    ratio = min(times["report"]) / min(times["sql"])
    print(f"report / SQL (best): {ratio:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reuse", action="store_true", help="keep the database already built")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each (default 5)")
    args = parser.parse_args()
    if not args.reuse or not _exists():
        load()
    measure(args.repeat)


if __name__ == "__main__":
    main()
