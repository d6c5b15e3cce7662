"""Lots' traces rendered ahead of the scan, and the fingerprint that says they still hold.

A rendered trace (the JSON, or the page in one language) is stored in
``trace_snapshots`` with a *stamp*: the version of the code that built it, the public
base URL, and a fingerprint of every row the trace rests on — the lots of its
lineage, their parent links and field links, their fields, the farmers and seasons
of those fields, the fields' diaries, drone missions and per-field results, and the
products those name. A scan recomputes the fingerprint from today's rows and serves
the stored body only if the stamp is the same, so a change made anywhere (through the
API or by hand in SQL) is never answered with an older trace.

- PostgreSQL: every row version has its own ``xmin``; the fingerprint is, per table,
  the count and the sum of the ``xmin`` of those rows. Any INSERT, UPDATE or DELETE
  changes it, and the scan reads it with the snapshot in one round trip.
- SQLite has no row versions: the fingerprint is a digest of the rows themselves.

:data:`FINGERPRINTED` names the tables; ``build_trace`` must read no other (a test
holds it to that): a trace that starts reading another table adds it here.
"""

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlmodel import Session

from traceability.config import get_settings
from traceability.models import utcnow
from traceability.services.trace.structure import Structure

# (table, the condition naming the rows a trace rests on). ``{L}`` is the set of the
# lineage's lot ids, ``{F}`` the set of their field ids, ``{M}`` the missions over them:
# subqueries on SQLite, arrays on PostgreSQL.
_PARTS: tuple[tuple[str, str], ...] = (
    # Every lot of the fields, not only the lineage's: earlier harvests bound the windows.
    # (One set, not ``id IN {L} OR id IN (...)``: PostgreSQL reads that OR by scanning every
    # lot, which cost a scan more than the rest of its fingerprint.)
    (
        "lots",
        "id IN (SELECT id FROM lots WHERE id IN {L} "
        "UNION SELECT lot_id FROM lot_fields WHERE field_id IN {F})",
    ),
    ("lot_parents", "lot_id IN {L}"),
    ("lot_fields", "lot_id IN {L} OR field_id IN {F}"),
    ("fields", "id IN {F}"),
    ("farmers", "id IN (SELECT farmer_id FROM fields WHERE id IN {F})"),
    ("seasons", "field_id IN {F}"),
    ("diary_entries", "field_id IN {F}"),
    ("mission_fields", "field_id IN {F}"),
    ("missions", "id IN {M}"),
    (
        "inputs",
        "id IN (SELECT input_id FROM diary_entries WHERE field_id IN {F}) "
        "OR id IN (SELECT product_id FROM missions WHERE id IN {M}) "
        "OR code IN (SELECT product_code FROM missions WHERE id IN {M})",
    ),
    # The national facts: the lot's photo, the producer's cooperative.
    ("lot_images", "lot_id IN {L}"),
    (
        "organisations",
        "id IN (SELECT organisation_id FROM farmers WHERE id IN "
        "(SELECT farmer_id FROM fields WHERE id IN {F}))",
    ),
    # The verdict's trust: reviewers' acceptances, the roles of those who amended, and
    # missions claiming the fields.
    (
        "amendment_acceptances",
        "entry_id IN (SELECT id FROM diary_entries WHERE field_id IN {F})",
    ),
    ("users", "id IN (SELECT author_id FROM diary_entries WHERE field_id IN {F})"),
    ("mission_claims", "field_id IN {F}"),
)
FINGERPRINTED = frozenset(t for t, _ in _PARTS)
# Read by a trace, deliberately not fingerprinted: a field's anchor names the newest
# checkpoint when the trace was built, and an older checkpoint's anchor stays a valid
# proof. So a checkpoint every few seconds does not make every stored trace stale; the
# newest proof of a lot is served apart (GET /api/v1/lots/{code}/proof).
NOT_FINGERPRINTED = frozenset({"tlog_checkpoints", "tlog_leaves", "tlog_nodes"})
_MISSIONS = "(SELECT mission_pk FROM mission_fields WHERE field_id IN {F})"


