"""Telemetry partitions on PostgreSQL: one per calendar month (UTC) of the points' ``ts``.

``telemetry`` is a table partitioned by range of ``ts`` (native declarative
partitioning, migration 0006); its partitions live in the schema
:data:`SCHEMA`, ``telemetry_partitions.telemetry_y2026m03`` for March 2026, so the
application's own schema lists one ``telemetry`` table. The application makes them,
without an extension:

- the migration makes one for every month that has points, and this month and the next;
- before each batch the ingester makes any month its points need that does not exist
  yet (a drone with an old log, a clock ahead), once per process per month;
- a default partition catches what could not be placed, so no point is ever refused;
  when a month's partition is made later, its rows move out of the default first.

Old months can be detached and archived (``ALTER TABLE telemetry DETACH PARTITION``)
without touching the rest. SQLite keeps one plain table: nothing here runs there.
"""

from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

SCHEMA = "telemetry_partitions"
DEFAULT = f"{SCHEMA}.telemetry_default"
# Serialises partition making between ingesters (any constant both sides agree on).
_LOCK = "SELECT pg_advisory_xact_lock(hashtext('agritrace.telemetry_partitions'))"
_PARTITIONS = text(
    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
    "WHERE i.inhparent = to_regclass('telemetry')"
)
# Months known to exist, per database, so the ingester asks the catalog once per month.
_known: dict[str, set[datetime]] = {}


def month_of(ts: datetime) -> datetime:
    """The first instant (UTC) of the month holding ``ts``.

    >>> from datetime import timedelta, timezone
    >>> month_of(datetime(2026, 3, 1, 3, 0, tzinfo=timezone(timedelta(hours=7))))
    datetime.datetime(2026, 2, 1, 0, 0, tzinfo=datetime.timezone.utc)
    """
    ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
    return datetime(ts.year, ts.month, 1, tzinfo=UTC)


def next_month(month: datetime) -> datetime:
    """The month after ``month`` (a :func:`month_of` value).

    >>> next_month(datetime(2026, 12, 1, tzinfo=UTC)).date()
    datetime.date(2027, 1, 1)
    """
    return month.replace(year=month.year + month.month // 12, month=month.month % 12 + 1)


def partition_name(month: datetime) -> str:
    """The partition of ``month``, without its schema.

    >>> partition_name(datetime(2026, 3, 1, tzinfo=UTC))
    'telemetry_y2026m03'
    """
    return f"telemetry_y{month.year:04d}m{month.month:02d}"


def ahead(now: datetime, months: int = 2) -> set[datetime]:
    """This month and the ones after it, ``months`` in all."""
    out, month = set(), month_of(now)
    for _ in range(months):
        out.add(month)
        month = next_month(month)
    return out


def create_default(conn: Connection) -> None:
    """The schema of the partitions and the default partition (idempotent)."""
    conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
    conn.execute(text(f"CREATE TABLE IF NOT EXISTS {DEFAULT} PARTITION OF telemetry DEFAULT"))


def is_partitioned(conn: Connection) -> bool:
    """Whether ``telemetry`` is a partitioned table here (PostgreSQL after migration 0006)."""
    kind = conn.execute(text("SELECT relkind FROM pg_class WHERE oid = to_regclass('telemetry')"))
    return kind.scalar() == "p"


def existing(conn: Connection) -> set[str]:
    """Names of telemetry's partitions (the default one included)."""
    return set(conn.execute(_PARTITIONS).scalars())


def create_partition(conn: Connection, month: datetime) -> None:
    """Make ``month``'s partition, moving its rows out of the default partition first.

    PostgreSQL refuses a new partition whose range the default partition holds rows
    of, so they are moved into the new table before it is attached.
    """
    name = f"{SCHEMA}.{partition_name(month)}"
    lo, hi = month.isoformat(), next_month(month).isoformat()
    conn.execute(text(f"CREATE TABLE {name} (LIKE telemetry INCLUDING DEFAULTS)"))
    conn.execute(
        text(
            f"WITH moved AS (DELETE FROM {DEFAULT} WHERE ts >= '{lo}' AND ts < '{hi}' "
            f"RETURNING *) INSERT INTO {name} SELECT * FROM moved"
        )
    )
    conn.execute(
        text(f"ALTER TABLE telemetry ATTACH PARTITION {name} FOR VALUES FROM ('{lo}') TO ('{hi}')")
    )


def ensure_months(conn: Connection, months: Iterable[datetime]) -> list[str]:
    """Make the partitions of ``months`` that do not exist, in ``conn``'s transaction."""
    conn.execute(text(_LOCK))
    have = existing(conn)
    made = []
    for month in sorted(set(months)):
        if partition_name(month) not in have:
            create_partition(conn, month)
            made.append(partition_name(month))
    return made


def ensure_for_points(engine: Engine, stamps: Iterable[datetime], now: datetime) -> list[str]:
    """Before a batch: make the partitions its points (and the coming months) need.

    Runs in a short transaction of its own, so no batch waits on a lock it holds.
    """
    known = _known.setdefault(engine.url.render_as_string(hide_password=False), set())
    stamps = list(stamps)
    months: set[datetime] = set()
    if stamps:
        first, last = month_of(min(stamps)), month_of(max(stamps))
        # The hot path: a batch's points almost always fall in one month.
        months = {first} if first == last else {month_of(ts) for ts in stamps}
    wanted = months | ahead(now)
    missing = wanted - known
    if not missing:
        return []
    with engine.begin() as conn:
        made = ensure_months(conn, missing) if is_partitioned(conn) else []
    known |= missing
    return made
