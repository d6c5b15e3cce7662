"""Points: telemetry rows into the ``telemetry`` table through the driver, each point once.

This is the hot path of the ingester, so it talks to the database driver directly, in
the session's transaction. A point is new when its ``(drone_code, seq)`` was new in
``telemetry_keys`` (one key per point across all time: ``telemetry`` itself is
partitioned by month on PostgreSQL, where a unique key would have to include ``ts``).

- PostgreSQL: the months' partitions are made first if missing
  (:mod:`traceability.ingest.partitions`). If none of the batch's keys was stored before
  (the usual batch), a binary COPY puts the keys into ``telemetry_keys`` and another the
  points into ``telemetry``. Otherwise the rows are copied into a temporary table and
  one statement stores them: ``INSERT INTO telemetry_keys ... ON CONFLICT DO NOTHING
  RETURNING`` the new keys, and the points of exactly those keys into ``telemetry``.
- SQLite: under the database's write lock, the batch's keys already stored are looked
  up, and the rest go into both tables in multi-row statements.

A repeated point is a no-op either way, and the counts returned are of the rows that
were new.
"""

import json
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from functools import cache
from itertools import chain, groupby
from operator import itemgetter

from psycopg.errors import UniqueViolation
from sqlalchemy import select
from sqlmodel import Session

from traceability.ingest.contract import POINT_FIELDS, Point
from traceability.ingest.partitions import ensure_for_points
from traceability.models import TelemetryPoint, utcnow

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
    "WITH k AS (INSERT INTO telemetry_keys (drone_code, seq) "
    "SELECT drone_code, seq FROM telemetry_in ORDER BY drone_code, seq "
    "ON CONFLICT DO NOTHING RETURNING drone_code, seq), "
    f"ins AS (INSERT INTO telemetry ({_NAMES}) "
    f"SELECT {', '.join('t.' + c for c in COLUMNS)} FROM telemetry_in t "
    "JOIN k ON k.drone_code = t.drone_code AND k.seq = t.seq RETURNING mission_id, ts) "
    "SELECT mission_id, count(*), min(ts) FROM ins GROUP BY mission_id"
)
# A batch with no key stored before: all its keys, then all its points, copied in.
_PG_COPY_KEYS = "COPY telemetry_keys (drone_code, seq) FROM STDIN (FORMAT BINARY)"
_PG_KEY_TYPES = ["text", "int8"]
_PG_COPY_POINTS = f"COPY telemetry ({_NAMES}) FROM STDIN (FORMAT BINARY)"
_SQLITE_CHUNK = 500  # keys looked up per query (SQLite caps a statement's parameters)
_TS_AT = COLUMNS.index("ts")
_MID_AT = COLUMNS.index("mission_id")
_SEQ_AT = COLUMNS.index("seq")


# SQLite keeps timestamps as naive UTC text in the format SQLAlchemy reads back
# (``2026-03-01 01:00:00.000000``). The row carries the time as whole microseconds since
# the epoch and SQLite writes the text: Python's ``isoformat`` of an aware time costs
# more than the rest of the row. Fixes are from 2015 on, so the number is positive.
def sqlite_time(us: str) -> str:
    """SQLite's expression for the stored text of the time ``us`` (SQL: whole
    microseconds since the epoch)."""
    return (
        f"strftime('%Y-%m-%d %H:%M:%S', {us} / 1000000, 'unixepoch') "
        f"|| printf('.%06d', {us} % 1000000)"
    )


#: Rows one statement inserts at most on SQLite, as one multi-row ``VALUES``: the driver
#: binds them in one call and SQLite steps once for them all. ``executemany`` steps once
#: a row and gives the interpreter up around each step; while another thread ran, each
#: row waited up to the switch interval to get it back (``bench/sqlite_insert_gil.py``:
#: 544 µs a point, against 8.0 µs with no other thread; 16 µs and 3.9 µs in rows of 256).
SQLITE_ROWS = 256
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def insert_points(session: Session, rows: list[tuple]) -> tuple[Counter[str], dict[str, datetime]]:
    """Insert point rows (:data:`COLUMNS` order), skipping known ``(drone, seq)``.

    Returns, per mission, how many rows were new and the earliest of the new fixes.
    """
    engine = session.get_bind()
    if engine.dialect.name == "postgresql":
        ensure_for_points(engine, map(itemgetter(_TS_AT), rows), utcnow())
        return _copy_points(session.connection().connection.driver_connection, rows)
    return _sqlite_points(session.connection().connection.driver_connection, rows)


def _copy_points(dbapi, rows: list[tuple]) -> tuple[Counter[str], dict[str, datetime]]:
    with dbapi.cursor() as cur:
        # Most batches repeat nothing: their keys, then their points, are copied straight
        # into the two tables (binary COPY, no staging). A batch with a key stored before
        # fails on the key's primary key (after waiting for another ingester's transaction
        # that holds it), goes back to the savepoint, and takes the statement that stores
        # only the points of new keys.
        cur.execute("SAVEPOINT telemetry_keys")
        try:
            with cur.copy(_PG_COPY_KEYS) as copy:
                copy.set_types(_PG_KEY_TYPES)
                for row in rows:
                    copy.write_row((row[0], row[_SEQ_AT]))
        except UniqueViolation:
            cur.execute("ROLLBACK TO SAVEPOINT telemetry_keys")
            return _insert_new_points(cur, rows)
        cur.execute("RELEASE SAVEPOINT telemetry_keys")
        with cur.copy(_PG_COPY_POINTS) as copy:
            copy.set_types(_PG_TYPES)
            for row in rows:
                copy.write_row(row)
    return _per_mission(rows)