def _where(cond: str, lots: str, fields: str) -> str:
    out = cond.replace("{M}", _MISSIONS).replace("{L}", lots).replace("{F}", fields)
    # PostgreSQL compares with an array (``= ANY(...)``): one index scan, no subplan.
    return out.replace("IN ANY(", "= ANY(")


def _pg_fingerprint(lots: str, fields: str) -> str:
    """One SQL expression: per table, the count and the sum of the rows' ``xmin``."""
    parts = [
        f"(SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM {table} "
        f"WHERE {_where(cond, lots, fields)})"
        for table, cond in _PARTS
    ]
    return " || '|' || ".join(parts)


# PostgreSQL: the ids as arrays (bound, or read from the snapshot row itself).
_BOUND_IDS = ("ANY(CAST(:lids AS int[]))", "ANY(CAST(:fids AS int[]))")
_PG_BOUND = text("SELECT " + _pg_fingerprint(*_BOUND_IDS))
_ROW_IDS = ("ANY(string_to_array(s.lot_ids, ',')::int[])",
            "ANY(string_to_array(s.field_ids, ',')::int[])")  # fmt: skip
# A scan in one round trip: the lot, its stored rendering's stamp, today's fingerprint
# of the rows that rendering rests on, and the body unless the caller holds that stamp.
# (OFFSET 0 keeps the fingerprint a subquery computed once, not an expression inlined
# wherever it is named.)
# Written for the driver (psycopg's named placeholders): it runs on the DBAPI connection.
_PG_SCAN = f"""
SELECT l.id, s.stamp, fp.fp,
       CASE WHEN s.stamp = %(prefix)s || fp.fp AND s.stamp IS DISTINCT FROM %(known)s
            THEN s.body END AS body
  FROM lots l
  LEFT JOIN trace_snapshots s ON s.lot_id = l.id AND s.variant = %(variant)s
  LEFT JOIN LATERAL (SELECT {_pg_fingerprint(*_ROW_IDS)} AS fp OFFSET 0) fp
         ON s.lot_id IS NOT NULL
 WHERE l.code = %(code)s
"""
# The scan on a streaming replica: the same, and whether the replica has replayed the
# primary's WAL up to ``lsn`` (read from the primary just before; NULL: no primary to ask).
# A row even for an unknown lot, so that "not caught up" is never taken for "no such lot".
_PG_REPLICA_SCAN = f"""
SELECT (NOT pg_is_in_recovery() OR %(lsn)s::pg_lsn IS NULL
        OR pg_last_wal_replay_lsn() >= %(lsn)s::pg_lsn) AS caught_up, q.*
  FROM (SELECT 1) one LEFT JOIN ({_PG_SCAN}) q ON true
"""
# The lots among ``codes`` whose every variant in ``variants`` is stored and still holds:
# many lots in one round trip, for a rebuild that looks at them in batches.
_PG_FRESH = text(
    f"""
SELECT l.code FROM lots l
 WHERE l.code = ANY(CAST(:codes AS text[]))
   AND (SELECT count(*) FROM trace_snapshots s
         WHERE s.lot_id = l.id AND s.variant = ANY(CAST(:variants AS text[]))
           AND s.stamp = :prefix || ({_pg_fingerprint(*_ROW_IDS)})) = :n
"""
)
_SQLITE_IDS = "(SELECT value FROM json_each(:{}))"
# Run on the driver's connection: fifteen small statements, where SQLAlchemy's own
# bookkeeping per statement would cost more than SQLite's work.
_SQLITE_PARTS = tuple(
    (table, f"SELECT * FROM {table} WHERE "
            f"{_where(cond, _SQLITE_IDS.format('lids'), _SQLITE_IDS.format('fids'))} "
            "ORDER BY rowid")
    for table, cond in _PARTS
)  # fmt: skip
_SQLITE_SCAN = text(
    "SELECT l.id, s.stamp, s.lot_ids, s.field_ids, s.body FROM lots l "
    "LEFT JOIN trace_snapshots s ON s.lot_id = l.id AND s.variant = :variant "
    "WHERE l.code = :code"
)
_STORE = text(
    "INSERT INTO trace_snapshots (lot_id, variant, stamp, lot_ids, field_ids, body, built_at) "
    "VALUES (:lot_id, :variant, :stamp, :lot_ids, :field_ids, :body, :built_at) "
    "ON CONFLICT (lot_id, variant) DO UPDATE SET stamp = excluded.stamp, "
    "lot_ids = excluded.lot_ids, field_ids = excluded.field_ids, body = excluded.body, "
    "built_at = excluded.built_at"
)


