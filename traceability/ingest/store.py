"""Store: write a validated batch in the caller's transaction; the caller commits, then acks.

- points go in through :mod:`traceability.ingest.points` (each only if its
  ``(drone_code, seq)`` is new in ``telemetry_keys``), so a redelivered or repeated point
  is a no-op and ``point_count`` grows by exactly the rows that were new;
- a mission row is created by whichever comes first, a point or the start event
  (``ON CONFLICT (mission_id) DO NOTHING``, so two ingesters racing create it once);
- start events fill the mission, end events complete it, status messages move a
  drone's online state forward in time;
- unknown drones and objects naming another drone's mission become rejects, stored
  with the batch's other rejects;
- every change marks the mission ``dirty``; measuring happens elsewhere, never per message.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter, itemgetter
from typing import NamedTuple

from sqlalchemy import bindparam, func, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from traceability.ingest.batch import IngestBatch
from traceability.ingest.contract import MissionEndIn, MissionStartIn, StatusIn
from traceability.ingest.points import (
    conflicting_points,
    epoch_us,
    insert_points,
    sqlite_time,
)
from traceability.ingest.rejects import Reject, store_rejects
from traceability.models import (
    Drone,
    IngestResult,
    InputProduct,
    Mission,
    MissionSource,
    MissionStatus,
    utcnow,
)

_POINT = itemgetter(2)  # the point of a batch's (source, drone, point)
_TS = attrgetter("ts")


@dataclass
class BatchResult:
    """What :func:`store_batch` did."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0  # conflicts included
    conflicts: int = 0  # points re-sent under a stored (drone, seq) with other content
    events: int = 0
    missions: set[str] = field(default_factory=set)  # missions whose record changed
    ended: set[str] = field(default_factory=set)  # missions that got an end event
    late: set[str] = field(default_factory=set)  # complete missions that got new points
    refused: list[Reject] = field(default_factory=list)  # the rejects kept, with reasons
    newest_ts: datetime | None = None  # the latest fix time among the batch's points
    # The drones and missions looked up or made (for :meth:`KnownRows.learn`).
    drone_rows: dict[str, int] = field(default_factory=dict)
    mission_rows: dict[str, "_MissionRow"] = field(default_factory=dict)

    def public(self) -> IngestResult:
        """The API shape."""
        return IngestResult(
            stored=self.stored,
            duplicates=self.duplicates,
            rejected=self.rejected,
            conflicts=self.conflicts,
            events=self.events,
            missions=sorted(self.missions),
        )


class _MissionRow(NamedTuple):
    """What the store needs of a stored mission: neither ever changes."""

    pk: int
    drone_code: str


class KnownRows:
    """Drones' ids and missions' :class:`_MissionRow`, as stored and committed.

    Neither changes once stored (no drone or mission is deleted, no mission moves to
    another drone), so a writer that keeps them between batches looks up only the drones
    and missions it has not met: a batch of a large fleet names thousands of both. Filled
    by :meth:`learn` after the batch's commit (a row made in a transaction that rolled
    back was never stored); emptied when it grows past ``limit`` rows.
    """

    def __init__(self, limit: int = 200_000) -> None:
        self.limit = limit
        self.drones: dict[str, int] = {}
        self.missions: dict[str, _MissionRow] = {}

    def learn(self, result: "BatchResult") -> None:
        """Keep the rows a committed batch looked up or made."""
        for kept, new in ((self.drones, result.drone_rows), (self.missions, result.mission_rows)):
            if len(kept) + len(new) > self.limit:
                kept.clear()
            kept.update(new)


