"""Points: telemetry rows into the ``telemetry`` table through the driver, each point once.

This is the hot path of the ingester, so it talks to the database driver directly, in
the session's transaction: on PostgreSQL a binary COPY into a temporary table and one
``INSERT ... SELECT ... ON CONFLICT (drone_code, seq) DO NOTHING``; on SQLite
``executemany`` per mission with the connection's change counter. A repeated point is
a no-op either way, and the counts returned are of the rows that were new.
"""

from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime
from operator import itemgetter

from sqlalchemy import select
from sqlmodel import Session

from traceability.ingest.contract import POINT_FIELDS, TelemetryIn
from traceability.models import TelemetryPoint

#: A row's values: the drone's code, then a point's values in contract order.
COLUMNS: tuple[str, ...] = ("drone_code", *POINT_FIELDS)

# PostgreSQL types of the COPY; every other contract field is a float.
_PG_TYPE = {
    "drone_code": "text",
    "mission_id": "text",
    "seq": "int8",
    "ts": "timestamptz",
    "spraying": "bool",
}
_PG_TYPES = [_PG_TYPE.get(c, "float8") for c in COLUMNS]
_PG_TEMP = (
    "CREATE TEMP TABLE IF NOT EXISTS telemetry_in ("
    + ", ".join(f"{c} {t}" for c, t in zip(COLUMNS, _PG_TYPES, strict=True))
    + ") ON COMMIT DELETE ROWS"
)
_NAMES = ", ".join(COLUMNS)
_PG_INSERT = (
    f"WITH ins AS (INSERT INTO telemetry ({_NAMES}) SELECT {_NAMES} FROM telemetry_in "
    "ORDER BY drone_code, seq ON CONFLICT (drone_code, seq) DO NOTHING "
    "RETURNING mission_id, ts) "
    "SELECT mission_id, count(*), min(ts) FROM ins GROUP BY mission_id"
)
_SQLITE_INSERT = (
    f"INSERT INTO telemetry ({_NAMES}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT (drone_code, seq) DO NOTHING"
)
_TS_AT = COLUMNS.index("ts")
_MID_AT = COLUMNS.index("mission_id")


def insert_points(session: Session, rows: list[tuple]) -> tuple[Counter[str], dict[str, datetime]]:
    """Insert point rows (:data:`COLUMNS` order), skipping known ``(drone, seq)``.

    Returns, per mission, how many rows were new and the earliest of the new fixes.
    """
    dbapi = session.connection().connection.driver_connection
    if session.get_bind().dialect.name == "postgresql":
        return _copy_points(dbapi, rows)
    return _executemany_points(dbapi, rows)


def _copy_points(dbapi, rows: list[tuple]) -> tuple[Counter[str], dict[str, datetime]]:
    new: Counter[str] = Counter()
    first: dict[str, datetime] = {}
    with dbapi.cursor() as cur:
        cur.execute(_PG_TEMP)
        with cur.copy(f"COPY telemetry_in ({_NAMES}) FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(_PG_TYPES)
            for row in rows:
                copy.write_row(row)
        cur.execute(_PG_INSERT)
        for mid, n, ts in cur.fetchall():
            new[mid] = n
            first[mid] = ts
        cur.execute("TRUNCATE telemetry_in")
    return new, first


def _executemany_points(dbapi, rows: list[tuple]) -> tuple[Counter[str], dict[str, datetime]]:
    new: Counter[str] = Counter()
    first: dict[str, datetime] = {}
    by_mission: dict[str, list[tuple]] = {}
    for row in rows:
        group = by_mission.get(row[_MID_AT])
        if group is None:
            by_mission[row[_MID_AT]] = group = []
        group.append(row)
    cur = dbapi.cursor()
    try:
        for mid, group in by_mission.items():
            before = dbapi.total_changes
            cur.executemany(_SQLITE_INSERT, map(_sqlite_row, group))
            added = dbapi.total_changes - before
            if added:
                new[mid] = added
                # A repeated point was stored before, so it cannot be earlier than what is
                # recorded: the minimum over the whole group is as good as over new rows.
                first[mid] = min(map(itemgetter(_TS_AT), group))
    finally:
        cur.close()
    return new, first


def _sqlite_row(row: tuple) -> tuple:
    # SQLite keeps timestamps as naive UTC text, in the format SQLAlchemy reads back.
    ts = row[_TS_AT]
    if ts.utcoffset():
        ts = ts.astimezone(UTC)
    return (*row[:_TS_AT], ts.isoformat(" ", "microseconds")[:26], *row[_TS_AT + 1 :])


def conflicting_points(
    session: Session, points: Iterable[tuple[int, str, TelemetryIn]]
) -> list[tuple[int, str, TelemetryIn, list[str]]]:
    """Points whose ``(drone, seq)`` is stored with other content, with the keys that differ.

    A repeat of the same point is a duplicate; the same ``(drone, seq)`` with another place,
    time or state is not the same point, and the first one stored stays.
    """
    points = list(points)
    stored = _stored_rows(session, {(d, p.seq) for _, d, p in points})
    conflicts = []
    for src, drone, point in points:
        row = stored.get((drone, point.seq))
        if row is None:
            continue
        sent = zip(POINT_FIELDS, point.__dict__.values(), row[1:], strict=True)
        differ = [k for k, a, b in sent if a != b]
        if differ:
            conflicts.append((src, drone, point, differ))
    return conflicts


def _stored_rows(session: Session, keys: set[tuple[str, int]]) -> dict[tuple[str, int], tuple]:
    """The stored rows (:data:`COLUMNS` order) of ``(drone, seq)`` keys."""
    by_drone: dict[str, list[int]] = defaultdict(list)
    for drone, seq in keys:
        by_drone[drone].append(seq)
    table = TelemetryPoint.__table__
    cols = [table.c[c] for c in COLUMNS]
    found: dict[tuple[str, int], tuple] = {}
    for drone, seqs in sorted(by_drone.items()):
        seqs.sort()
        for i in range(0, len(seqs), 500):
            query = select(*cols).where(
                table.c.drone_code == drone, table.c.seq.in_(seqs[i : i + 500])
            )
            for row in session.execute(query):
                found[(drone, row[2])] = tuple(row)
    return found