def _insert_new_points(cur, rows: list[tuple]) -> tuple[Counter[str], dict[str, datetime]]:
    """The points of ``rows`` whose keys are new, staged in a temporary table: one
    statement stores the new keys and their points, and counts them per mission."""
    cur.execute(_PG_TEMP)
    with cur.copy(f"COPY telemetry_in ({_NAMES}) FROM STDIN (FORMAT BINARY)") as copy:
        copy.set_types(_PG_TYPES)
        for row in rows:
            copy.write_row(row)
    cur.execute(_PG_INSERT)
    new: Counter[str] = Counter()
    first: dict[str, datetime] = {}
    for mid, n, ts in cur.fetchall():
        new[mid] = n
        first[mid] = ts
    cur.execute("TRUNCATE telemetry_in")
    return new, first


def _per_mission(rows: list[tuple]) -> tuple[Counter[str], dict[str, datetime]]:
    """How many of ``rows`` each mission has, and the earliest fix of each."""
    new: Counter[str] = Counter()
    first: dict[str, datetime] = {}
    # A drone flies one mission at a time, so the sorted rows come in long runs of one.
    for mid, run in groupby(rows, key=itemgetter(_MID_AT)):
        times = list(map(itemgetter(_TS_AT), run))
        new[mid] += len(times)
        earliest = min(times)
        if mid not in first or earliest < first[mid]:
            first[mid] = earliest
    return new, first


def _sqlite_points(dbapi, rows: list[tuple]) -> tuple[Counter[str], dict[str, datetime]]:
    if not dbapi.in_transaction:
        # The batch has written nothing yet, so it holds no write lock, and the driver
        # would begin its transaction only at the insert below. Take SQLite's write lock
        # now: another ingester must not store one of these keys between the look-up
        # and the insert (the keys' primary key would refuse the whole batch).
        dbapi.execute("BEGIN IMMEDIATE")
    cur = dbapi.cursor()
    try:
        stored = _stored_keys(cur, rows)
        if stored:
            rows = [r for r in rows if (r[0], r[_SEQ_AT]) not in stored]
        sqlite_insert(cur, rows)
    finally:
        cur.close()
    return _per_mission(rows)


_KEY_OF = itemgetter(0, _SEQ_AT)


def epoch_us(t: datetime) -> int:
    """An aware time as whole microseconds since the epoch (what :func:`sqlite_time` reads)."""
    return (t - _EPOCH) // _MICROSECOND