_MISSIONS = Mission.__table__
# SQLite: the batch's missions moved in one statement from a JSON array of [id, new
# points, earliest new fix in µs since the epoch] (one step: each gives the interpreter
# up). A mission's start is its earliest fix until its start event (which sets its type)
# is stored; a start event's time is kept.
_SQLITE_MOVE_MISSIONS = text(
    "UPDATE missions SET point_count = point_count + v.n, dirty = 1, last_point_at = :at, "
    "started_at = CASE WHEN missions.type IS NULL AND (missions.started_at IS NULL "
    "OR v.first < missions.started_at) THEN v.first ELSE missions.started_at END "
    "FROM (SELECT json_extract(value, '$[0]') AS pk, json_extract(value, '$[1]') AS n, "
    + sqlite_time("json_extract(value, '$[2]')")
    + " AS first FROM json_each(:moved)) AS v "
    + "WHERE missions.id = v.pk"
).bindparams(bindparam("at", type_=_MISSIONS.c.last_point_at.type))
# SQLite: which of the moved missions were complete (their points came late).
_SQLITE_COMPLETE = (
    "SELECT json_group_array(mission_id) FROM missions WHERE status = 'complete' "
    "AND id IN (SELECT value FROM json_each(?))"
)
# SQLite: lookups answered as one JSON array, in one step rather than one a row.
_SQLITE_DRONES = (
    "SELECT json_group_array(json_array(code, id)) FROM drones "
    "WHERE code IN (SELECT value FROM json_each(?))"
)
_SQLITE_MISSIONS = (
    "SELECT json_group_array(json_array(mission_id, id, drone_code)) FROM missions "
    "WHERE mission_id IN (SELECT value FROM json_each(?))"
)


def _param(name: str, column: str):
    """A parameter typed as the missions column it fills (dates, JSON and enums converted
    as the column converts them)."""
    return bindparam(name, type_=_MISSIONS.c[column].type)


# Start and end events: one statement for all of a batch's (an executemany, which the
# driver pipelines), not one compiled and synchronised with the session per event.
_START_MISSION = (
    update(_MISSIONS)
    .where(_MISSIONS.c.id == bindparam("pk"))
    .values(
        type=_param("s_type", "type"),
        product_code=_param("s_product_code", "product_code"),
        product_id=_param("s_product_id", "product_id"),
        swath_m=_param("s_swath_m", "swath_m"),
        product_per_unit=_param("s_per_unit", "product_per_unit"),
        operator_id=_param("s_operator_id", "operator_id"),
        planned_field_codes=_param("s_planned", "planned_field_codes"),
        started_at=_param("s_started_at", "started_at"),
        sprayer_state_unknown=_param("s_unknown", "sprayer_state_unknown"),
        dirty=True,
        # Absent, the mission keeps the source it was created with.
        source=func.coalesce(_param("s_source", "source"), _MISSIONS.c.source),
    )
)
_END_MISSION = (
    update(_MISSIONS)
    .where(_MISSIONS.c.id == bindparam("pk"))
    .values(
        status=MissionStatus.complete.value,
        end_reason="end_event",
        ended_at=_param("e_ended_at", "ended_at"),
        reported_area_ha=_param("e_area_ha", "reported_area_ha"),
        reported_amount=_param("e_amount", "reported_amount"),
        dirty=True,
    )
)

