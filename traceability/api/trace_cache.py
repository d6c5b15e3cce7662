"""Rendered traces stored ahead of the scan, served while nothing they rest on has changed.

A lot's trace is rendered (the JSON, and the page in each language) when the lot is
recorded, by ``agritrace trace-snapshots``, or by the first scan that finds none, and
kept in ``trace_snapshots`` with the stamp of the rows it was built from
(``services.trace.snapshot``). A scan is then one query: the lot, its stored rendering,
and today's fingerprint of those rows; the body is served only if the stamp still holds.
On PostgreSQL that query is one round trip on a connection of its own pool
(``db.read_engine``: autocommit, a prepared statement, no ping). Any change — through
the API or behind its back in SQL — makes the next scan rebuild and store it again, so
no scan is answered with an older trace. Each worker also keeps the bodies it served, so
a repeat scan on PostgreSQL does not even fetch the body again (the query then returns
the stamp alone).

The snapshot is made by the one builder, ``services.trace.build_trace``, and the one
renderer per variant the routes use: a stored trace is byte for byte a fresh one.
"""

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import psycopg
from fastapi import Request
from fastapi.responses import Response
from sqlalchemy import bindparam, exc, func, select, text
from sqlalchemy.engine import Engine
from sqlmodel import Session

from traceability.db import read_engine
from traceability.errors import NotFound
from traceability.models import AmendmentAcceptance, DiaryEntry, Lot, Mission, UTCDateTime
from traceability.services import trace
from traceability.services.trace import anchors, snapshot

log = logging.getLogger(__name__)

# Rendered bodies are 5-60 kB: 10,000 of them stay well under 600 MB per worker.
RESPONSE_CACHE_SIZE = 10_000
# Short public caching: a scan in a shop re-opened a minute later need not hit the database.
CACHE_HEADERS = {"Cache-Control": "public, max-age=60"}


@dataclass(frozen=True, slots=True)
class Rendering:
    """One way a trace is served: ``render`` turns the trace's data into the body."""

    render: Callable[[dict], bytes]
    with_map: bool = False


# (url, code, variant) -> (stamp, body): what this worker served last for each rendering.
_bodies = trace.TTLCache(RESPONSE_CACHE_SIZE, trace.STRUCTURE_TTL_S)


def clear() -> None:
    """Forget every body this worker holds (the stored snapshots stay)."""
    _bodies.clear()


# Clearing the lot structures (``trace.clear_cache()``) clears the bodies built from them.
trace.on_clear(clear)


def build(
    session: Session,
    *,
    code: str,
    base_url: str | None,
    renderings: dict[str, Rendering],
    one_snapshot: bool = False,
) -> dict[str, bytes]:
    """Build the trace of ``code`` once, render each of ``renderings``, and store them.

    The stamp is read before the rows the trace is built from, and the structure is read
    afresh after it: a change committed in between makes the stored stamp older than
    the rows, so the next scan rebuilds, never the other way round. ``one_snapshot``
    says the transaction sees one snapshot of the database (PostgreSQL's REPEATABLE
    READ), where reading the structure once is enough.
    """
    _generic_plans(session)
    made = _build(
        session, code=code, base_url=base_url, renderings=renderings, one_snapshot=one_snapshot
    )
    if made.stamp is not None:
        _store(session, [made])
    return made.bodies