def sqlite_insert(cur, rows: list[tuple]) -> None:
    """Insert the keys and the points of ``rows`` (all new) on SQLite, :data:`SQLITE_ROWS`
    at a time, the rest in fewer rows a statement (powers of two: few statements to
    prepare, and the driver keeps them prepared). Each statement is one step, and each
    step gives the interpreter up."""
    # The fix time bound as whole microseconds since the epoch (see :func:`sqlite_time`),
    # computed here rather than by a call to :func:`epoch_us` for each row.
    at, epoch, us = _TS_AT, _EPOCH, _MICROSECOND
    params = [(*r[:at], (r[at] - epoch) // us, *r[at + 1 :]) for r in rows]
    flat = chain.from_iterable
    i = 0
    while i < len(params):
        left = len(params) - i
        k = SQLITE_ROWS if left >= SQLITE_ROWS else 1 << (left.bit_length() - 1)
        part = params[i : i + k]
        keys_sql, points_sql = _sqlite_statements(k)
        cur.execute(keys_sql, list(flat(map(_KEY_OF, part))))
        cur.execute(points_sql, list(flat(part)))
        i += k


@cache
def _sqlite_statements(k: int) -> tuple[str, str]:
    """SQLite's statements inserting ``k`` keys and ``k`` points, parameters in row order."""
    n = len(COLUMNS)
    keys = "INSERT INTO telemetry_keys (drone_code, seq) VALUES " + ", ".join(["(?, ?)"] * k)
    rows = (
        "("
        + ", ".join(
            sqlite_time(f"?{r * n + c + 1}") if c == _TS_AT else f"?{r * n + c + 1}"
            for c in range(n)
        )
        + ")"
        for r in range(k)
    )
    return keys, f"INSERT INTO telemetry ({_NAMES}) VALUES " + ", ".join(rows)


#: The stored keys among ranges of ``[drone, low, high]`` (a JSON array): one statement,
#: one step, for every drone of a batch (SQLite's driver gives the interpreter up at each
#: step; while another thread runs Python, getting it back may take a switch interval).
_SQLITE_STORED_IN_RANGES = (
    "SELECT k.drone_code, k.seq FROM json_each(?) AS w JOIN telemetry_keys AS k "
    "ON k.drone_code = json_extract(w.value, '$[0]') "
    "AND k.seq BETWEEN json_extract(w.value, '$[1]') AND json_extract(w.value, '$[2]')"
)


def _stored_keys(cur, rows: list[tuple]) -> set[tuple[str, int]]:
    """The ``(drone_code, seq)`` of ``rows`` that are stored already."""
    ranges: list[tuple[str, int, int]] = []
    sparse: list[tuple[str, list[int]]] = []
    # Rows come sorted by key, so each drone's are together (were they not, a drone would
    # only be looked up in more than one go).
    for drone, group in groupby(rows, key=itemgetter(0)):
        seqs = list(map(itemgetter(_SEQ_AT), group))
        low, high = min(seqs), max(seqs)
        # A drone's points in a batch are mostly consecutive: a range scan of the key
        # finds those stored (usually none) without a parameter per point.
        if high - low < 4 * len(seqs):
            ranges.append((drone, low, high))
        else:
            sparse.append((drone, seqs))
    stored: set[tuple[str, int]] = set()
    if ranges:
        cur.execute(_SQLITE_STORED_IN_RANGES, (json.dumps(ranges),))
        found = cur.fetchall()  # usually none
        if found:
            wanted = set(map(_KEY_OF, rows))  # a range may hold seqs the batch lacks
            stored.update(key for key in map(tuple, found) if key in wanted)
    for drone, seqs in sparse:
        for i in range(0, len(seqs), _SQLITE_CHUNK):
            chunk = seqs[i : i + _SQLITE_CHUNK]
            cur.execute(
                "SELECT seq FROM telemetry_keys WHERE drone_code = ? AND seq IN "
                f"({', '.join('?' * len(chunk))})",
                (drone, *chunk),
            )
            stored.update((drone, seq) for (seq,) in cur.fetchall())
    return stored


#: A fix recorded by two recorders of one flight (a ground station's ``.tlog`` and the
#: autopilot's dataflash ``.bin``): the fused and the raw GNSS position of one instant lie
#: a few metres apart at most; farther apart they are not the same fix.
SAME_FIX_M = 30.0


@cache
def _geod():
    from pyproj import Geod

    return Geod(ellps="WGS84")


def _apart_m(a: Point, row: tuple) -> float:
    """Metres between a point and a stored row's position, on the WGS84 ellipsoid."""
    lat_at = 1 + POINT_FIELDS.index("lat")
    lon_at = 1 + POINT_FIELDS.index("lon")
    return abs(_geod().inv(a.lon, a.lat, row[lon_at], row[lat_at])[2])


def conflicting_points(
    session: Session, points: Iterable[tuple[int, str, Point]], *, recorders: bool = False
) -> list[tuple[int, str, Point, list[str]]]:
    """Points whose ``(drone, seq)`` is stored with other content, with the keys that differ.

    Called with the points the insert found already stored. A repeat of the same point is
    a duplicate; the same ``(drone, seq)`` with another place, time or state is not the
    same point, and the first one stored stays. The stored rows are looked up within the
    point's own mission (``telemetry`` is indexed by mission and time, and has no key on
    ``(drone, seq)`` since it is partitioned): a key stored but not in that mission was
    stored under another one.

    ``recorders``: the points were translated from another recorder's record, keyed by
    their fix time in ms (:mod:`traceability.ingest.sources`). Then a point stored under
    the same key in the same mission, within :data:`SAME_FIX_M`, is the same fix as the
    other recorder wrote it (its height, speed or precision may differ): a duplicate.
    """
    points = list(points)
    stored = _stored_rows(session, {(d, p.mission_id, p.seq) for _, d, p in points})
    conflicts = []
    for src, drone, point in points:
        row = stored.get((drone, point.mission_id, point.seq))
        if row is None:
            conflicts.append((src, drone, point, ["mission_id"]))
            continue
        sent = zip(POINT_FIELDS, point.values(), row[1:], strict=True)
        differ = [k for k, a, b in sent if a != b]
        if differ and recorders and _apart_m(point, row) <= SAME_FIX_M:
            continue
        if differ:
            conflicts.append((src, drone, point, differ))
    return conflicts


def _stored_rows(
    session: Session, keys: set[tuple[str, str, int]]
) -> dict[tuple[str, str, int], tuple]:
    """The stored rows (:data:`COLUMNS` order) of ``(drone, mission, seq)`` keys."""
    by_mission: dict[tuple[str, str], list[int]] = defaultdict(list)
    for drone, mission, seq in keys:
        by_mission[(drone, mission)].append(seq)
    table = TelemetryPoint.__table__
    cols = [table.c[c] for c in COLUMNS]
    found: dict[tuple[str, str, int], tuple] = {}
    for (drone, mission), seqs in sorted(by_mission.items()):
        seqs.sort()
        for i in range(0, len(seqs), 500):
            query = select(*cols).where(
                table.c.mission_id == mission,
                table.c.drone_code == drone,
                table.c.seq.in_(seqs[i : i + 500]),
            )
            for row in session.execute(query):
                found[(drone, row[1], row[2])] = tuple(row)
    return found