# PostgreSQL: the counts of every mission of a batch in one statement (arrays, one row
# each), after locking the rows in id order, so concurrent ingesters lock them alike.
# (The lock reads the primary key with ``= ANY``: forced to its generic plan on a table
# without statistics it still used the key's index, 2.3 ms for 2,000 missions.)
_PG_LOCK_MISSIONS = (
    "SELECT id FROM missions WHERE id = ANY(string_to_array(%(pks)s, %(sep)s)::int8[]) "
    "ORDER BY id FOR UPDATE"
)
# A mission's start is its earliest fix until its start event (which sets its type) is
# stored (``least`` ignores a null). The earliest new fixes come as whole microseconds
# since the epoch, joined like the rest: the driver dumps a list of times element by
# element in Python (a fifth of a writer's time at 6,000 one-point messages a second).
# Answers the missions that were complete already.
_PG_MOVE_MISSIONS = (
    "WITH moved AS (UPDATE missions m SET point_count = m.point_count + v.n, dirty = true, "
    "last_point_at = %(at)s, started_at = CASE WHEN m.type IS NULL THEN least(m.started_at, "
    "'epoch'::timestamptz + v.first_us * interval '1 microsecond') ELSE m.started_at END "
    "FROM unnest(string_to_array(%(pks)s, %(sep)s)::int8[], "
    "string_to_array(%(ns)s, %(sep)s)::int8[], string_to_array(%(firsts)s, %(sep)s)::int8[]) "
    "AS v(pk, n, first_us) WHERE m.id = v.pk RETURNING m.mission_id, m.status) "
    "SELECT mission_id FROM moved WHERE status = 'complete'"
)
# PostgreSQL: the batch's drones and missions, read through the driver (no ORM rows to
# build) by joining the list the server splits (:func:`_joined`): a function scan splits
# it once. Written ``code = ANY(string_to_array(%s, %s))``, the drones' lookup, once the
# driver had prepared it and the server had moved to its generic plan (from the eleventh
# run), scanned a drones table without statistics yet (a fleet just registered) and split
# the list again for each row: 0.57 to 0.63 s for 2,000 drones of 6,086, against 2.4 ms.
_PG_DRONES = (
    "SELECT d.code, d.id FROM unnest(string_to_array(%s, %s)) AS w(code) "
    "JOIN drones d ON d.code = w.code"
)
_PG_MISSIONS = (
    "SELECT m.mission_id, m.id, m.drone_code "
    "FROM unnest(string_to_array(%s, %s)) AS w(mission_id) "
    "JOIN missions m ON m.mission_id = w.mission_id"
)


def store_batch(
    session: Session, *, batch: IngestBatch, kept: KnownRows | None = None
) -> BatchResult:
    """Write a batch in the caller's transaction (the caller commits, then acknowledges).

    Unknown drones and points of a mission flown by another drone become rejects;
    repeated points are silent no-ops; start events fill the mission, end events close it.
    ``kept``: the drones and missions a writer met in earlier batches; once the batch is
    committed, the caller lets it learn this batch's (:meth:`KnownRows.learn`).
    """
    res = BatchResult()
    kept = kept or KnownRows()
    # One pass over the points (the hot loop): the (drone, mission) pairs they name and
    # one row per (drone, seq); everything else works on those few pairs.
    pairs: dict[tuple[str, str], int] = {}
    rows: dict[tuple[str, int], tuple] = {}
    for src, drone, p in batch.points:
        pairs.setdefault((drone, p.mission_id), src)
        key = (drone, p.seq)
        if key not in rows:
            # A point holds exactly the telemetry columns after drone_code, in order.
            rows[key] = (drone, *p.values())
    n_points = len(batch.points)

    point_drones = {d for d, _ in pairs}
    known = _known_drones(session, batch, point_drones, kept, res)
    if not point_drones <= known.keys():
        n_points -= sum(1 for _, d, _ in batch.points if d not in known)
        pairs = {k: v for k, v in pairs.items() if k[0] in known}
        rows = {k: v for k, v in rows.items() if k[0] in known}
    events = [e for e in batch.events if e[1] in known]
    statuses = [s for s in batch.statuses if s[1] in known]

    # Missions: created by the first point or the start event, whichever comes first.
    wanted: dict[str, tuple[str, int]] = {}
    for _, drone, obj in events:
        wanted.setdefault(obj.mission_id, (drone, known[drone]))
    for drone, mid in pairs:
        wanted.setdefault(mid, (drone, known[drone]))
    missions = _ensure_missions(session, wanted, batch.origin, kept, res) if wanted else {}

    if any(missions[mid].drone_code != drone for drone, mid in pairs):
        # Rare: some points name another drone's mission. Reject those one by one and
        # rebuild the rows from the rest.
        rows = {}
        n_points = 0
        for src, drone, p in batch.points:
            if drone in known and _owned(batch, missions, src, drone, p, "point"):
                n_points += 1
                rows.setdefault((drone, p.seq), (drone, *p.values()))

    starts = [
        (s, d, e)
        for s, d, e in events
        if isinstance(e, MissionStartIn) and _owned(batch, missions, s, d, e, "start event")
    ]
    ends = [
        (s, d, e)
        for s, d, e in events
        if isinstance(e, MissionEndIn) and _owned(batch, missions, s, d, e, "end event")
    ]
    res.events = len(starts) + len(ends) + len(statuses)

    # Before the points: a mission whose start event is stored keeps the event's time.
    _apply_starts(session, [e for _, _, e in starts], missions, res)
    if rows:
        _store_points(session, rows, n_points, missions, res)
    _reject_conflicts(session, batch, known, missions, res)
    _apply_ends(session, [e for _, _, e in ends], missions, res)
    res.late -= res.ended
    _apply_statuses(session, [(d, s) for _, d, s in statuses])

    res.rejected = store_rejects(session, rejects=batch.rejects)
    res.refused = list(batch.rejects)
    res.newest_ts = max(map(_TS, map(_POINT, batch.points)), default=None)
    return res