_NO_WAIT = text("SET LOCAL synchronous_commit TO OFF")


def _code_version() -> str:
    """A digest of the package's code, templates and texts: a new release rebuilds every trace.

    Files built from others at run time are left out: compiled word catalogues (``.mo``, made
    from the ``.po`` hashed here on first use, by whichever process comes first) would
    otherwise give two processes of one release two versions.
    """
    root = Path(__file__).resolve().parents[2]
    h = hashlib.blake2b(digest_size=8)
    for path in sorted(root.rglob("*")):
        if (
            path.is_file()
            and "__pycache__" not in path.parts
            and path.suffix not in (".pyc", ".mo", ".tmp")
        ):
            h.update(str(path.relative_to(root)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


CODE_VERSION = _code_version()


def prefix(base_url: str | None) -> str:
    """What a stamp holds besides the fingerprint: the code's version, the base URL and
    the configured witness keys (a trace says whose cosignatures verify against them)."""
    keys = get_settings().witness_keys.split()
    witnesses = f"w{hashlib.sha256(' '.join(sorted(keys)).encode()).hexdigest()[:12]} "
    return f"{CODE_VERSION} {base_url or ''} " + (witnesses if keys else "")


def _ids(values: Iterable[int]) -> str:
    return ",".join(str(i) for i in sorted(values))


@dataclass(frozen=True, slots=True)
class Found:
    """What a scan found: the lot, its stored stamp (if any), and today's fingerprint.

    ``body`` is the stored rendering when it still holds (on PostgreSQL, only when the
    caller did not already hold that stamp); ``fresh`` says the stored stamp holds.
    """

    lot_id: int
    stamp: str | None
    current: str | None
    body: bytes | None

    @property
    def fresh(self) -> bool:
        return self.stamp is not None and self.stamp == self.current


def _sqlite_fingerprint(conn: Any, lot_ids: str, field_ids: str) -> str:
    """A digest of the rows themselves; ``conn`` is SQLAlchemy's connection (SQLite)."""
    params = {"lids": f"[{lot_ids}]", "fids": f"[{field_ids}]"}
    cursor = conn.connection.driver_connection.cursor()
    h = hashlib.blake2b(digest_size=16)
    try:
        for table, stmt in _SQLITE_PARTS:
            h.update(table.encode())
            for row in cursor.execute(stmt, params):
                h.update(repr(row).encode())
    finally:
        cursor.close()
    return h.hexdigest()


def scan(
    session: Session, *, code: str, variant: str, base_url: str | None, known: str | None = None
) -> Found | None:
    """The lot ``code`` with its stored ``variant`` and whether it still holds; None: no lot."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        return scan_dbapi(
            conn.connection.driver_connection,
            code=code, variant=variant, base_url=base_url, known=known,
        )  # fmt: skip
    pre = prefix(base_url)
    row = conn.execute(_SQLITE_SCAN, {"code": code, "variant": variant}).first()
    if row is None:
        return None
    if row.stamp is None:
        return Found(row.id, None, None, None)
    current = pre + _sqlite_fingerprint(conn, row.lot_ids, row.field_ids)
    return Found(row.id, row.stamp, current, row.body if row.stamp == current else None)


def scan_dbapi(
    conn: Any, *, code: str, variant: str, base_url: str | None, known: str | None = None
) -> Found | None:
    """:func:`scan` on a psycopg connection, as one prepared statement (PostgreSQL)."""
    pre = prefix(base_url)
    params = {"code": code, "variant": variant, "prefix": pre, "known": known}
    row = conn.execute(_PG_SCAN, params, prepare=True).fetchone()
    if row is None:
        return None
    lot_id, stored, fp, body = row
    return Found(lot_id, stored, None if fp is None else pre + fp, body)


def scan_replica_dbapi(
    conn: Any,
    *,
    lsn: str | None,
    code: str,
    variant: str,
    base_url: str | None,
    known: str | None = None,
) -> tuple[bool, Found | None]:
    """:func:`scan_dbapi` on a streaming replica: (caught up with ``lsn``, what it found).

    What it found counts only when the replica has replayed the primary's WAL up to
    ``lsn``: then it has every change the primary had committed when ``lsn`` was read.
    """
    pre = prefix(base_url)
    params = {"code": code, "variant": variant, "prefix": pre, "known": known, "lsn": lsn}
    caught_up, lot_id, stored, fp, body = conn.execute(
        _PG_REPLICA_SCAN, params, prepare=True
    ).fetchone()
    if not caught_up:
        return False, None
    if lot_id is None:
        return True, None
    return True, Found(lot_id, stored, None if fp is None else pre + fp, body)


def stale(
    session: Session, *, codes: list[str], variants: list[str], base_url: str | None
) -> list[str]:
    """Those of ``codes`` (in their order) with a variant missing or no longer holding.

    A code no lot has is among them (building it then says so).
    """
    if session.connection().dialect.name == "postgresql":
        params = {"codes": codes, "variants": variants, "prefix": prefix(base_url),
                  "n": len(variants)}  # fmt: skip
        fresh = set(session.execute(_PG_FRESH, params).scalars())
        return [c for c in codes if c not in fresh]
    return [
        code
        for code in codes
        if not all(
            (found := scan(session, code=code, variant=v, base_url=base_url)) is not None
            and found.fresh
            for v in variants
        )
    ]


def stamp(session: Session, st: Structure, base_url: str | None) -> str:
    """Today's stamp of the rows the trace of ``st`` rests on."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        fp = conn.execute(_PG_BOUND, {"lids": list(st.lots), "fids": list(st.fields)}).scalar()
    else:
        fp = _sqlite_fingerprint(conn, _ids(st.lots), _ids(st.fields))
    return prefix(base_url) + fp


def same_rows(a: Structure, b: Structure) -> bool:
    """Whether two loads of a lot's structure name the same lots and fields."""
    return set(a.lots) == set(b.lots) and set(a.fields) == set(b.fields)


@dataclass(frozen=True, slots=True)
class Built:
    """A lot's renderings ``bodies`` (by variant), built from the rows stamped ``stamp``."""

    st: Structure
    bodies: dict[str, bytes]
    stamp: str


def store(session: Session, st: Structure, bodies: dict[str, bytes], stamp_: str) -> None:
    """Keep the renderings ``bodies`` (by variant) of the lot of ``st``, built at ``stamp_``."""
    store_all(session, [Built(st, bodies, stamp_)])


def store_all(session: Session, built: list[Built]) -> None:
    """Keep the renderings of every lot of ``built``, in one statement."""
    built_at = utcnow()
    rows = [
        {
            "lot_id": b.st.lot.id,
            "variant": variant,
            "stamp": b.stamp,
            "lot_ids": _ids(b.st.lots),
            "field_ids": _ids(b.st.fields),
            "body": body,
            "built_at": built_at,
        }
        for b in built
        for variant, body in b.bodies.items()
    ]
    if not rows:
        return
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # A stored trace can always be built again: its commit need not wait for the disk.
        conn.execute(_NO_WAIT)
    conn.execute(_STORE, rows)