def _generic_plans(session: Session) -> None:
    """On PostgreSQL, this transaction's prepared statements run on their generic plans.

    A build's statements bind arrays and lists of ids, whose estimates make PostgreSQL keep
    planning each execution afresh (``plan_cache_mode = auto``): the stamp's fingerprint,
    fifteen subqueries, then costs 1.2 ms of planning for 0.2 ms of work. The plans differ
    in cost only, never in the rows they give.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(_GENERIC_PLANS)


_GENERIC_PLANS = text("SET LOCAL plan_cache_mode = force_generic_plan")


def _build(
    session: Session,
    *,
    code: str,
    base_url: str | None,
    renderings: dict[str, Rendering],
    one_snapshot: bool,
    checkpoint: object = anchors.READ,
) -> snapshot.Built:
    """:func:`build` without storing; the stamp is None when the rows moved meanwhile."""
    first = trace.lot_structure(session, code=code, cached=False)
    stamp = snapshot.stamp(session, first, base_url)
    st = first if one_snapshot else trace.lot_structure(session, code=code, cached=False)
    with_map = any(r.with_map for r in renderings.values())
    # Through the package, so the one build_trace is the one called (and the one patched).
    data = trace.build_trace(
        session, code=code, base_url=base_url, with_map=with_map, st=st, checkpoint=checkpoint
    )
    bodies = {}
    for variant, r in renderings.items():
        own = dict(data)
        if not r.with_map:
            for key in trace.MAP_KEYS:
                own.pop(key, None)
        bodies[variant] = r.render(own)
    return snapshot.Built(st, bodies, stamp if snapshot.same_rows(first, st) else None)


def build_apart(
    engine: Engine, *, code: str, base_url: str | None, renderings: dict[str, Rendering]
) -> None:
    """:func:`build` in a session of its own, e.g. once a new lot's answer has been sent.

    A failure is logged, never raised: a trace not stored ahead is built by its first scan.
    """
    try:
        with Session(engine) as session:
            build(session, code=code, base_url=base_url, renderings=renderings)
    except Exception:  # noqa: BLE001 - see above
        log.exception("trace of lot %s not stored ahead", code)


def _store(session: Session, built: list[snapshot.Built]) -> None:
    """Store ``built`` in one statement; if that fails, lot by lot, each failure logged."""
    try:
        snapshot.store_all(session, built)
        session.commit()
        return
    except exc.DBAPIError as error:
        # A lot deleted meanwhile, or a busy SQLite file: the scan is answered all the same.
        session.rollback()
        if len(built) == 1:
            log.warning("trace of lot %s not stored: %s", built[0].st.lot.code, error)
            return
    for one in built:
        # Each with the stamp read with its rows: older than today's at worst, so the
        # next scan that finds it stale builds it again.
        _store(session, [one])


def render_trace(
    engine: Engine,
    *,
    code: str,
    base_url: str | None,
    variant: str,
    rendering: Rendering,
    replica: Engine | None = None,
) -> bytes:
    """The ``variant`` rendering of the trace of ``code``: stored, or built and stored.

    With a streaming ``replica`` of ``engine`` the scan is read from the replica when it
    has caught up with the primary (``_scan_replica``). Raises ``NotFound`` if there is no
    such lot.
    """
    key = (engine.url, code, variant)
    held = _bodies.get(key)
    scan = {"code": code, "variant": variant, "base_url": base_url, "known": held and held[0]}
    if replica is not None and engine.dialect.name == replica.dialect.name == "postgresql":
        found, builder = _scan_replica(engine, replica, **scan)
    else:
        found, builder = _scan(engine, **scan), engine
    if found is None:
        raise NotFound(f"lot '{code}' does not exist")
    if found.fresh:
        if found.body is not None:
            _bodies.put(key, (found.stamp, found.body))
            return found.body
        if held is not None and held[0] == found.stamp:
            return held[1]
    with Session(builder) as session:
        return build(session, code=code, base_url=base_url, renderings={variant: rendering})[
            variant
        ]


# How long a primary that could not be reached is not asked again: meanwhile the replica
# answers alone, and a scan does not wait for a connection that will be refused.
PRIMARY_RETRY_S = 1.0
_primary_down_until: dict[object, float] = {}
# What a server that is gone raises: through the pool, or from the driver mid-statement.
_UNREACHABLE = (exc.DBAPIError, psycopg.OperationalError)


def _primary_lsn(engine: Engine) -> str | None:
    """Where the primary's WAL has been flushed to (every commit it shows is behind it),
    or ``None`` if the primary cannot be reached."""
    if time.monotonic() < _primary_down_until.get(engine.url, 0.0):
        return None
    try:
        return _on_read_pool(engine, _flush_lsn)
    except _UNREACHABLE as error:
        log.warning("primary unreachable, scans read the replica alone: %s", error)
        _primary_down_until[engine.url] = time.monotonic() + PRIMARY_RETRY_S
        return None


def _flush_lsn(conn) -> str:
    return conn.execute("SELECT pg_current_wal_flush_lsn()::text", prepare=True).fetchone()[0]


def _scan_replica(
    engine: Engine, replica: Engine, **scan: str | None
) -> tuple[snapshot.Found | None, Engine]:
    """The scan read from ``replica`` if it has replayed everything the primary had
    committed when the scan began, else from the primary; and where to build a stale trace.

    The primary is asked for its WAL position only (no table is read there); the replica
    answers the scan with it in the same statement. A replica that lags (replay paused,
    a burst of writes) is never served from: the primary answers, as without a replica. A
    primary that cannot be reached leaves the replica answering alone (the newest record
    there is), and building there too (the trace is then not stored).
    """
    lsn = _primary_lsn(engine)
    try:
        caught_up, found = _on_read_pool(
            replica, lambda conn: snapshot.scan_replica_dbapi(conn, lsn=lsn, **scan)
        )
    except _UNREACHABLE as error:
        # A replica that is gone: the primary answers, as if there were none.
        log.warning("replica unreachable, scans read the primary: %s", error)
        caught_up = False
    if caught_up:
        return found, engine if lsn is not None else replica
    return _scan(engine, **scan), engine


def _scan(engine: Engine, **scan: str | None) -> snapshot.Found | None:
    """``snapshot.scan`` in one round trip: on PostgreSQL, on a connection of the read pool."""
    if engine.dialect.name != "postgresql":
        with Session(engine) as session:
            return snapshot.scan(session, **scan)
    return _on_read_pool(engine, lambda conn: snapshot.scan_dbapi(conn, **scan))


def _on_read_pool(engine: Engine, read: Callable):
    """``read(psycopg connection)`` on a connection of ``engine``'s pool of one-statement
    reads; once more on a fresh pool if the server had dropped the connection."""
    reads = read_engine(engine)
    for attempt in (1, 2):
        try:
            conn = reads.raw_connection()
        except exc.DBAPIError:
            if attempt == 2:
                raise
            reads.dispose()
            continue
        try:
            found = read(conn.driver_connection)
        except Exception as error:
            dropped = engine.dialect.is_disconnect(error, conn.driver_connection, None)
            conn.invalidate()
            if not dropped or attempt == 2:
                raise
            # The server dropped the connection (a restart, an idle timeout), and with it
            # likely every other one of the pool: start the pool afresh and try once more.
            reads.dispose()
            continue
        conn.close()
        return found
    raise AssertionError("unreachable")


# Lots looked at, built and stored per transaction by :func:`refresh`: a few round trips
# (the snapshot, which of them are stale, the newest checkpoint, the store, the commit)
# shared by many lots instead of paid by each.
REFRESH_BATCH = 50


def _batches(items: Iterable[str], size: int) -> Iterable[list[str]]:
    batch: list[str] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def refresh(
    session: Session,
    *,
    base_url: str | None,
    renderings: dict[str, Rendering],
    codes: Iterable[str] | None = None,
    everything: bool = False,
) -> tuple[int, int]:
    """Build and store the traces of ``codes`` (default: every lot) that are missing or stale.

    ``everything`` rebuilds them all. Returns (lots looked at, lots built).
    """
    if codes is None:
        codes = session.execute(select(Lot.code).order_by(Lot.id)).scalars().all()
    session.commit()
    one_snapshot = session.get_bind().dialect.name == "postgresql"
    seen = built = 0
    for batch in _batches(codes, REFRESH_BATCH):
        seen += len(batch)
        if one_snapshot:
            # Each batch in a transaction of its own that sees one snapshot of the database.
            session.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
            _generic_plans(session)
        todo = batch
        if not everything:
            todo = snapshot.stale(session, codes=todo, variants=list(renderings), base_url=base_url)
        checkpoint = anchors.newest_checkpoint(session) if todo else None
        made = [
            _build(
                session,
                code=code,
                base_url=base_url,
                renderings=renderings,
                one_snapshot=one_snapshot,
                checkpoint=checkpoint,
            )
            for code in todo
        ]
        built += len(made)
        _store(session, [m for m in made if m.stamp is not None])
        session.commit()
    return seen, built


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Watermark:
    """How far :func:`refresh_changed` has looked: the newest diary entry and reviewer's
    acceptance it has seen, and the newest time a mission was measured."""

    entry_id: int = 0
    acceptance_id: int = 0
    measured_at: datetime = EPOCH


# Typed through the models, so a time reads and binds the same way on SQLite and PostgreSQL.
_WATERMARK = select(
    select(func.coalesce(func.max(DiaryEntry.id), 0)).scalar_subquery(),
    select(func.coalesce(func.max(AmendmentAcceptance.id), 0)).scalar_subquery(),
    select(func.max(Mission.measured_at)).scalar_subquery(),
)
# The lots resting on the fields written to since a watermark: the lots of those fields,
# and every lot made from them, down the lineage.
_CHANGED_LOTS = text(
    """