def _known_drones(
    session: Session, batch: IngestBatch, point_drones: set[str], kept: KnownRows, res: BatchResult
) -> dict[str, int]:
    """``{code: id}`` of the registered drones the batch names; rejects the work of others."""
    named = point_drones | {d for _, d, _ in batch.events} | {d for _, d, _ in batch.statuses}
    known = _kept(kept.drones, named)
    if len(known) < len(named):
        new = named - known.keys()
        if _is_postgresql(session):
            res.drone_rows = dict(_driver_rows(session, _PG_DRONES, new))
        else:
            res.drone_rows = dict(_sqlite_json(session, _SQLITE_DRONES, new))
        known.update(res.drone_rows)
    if not named <= known.keys():
        rejected: set[int] = set()
        for src, drone, _ in (*batch.points, *batch.events, *batch.statuses):
            if drone not in known and src not in rejected:
                rejected.add(src)
                batch.reject(
                    src, f"unknown drone '{drone}': register it (POST /api/v1/drones) first"
                )
    return known


def _kept(kept: dict, wanted) -> dict:
    """The entries of ``kept`` for the keys ``wanted`` (read with ``get``: another writer
    may empty ``kept`` meanwhile)."""
    found = {}
    for key in wanted:
        row = kept.get(key)
        if row is not None:
            found[key] = row
    return found


def _owned(
    batch: IngestBatch, missions: dict[str, _MissionRow], src: int, drone: str, obj, what: str
) -> bool:
    """Whether ``obj`` names a mission of ``drone``; rejects it otherwise."""
    owner = missions[obj.mission_id].drone_code
    if owner == drone:
        return True
    batch.reject(
        src,
        f"{what} for mission '{obj.mission_id}', which belongs to drone '{owner}', not '{drone}'",
        obj.as_json() if what == "point" else None,
    )
    return False


def _driver_rows(session: Session, sql: str, values) -> list[tuple]:
    """The rows of one of the ``_PG_…`` lookups for ``values``, through the driver: a
    batch of a large fleet names thousands of drones and missions, and SQLAlchemy's and
    the driver's work per value and per row is Python time the writer spends."""
    with session.connection().connection.driver_connection.cursor() as cur:
        cur.execute(sql, (_joined(values), _SEP))
        return cur.fetchall()


def _sqlite_json(session: Session, sql: str, values) -> list:
    """The rows of one of the ``_SQLITE_…`` lookups for ``values``: SQLite answers them
    as one JSON array, in one step (the driver gives the interpreter up at each step,
    one a row, and may wait a switch interval to get it back while a thread runs)."""
    dbapi = session.connection().connection.driver_connection
    (found,) = dbapi.execute(sql, (json.dumps(sorted(values)),)).fetchone()
    return json.loads(found)


#: What separates the values of :func:`_joined`: a control character, which neither a code
#: nor a drone's id may hold (:func:`~traceability.ingest.contract.drone_id_problem`).
_SEP = "\x1f"


def _joined(values) -> str:
    """``values`` as one text for PostgreSQL's ``string_to_array(text, _SEP)``: joining
    in C costs a fraction of the driver's array, built element by element in Python."""
    values = list(map(str, values))
    joined = _SEP.join(values)
    if joined.count(_SEP) != max(0, len(values) - 1):
        raise ValueError("a value holds the separator")  # never for a code or a drone id
    return joined


def _is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _insert(session: Session, table):
    return (postgresql if _is_postgresql(session) else sqlite).insert(table)


def _ensure_missions(
    session: Session,
    wanted: dict[str, tuple[str, int]],
    origin: MissionSource,
    kept: KnownRows,
    res: BatchResult,
) -> dict[str, _MissionRow]:
    """Existing or new mission rows for ``{mission_id: (drone_code, drone_pk)}``; new ones
    record ``origin`` as their source."""
    postgresql = _is_postgresql(session)

    def load(ids) -> dict[str, _MissionRow]:
        if postgresql:
            found = _driver_rows(session, _PG_MISSIONS, ids)
        else:
            found = _sqlite_json(session, _SQLITE_MISSIONS, ids)
        rows = {mid: _MissionRow(pk, drone) for mid, pk, drone in found}
        res.mission_rows.update(rows)
        return rows

    found = _kept(kept.missions, wanted)
    if len(found) < len(wanted):
        found.update(load([m for m in wanted if m not in found]))
    missing = [m for m in wanted if m not in found]
    if missing:
        now = utcnow()
        rows = [
            {
                "mission_id": m,
                "drone_code": wanted[m][0],
                "drone_id": wanted[m][1],
                "status": MissionStatus.open.value,
                # The column's default says "contract": named only for the adapters'.
                **({"source": origin.value} if origin is not MissionSource.contract else {}),
                "planned_field_codes": [],
                "flags": [],
                "zones": [],
                "point_count": 0,
                "dirty": True,
                "created_at": now,
            }
            for m in sorted(missing)
        ]
        stmt = _insert(session, Mission.__table__).on_conflict_do_nothing(
            index_elements=["mission_id"]
        )
        session.execute(stmt, rows)
        found.update(load(missing))
    return found


def _apply_starts(
    session: Session,
    starts: list[MissionStartIn],
    missions: dict[str, _MissionRow],
    res: BatchResult,
) -> None:
    """Fill each mission from its start event."""
    if not starts:
        return
    products = {e.product_code for e in starts if e.product_code}
    product_ids = (
        dict(
            session.execute(
                select(InputProduct.code, InputProduct.id).where(
                    InputProduct.code.in_(sorted(products))
                )
            ).all()
        )
        if products
        else {}
    )
    rows = []
    for e in sorted(starts, key=lambda e: e.mission_id):  # one lock order for every writer
        rows.append(
            {
                "pk": missions[e.mission_id].pk,
                "s_type": e.type.value,
                "s_product_code": e.product_code,
                "s_product_id": product_ids.get(e.product_code),
                "s_swath_m": e.swath_m,
                "s_per_unit": e.tank_mix.product_per_l if e.tank_mix else None,
                "s_operator_id": e.operator_id,
                "s_planned": list(e.planned_field_codes),
                "s_started_at": e.ts,
                "s_unknown": e.sprayer_state == "unknown",
                "s_source": e.source.value if e.source else None,
            }
        )
        res.missions.add(e.mission_id)
    session.execute(_START_MISSION, rows)