WITH RECURSIVE changed(field_id) AS (
    SELECT field_id FROM diary_entries WHERE id > :entry_id
    UNION SELECT e.field_id FROM amendment_acceptances a
          JOIN diary_entries e ON e.id = a.entry_id WHERE a.id > :acceptance_id
    UNION SELECT mf.field_id FROM missions m
          JOIN mission_fields mf ON mf.mission_pk = m.id WHERE m.measured_at > :measured_at
),
touched(id) AS (
    SELECT lf.lot_id FROM lot_fields lf WHERE lf.field_id IN (SELECT field_id FROM changed)
    UNION SELECT lp.lot_id FROM lot_parents lp JOIN touched t ON lp.parent_id = t.id
)
SELECT l.code FROM lots l WHERE l.id IN (SELECT id FROM touched) ORDER BY l.id
"""
).bindparams(bindparam("measured_at", type_=UTCDateTime))


def watermark(session: Session) -> Watermark:
    """Today's watermark: what :func:`refresh_changed` need not look at again."""
    entry_id, acceptance_id, measured_at = session.execute(_WATERMARK).one()
    session.commit()
    return Watermark(entry_id, acceptance_id, measured_at or EPOCH)


def refresh_changed(
    session: Session,
    *,
    base_url: str | None,
    renderings: dict[str, Rendering],
    since: Watermark,
) -> tuple[Watermark, int]:
    """Build again the stored traces of the lots whose fields were written to since
    ``since`` (diary lines by hand or by drone, reviewers' acceptances, measured missions).

    Returns the new watermark and how many lots were built. The watermark is read first:
    a write committed meanwhile is seen again on the next call, never missed.
    """
    now = watermark(session)
    if now == since:
        return now, 0
    params = {
        "entry_id": since.entry_id,
        "acceptance_id": since.acceptance_id,
        "measured_at": since.measured_at,
    }
    codes = session.execute(_CHANGED_LOTS, params).scalars().all()
    _seen, built = refresh(session, base_url=base_url, renderings=renderings, codes=codes)
    return now, built


def answer(
    request: Request, body: bytes, media_type: str, response_class: type[Response] = Response
) -> Response:
    """``body`` with an ETag; a phone that already holds this version gets a bodiless 304,
    and a HEAD request the headers alone."""
    etag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
    headers = CACHE_HEADERS | {"ETag": etag, "Vary": "Accept-Encoding"}
    if etag in (request.headers.get("if-none-match") or ""):
        return Response(status_code=304, headers=headers)
    if request.method == "HEAD":
        headers |= {"Content-Length": str(len(body))}
        return Response(media_type=media_type, headers=headers)
    return response_class(body, media_type=media_type, headers=headers)