def _store_points(
    session: Session,
    rows: dict[tuple[str, int], tuple],
    n_points: int,
    missions: dict[str, _MissionRow],
    res: BatchResult,
) -> None:
    """Insert the point rows and move each mission's count, and its start while it has
    no start event, with the new ones."""
    # One order for every writer, so concurrent ingesters lock index entries alike.
    new_count, first_ts = insert_points(session, [rows[k] for k in sorted(rows)])
    res.stored = sum(new_count.values())
    res.duplicates = n_points - res.stored
    if not new_count:
        return
    moved = sorted(new_count)  # in mission order like the rest: writers lock rows alike
    res.missions.update(moved)
    pks = [missions[mid].pk for mid in moved]
    counts = [new_count[mid] for mid in moved]
    firsts = [first_ts[mid] for mid in moved]
    if _is_postgresql(session):
        complete = _move_missions_pg(session, pks, counts, firsts)
    else:
        moving = [[pk, n, epoch_us(t)] for pk, n, t in zip(pks, counts, firsts, strict=True)]
        session.execute(_SQLITE_MOVE_MISSIONS, {"at": utcnow(), "moved": json.dumps(moving)})
        complete = _sqlite_json(session, _SQLITE_COMPLETE, pks)
    res.late.update(complete)


def _move_missions_pg(
    session: Session, pks: list[int], counts: list[int], firsts: list[datetime]
) -> list[str]:
    """Move the batch's missions on PostgreSQL: their rows locked in id order, then one
    ``UPDATE`` from arrays (one statement per mission, pipelined, took a fifth of the
    ingester's time at 6,000 one-point messages a second). Returns the missions among
    them that were complete."""
    params = {
        "sep": _SEP,
        "pks": _joined(pks),
        "ns": _joined(counts),
        "firsts": _joined(map(epoch_us, firsts)),
        "at": utcnow(),
    }
    with session.connection().connection.driver_connection.cursor() as cur:
        cur.execute(_PG_LOCK_MISSIONS, params)
        cur.execute(_PG_MOVE_MISSIONS, params)
        return [mid for (mid,) in cur.fetchall()]


def _reject_conflicts(
    session: Session,
    batch: IngestBatch,
    known: dict[str, int],
    missions: dict[str, _MissionRow],
    res: BatchResult,
) -> None:
    """Repeats of a ``(drone, seq)`` with other content become rejects, not duplicates."""
    if not res.duplicates:
        return  # the common case: every point was new
    accepted = (
        (s, d, p)
        for s, d, p in batch.points
        if d in known and missions[p.mission_id].drone_code == d
    )
    # An adapter's points are keyed by their fix time: the same key in the same mission
    # from a second record of the flight (its .tlog, then its dataflash log) is that fix.
    recorders = batch.origin is not MissionSource.contract
    conflicts = conflicting_points(session, accepted, recorders=recorders)
    for src, drone, p, differ in conflicts:
        batch.reject(
            src,
            f"conflicting duplicate: seq {p.seq} of drone '{drone}' is stored with another "
            f"{', '.join(differ)}; the point stored first is kept",
            p.as_json(),
        )
    res.duplicates -= len(conflicts)
    res.conflicts = len(conflicts)


def _apply_ends(
    session: Session, ends: list[MissionEndIn], missions: dict[str, _MissionRow], res: BatchResult
) -> None:
    """Complete each mission that got its end event."""
    if not ends:
        return
    rows = []
    for e in sorted(ends, key=lambda e: e.mission_id):  # one lock order for every writer
        rows.append(
            {
                "pk": missions[e.mission_id].pk,
                "e_ended_at": e.ts,
                "e_area_ha": e.reported_area_ha,
                "e_amount": e.reported_amount,
            }
        )
        res.ended.add(e.mission_id)
        res.missions.add(e.mission_id)
    session.execute(_END_MISSION, rows)


def _apply_statuses(session: Session, statuses: list[tuple[str, StatusIn]]) -> None:
    """Each drone's latest state, never moving its state back in time."""
    latest: dict[str, StatusIn] = {}
    for drone, s in statuses:
        if drone not in latest or (s.ts and (latest[drone].ts is None or s.ts > latest[drone].ts)):
            latest[drone] = s
    for drone in sorted(latest):
        s = latest[drone]
        ts = s.ts or utcnow()
        session.execute(
            update(Drone)
            .where(Drone.code == drone, (Drone.status_at.is_(None)) | (Drone.status_at <= ts))
            .values(online=s.online, status_at=ts)
        )
