"""Telemetry in: every point stored exactly once, missions opened and closed, rejects kept.

The same functions serve the MQTT ingester and uploaded flight logs. Work arrives in an
:class:`IngestBatch` (many messages' worth of validated points and events, plus the
rejects found while validating) and :func:`store_batch` writes it in the caller's
transaction:

- points go in with ``INSERT ... ON CONFLICT (drone_code, seq) DO NOTHING ... RETURNING``,
  so a redelivered or repeated point is a no-op and ``point_count`` grows by exactly the
  rows that were new;
- a mission row is created by whichever comes first, a point or the start event
  (``ON CONFLICT (mission_id) DO NOTHING``, so two ingesters racing create it once);
- every change marks the mission ``dirty``; measuring happens elsewhere, never per message.
"""

import csv
import io
import math
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from operator import itemgetter
from typing import Annotated, Any

import orjson
from pydantic import AwareDatetime as PAwareDatetime
from pydantic import BaseModel, ConfigDict, StrictBool, TypeAdapter, ValidationError
from pydantic import Field as PField
from sqlalchemy import false, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from traceability.errors import InvalidInput
from traceability.models import (
    Code,
    Drone,
    IngestReject,
    IngestRejectPublic,
    IngestRejectsPublic,
    IngestResult,
    InputProduct,
    Mission,
    MissionEndIn,
    MissionStartIn,
    MissionStatus,
    StatusIn,
    TelemetryIn,
    utcnow,
)

MAX_REASON = 2000
# A reject keeps the raw payload for inspection, but a megabyte of junk is not evidence.
MAX_KEPT_PAYLOAD = 64_000

_POINT = TypeAdapter(TelemetryIn)


def _num(**bounds: float) -> Any:
    return Annotated[float, PField(allow_inf_nan=False, **bounds)]


class _FastPoint(BaseModel):
    """The common case of :class:`TelemetryIn`, checked entirely inside pydantic-core.

    TelemetryIn's Python validators (finite floats, UTC conversion, 0/1 applicator state)
    cost three times the rest; this model expresses the same bounds natively and is at
    least as strict (``spraying`` must be a JSON boolean), with the fields in the same
    order. Whatever it refuses goes through TelemetryIn, which also words the reason.
    Its ``ts`` keeps the offset it was sent with; it is the same instant.
    """

    model_config = ConfigDict(extra="ignore")

    mission_id: Code
    seq: Annotated[int, PField(ge=0, lt=2**62)]
    ts: PAwareDatetime
    lat: _num(ge=-90, le=90)
    lon: _num(ge=-180, le=180)
    alt_m: _num() | None = None
    speed_mps: _num(ge=0, le=200) | None = None
    heading_deg: _num() | None = None
    spraying: StrictBool
    flow_lpm: _num(ge=0, le=1000) | None = None
    flow_kgpm: _num(ge=0, le=1000) | None = None
    swath_m: _num(gt=0, le=100) | None = None
    tank_remaining: _num() | None = None
    battery_pct: _num() | None = None


_POINTS = TypeAdapter(list[_FastPoint])
_ONE_POINT = TypeAdapter(_FastPoint)
_EVENT = TypeAdapter(MissionStartIn | MissionEndIn)
_STATUS = TypeAdapter(StatusIn)
_POINT_COLUMNS = tuple(TelemetryIn.model_fields)
assert tuple(_FastPoint.model_fields) == _POINT_COLUMNS


def describe(exc: ValidationError, *, limit: int = 5) -> str:
    """A short, human reason from a pydantic error: ``lat: Input should be ...; ...``."""
    parts = []
    for err in exc.errors()[:limit]:
        where = ".".join(str(p) for p in err.get("loc", ())) or "payload"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    more = exc.error_count() - limit
    if more > 0:
        parts.append(f"and {more} more problem(s)")
    return "; ".join(parts)


def _text(payload: bytes | str | Any) -> str:
    if isinstance(payload, bytes):
        text = payload[:MAX_KEPT_PAYLOAD].decode("utf-8", errors="replace")
    elif isinstance(payload, str):
        text = payload[:MAX_KEPT_PAYLOAD]
    else:
        try:
            text = orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:
            text = repr(payload)
        text = text[:MAX_KEPT_PAYLOAD]
    return text


def _nan_hint(payload: bytes) -> str:
    if b"NaN" in payload or b"Infinity" in payload:
        return " (NaN and Infinity are not JSON numbers)"
    return ""


# ---------------------------------------------------------------- batches


@dataclass(slots=True)
class Reject:
    """A message, or one point of it, that could not be accepted."""

    topic: str
    payload: str
    reason: str
    received_at: datetime


@dataclass(slots=True)
class _Source:
    topic: str
    payload: bytes | str
    received_at: datetime


@dataclass
class IngestBatch:
    """Validated work from many messages, written together by :func:`store_batch`."""

    sources: list[_Source] = field(default_factory=list)
    # (source index, drone code, point)
    points: list[tuple[int, str, TelemetryIn]] = field(default_factory=list)
    events: list[tuple[int, str, MissionStartIn | MissionEndIn]] = field(default_factory=list)
    statuses: list[tuple[int, str, StatusIn]] = field(default_factory=list)
    rejects: list[Reject] = field(default_factory=list)

    def source(
        self, *, topic: str, payload: bytes | str, received_at: datetime | None = None
    ) -> int:
        """Register the message work comes from; returns its index."""
        self.sources.append(_Source(topic, payload, received_at or utcnow()))
        return len(self.sources) - 1

    def reject(self, src: int, reason: str, payload: Any = None) -> None:
        """Keep a reject for message ``src`` (or for one object of it, ``payload``)."""
        s = self.sources[src]
        self.rejects.append(
            Reject(
                topic=s.topic[:1024],
                payload=_text(s.payload if payload is None else payload),
                reason=reason[:MAX_REASON],
                received_at=s.received_at,
            )
        )

    def __len__(self) -> int:
        return len(self.points) + len(self.events) + len(self.statuses) + len(self.rejects)


def add_telemetry(batch: IngestBatch, *, src: int, drone: str, payload: bytes | Any) -> int:
    """Validate a telemetry payload (one object or an array) into ``batch``; returns points added.

    ``payload`` is the raw JSON bytes (validated straight from JSON, the fast path) or an
    already decoded object. Each point is checked on its own: good ones are kept, each bad
    one becomes a reject holding that object and the reason.
    """
    if isinstance(payload, bytes | bytearray):
        head = payload.lstrip()[:1]
        try:
            if head == b"[":
                points = _POINTS.validate_json(payload)
            else:
                points = [_ONE_POINT.validate_json(payload)]
        except ValidationError:
            try:
                payload = orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                batch.reject(src, f"payload is not valid JSON{_nan_hint(payload)}: {exc}")
                return 0
        else:
            if not points:
                batch.reject(src, "telemetry array is empty")
            batch.points.extend((src, drone, p) for p in points)
            return len(points)
    items = payload if isinstance(payload, list) else [payload]
    if not items:
        batch.reject(src, "telemetry array is empty")
        return 0
    added = 0
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            batch.reject(
                src, f"telemetry point {i}: expected a JSON object, got {type(item).__name__}", item
            )
            continue
        try:
            point = _POINT.validate_python(item)
        except ValidationError as exc:
            where = f"telemetry point {i}: " if isinstance(payload, list) else ""
            batch.reject(src, where + describe(exc), item)
            continue
        batch.points.append((src, drone, point))
        added += 1
    return added


def add_mission_event(batch: IngestBatch, *, src: int, drone: str, payload: Any) -> None:
    """Validate a mission start or end event into ``batch``."""
    if not isinstance(payload, dict):
        batch.reject(src, f"mission event must be a JSON object, got {type(payload).__name__}")
        return
    if payload.get("event") not in ("start", "end"):
        batch.reject(
            src, f'mission event must have "event": "start" or "end", got {payload.get("event")!r}'
        )
        return
    model = MissionStartIn if payload["event"] == "start" else MissionEndIn
    try:
        event = model.model_validate(payload)
    except ValidationError as exc:
        batch.reject(src, f"mission {payload['event']} event: {describe(exc)}")
        return
    batch.events.append((src, drone, event))


def add_status(batch: IngestBatch, *, src: int, drone: str, payload: Any) -> None:
    """Validate a status (online / last will) message into ``batch``."""
    try:
        status = _STATUS.validate_python(payload)
    except ValidationError as exc:
        batch.reject(src, f"status: {describe(exc)}")
        return
    batch.statuses.append((src, drone, status))


# ---------------------------------------------------------------- storing


def _insert(session: Session, table):
    dialect = session.get_bind().dialect.name
    return (postgresql if dialect == "postgresql" else sqlite).insert(table)


@dataclass
class BatchResult:
    """What :func:`store_batch` did."""

    stored: int = 0
    duplicates: int = 0
    rejected: int = 0
    events: int = 0
    missions: set[str] = field(default_factory=set)  # missions whose record changed
    ended: set[str] = field(default_factory=set)  # missions that got an end event
    late: set[str] = field(default_factory=set)  # complete missions that got new points

    def public(self) -> IngestResult:
        """The API shape."""
        return IngestResult(
            stored=self.stored,
            duplicates=self.duplicates,
            rejected=self.rejected,
            events=self.events,
            missions=sorted(self.missions),
        )


def _ensure_missions(
    session: Session, wanted: dict[str, tuple[str, int]]
) -> dict[str, tuple[int, str, str, datetime | None, bool]]:
    """Existing or new mission rows for ``{mission_id: (drone_code, drone_pk)}``.

    Returns ``{mission_id: (pk, drone_code, status, started_at, has_start)}``.
    """
    cols = (
        Mission.id,
        Mission.mission_id,
        Mission.drone_code,
        Mission.status,
        Mission.started_at,
        Mission.type,
    )

    def load(ids) -> dict:
        found = {}
        ids = sorted(ids)
        for i in range(0, len(ids), 500):
            for pk, mid, drone, status, started, mtype in session.execute(
                select(*cols).where(Mission.mission_id.in_(ids[i : i + 500]))
            ):
                found[mid] = (pk, drone, MissionStatus(status), started, mtype is not None)
        return found

    found = load(wanted)
    missing = [m for m in wanted if m not in found]
    if missing:
        now = utcnow()
        rows = [
            {
                "mission_id": m,
                "drone_code": wanted[m][0],
                "drone_id": wanted[m][1],
                "status": MissionStatus.open.value,
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


_COPY_COLUMNS = ("drone_code", *_POINT_COLUMNS)
_PG_TEMP = (
    "CREATE TEMP TABLE IF NOT EXISTS telemetry_in (drone_code text, mission_id text, seq bigint, "
    "ts timestamptz, lat float8, lon float8, alt_m float8, speed_mps float8, heading_deg float8, "
    "spraying boolean, flow_lpm float8, flow_kgpm float8, swath_m float8, tank_remaining float8, "
    "battery_pct float8) ON COMMIT DELETE ROWS"
)


_PG_TYPES = ["text", "text", "int8", "timestamptz"] + ["float8"] * 5 + ["bool"] + ["float8"] * 5


def _insert_points(session: Session, rows: list[tuple]) -> tuple[Counter[str], dict[str, datetime]]:
    """Insert point rows (``_COPY_COLUMNS`` order), skipping known ``(drone, seq)``.

    Returns, per mission, how many rows were new and the earliest of the new fixes. This
    is the hot path of the ingester, so it talks to the driver directly: COPY into a
    temporary table and one ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` on
    PostgreSQL; ``executemany`` per mission with the change counter on SQLite. Both run
    in the session's transaction.
    """
    cols = ", ".join(_COPY_COLUMNS)
    dbapi = session.connection().connection.driver_connection
    new: Counter[str] = Counter()
    first: dict[str, datetime] = {}
    if session.get_bind().dialect.name == "postgresql":
        with dbapi.cursor() as cur:
            cur.execute(_PG_TEMP)
            with cur.copy(f"COPY telemetry_in ({cols}) FROM STDIN (FORMAT BINARY)") as copy:
                copy.set_types(_PG_TYPES)
                for row in rows:
                    copy.write_row(row)
            cur.execute(
                f"WITH ins AS (INSERT INTO telemetry ({cols}) SELECT {cols} FROM telemetry_in "
                "ORDER BY drone_code, seq ON CONFLICT (drone_code, seq) DO NOTHING "
                "RETURNING mission_id, ts) "
                "SELECT mission_id, count(*), min(ts) FROM ins GROUP BY mission_id"
            )
            for mid, n, ts in cur.fetchall():
                new[mid] = n
                first[mid] = ts
            cur.execute("TRUNCATE telemetry_in")
        return new, first
    ts_at = _COPY_COLUMNS.index("ts")
    mid_at = _COPY_COLUMNS.index("mission_id")
    by_mission: dict[str, list[tuple]] = {}
    for row in rows:
        group = by_mission.get(row[mid_at])
        if group is None:
            by_mission[row[mid_at]] = group = []
        group.append(row)
    sql = (
        f"INSERT INTO telemetry ({cols}) VALUES ({', '.join('?' * len(_COPY_COLUMNS))}) "
        "ON CONFLICT (drone_code, seq) DO NOTHING"
    )
    cur = dbapi.cursor()
    try:
        for mid, group in by_mission.items():
            before = dbapi.total_changes
            cur.executemany(sql, map(_sqlite_row, group))
            added = dbapi.total_changes - before
            if added:
                new[mid] = added
                # A repeated point was stored before, so it cannot be earlier than what is
                # recorded: the minimum over the whole group is as good as over new rows.
                first[mid] = min(map(itemgetter(ts_at), group))
    finally:
        cur.close()
    return new, first


_TS_AT = _COPY_COLUMNS.index("ts")


def _sqlite_row(row: tuple) -> tuple:
    # SQLite keeps timestamps as naive UTC text, in the format SQLAlchemy reads back.
    ts = row[_TS_AT]
    if ts.utcoffset():
        ts = ts.astimezone(UTC)
    return (*row[:_TS_AT], ts.isoformat(" ", "microseconds")[:26], *row[_TS_AT + 1 :])


def store_batch(session: Session, *, batch: IngestBatch) -> BatchResult:
    """Write a batch in the caller's transaction (the caller commits, then acknowledges).

    Unknown drones and points of a mission flown by another drone become rejects;
    repeated points are silent no-ops; start events fill the mission, end events close it.
    """
    res = BatchResult()
    # One pass over the points (the hot loop): the (drone, mission) pairs they name and
    # one row per (drone, seq); everything else works on those few pairs.
    pairs: dict[tuple[str, str], int] = {}
    rows: dict[tuple[str, int], tuple] = {}
    for src, drone, p in batch.points:
        pairs.setdefault((drone, p.mission_id), src)
        key = (drone, p.seq)
        if key not in rows:
            # Both point models hold exactly the columns, in column order.
            rows[key] = (drone, *p.__dict__.values())
    n_points = len(batch.points)

    drones_named = {d for d, _ in pairs} | {d for _, d, _ in batch.events}
    drones_named |= {d for _, d, _ in batch.statuses}
    known: dict[str, int] = {}
    if drones_named:
        known = dict(
            session.execute(
                select(Drone.code, Drone.id).where(Drone.code.in_(sorted(drones_named)))
            ).all()
        )
    if not drones_named <= known.keys():
        unknown_src = set()
        for src, drone, _ in (*batch.points, *batch.events, *batch.statuses):
            if drone not in known and src not in unknown_src:
                unknown_src.add(src)
                batch.reject(
                    src, f"unknown drone '{drone}': register it (POST /api/v1/drones) first"
                )
        n_points -= sum(1 for _, d, _ in batch.points if d not in known)
        pairs = {k: v for k, v in pairs.items() if k[0] in known}
        rows = {k: v for k, v in rows.items() if k[0] in known}
    events = [e for e in batch.events if e[1] in known]
    statuses = [s for s in batch.statuses if s[1] in known]

    # ---- missions: created by the first point or the start event, whichever comes first
    wanted: dict[str, tuple[str, int]] = {}
    for _, drone, obj in events:
        wanted.setdefault(obj.mission_id, (drone, known[drone]))
    for drone, mid in pairs:
        wanted.setdefault(mid, (drone, known[drone]))
    missions = _ensure_missions(session, wanted) if wanted else {}

    def mine(src: int, drone: str, obj, what: str) -> bool:
        owner = missions[obj.mission_id][1]
        if owner != drone:
            batch.reject(
                src,
                f"{what} for mission '{obj.mission_id}', which belongs to drone '{owner}', "
                f"not '{drone}'",
                obj.model_dump(mode="json") if what == "point" else None,
            )
            return False
        return True

    if any(missions[mid][1] != drone for drone, mid in pairs):
        # Rare: some points name another drone's mission. Reject those one by one and
        # rebuild the rows from the rest.
        rows = {}
        n_points = 0
        for src, drone, p in batch.points:
            if drone in known and mine(src, drone, p, "point"):
                n_points += 1
                rows.setdefault((drone, p.seq), (drone, *p.__dict__.values()))

    starts = [
        (s, d, e)
        for s, d, e in events
        if isinstance(e, MissionStartIn) and mine(s, d, e, "start event")
    ]
    ends = [
        (s, d, e)
        for s, d, e in events
        if isinstance(e, MissionEndIn) and mine(s, d, e, "end event")
    ]
    res.events = len(starts) + len(ends)

    has_start = {m for m, v in missions.items() if v[4]}
    if starts:
        products = {e.product_code for _, _, e in starts if e.product_code}
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
        for _, _, e in sorted(starts, key=lambda x: x[2].mission_id):
            session.execute(
                update(Mission)
                .where(Mission.id == missions[e.mission_id][0])
                .values(
                    type=e.type.value,
                    product_code=e.product_code,
                    product_id=product_ids.get(e.product_code),
                    swath_m=e.swath_m,
                    product_per_unit=e.tank_mix.product_per_l if e.tank_mix else None,
                    operator_id=e.operator_id,
                    planned_field_codes=list(e.planned_field_codes),
                    started_at=e.ts,
                    dirty=True,
                )
            )
            has_start.add(e.mission_id)
            res.missions.add(e.mission_id)

    # ---- points: ON CONFLICT DO NOTHING makes a repeat a no-op
    if rows:
        # One order for every writer, so concurrent ingesters lock index entries alike.
        new_count, first_ts = _insert_points(session, [rows[k] for k in sorted(rows)])
        res.stored = sum(new_count.values())
        res.duplicates = n_points - res.stored
        for mid in sorted(new_count):
            pk, _, status, started, _ = missions[mid]
            values: dict[str, Any] = {
                "point_count": Mission.point_count + new_count[mid],
                "dirty": True,
                "last_point_at": utcnow(),
            }
            # The earliest fix of a mission without a start event is its start. A repeated
            # point was stored before, so only new points can move it earlier.
            if mid not in has_start and (started is None or first_ts[mid] < started):
                values["started_at"] = first_ts[mid]
            session.execute(update(Mission).where(Mission.id == pk).values(**values))
            res.missions.add(mid)
            if status is MissionStatus.complete:
                res.late.add(mid)

    for _, _, e in sorted(ends, key=lambda x: x[2].mission_id):
        session.execute(
            update(Mission)
            .where(Mission.id == missions[e.mission_id][0])
            .values(
                status=MissionStatus.complete.value,
                end_reason="end_event",
                ended_at=e.ts,
                reported_area_ha=e.reported_area_ha,
                reported_amount=e.reported_amount,
                dirty=True,
            )
        )
        res.ended.add(e.mission_id)
        res.missions.add(e.mission_id)
    res.late -= res.ended

    latest: dict[str, StatusIn] = {}
    for _, drone, s in statuses:
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
    res.events += len(statuses)

    if batch.rejects:
        session.execute(
            IngestReject.__table__.insert(),
            [
                {
                    "topic": r.topic,
                    "payload": r.payload,
                    "reason": r.reason,
                    "received_at": r.received_at,
                }
                for r in batch.rejects
            ],
        )
    res.rejected = len(batch.rejects)
    return res


def store_rejects(session: Session, *, rejects: Iterable[Reject]) -> int:
    """Keep rejects on their own (e.g. a message that broke a batch); the caller commits."""
    rows = [
        {
            "topic": r.topic,
            "payload": r.payload,
            "reason": r.reason[:MAX_REASON],
            "received_at": r.received_at,
        }
        for r in rejects
    ]
    if rows:
        session.execute(IngestReject.__table__.insert(), rows)
    return len(rows)


def list_rejects(
    session: Session,
    *,
    offset: int = 0,
    limit: int = 50,
    topic: str | None = None,
    drones: Collection[str] | None = None,
) -> IngestRejectsPublic:
    """Rejects, newest first: ``{"total", "items"}``; only those of ``drones``, if given."""
    where = [IngestReject.topic.contains(topic, autoescape=True)] if topic else []
    if drones is not None:
        where.append(or_(false(), *(IngestReject.topic.contains(f"/drones/{d}/") for d in drones)))
    total = session.execute(
        select(func.count()).select_from(IngestReject).where(*where)
    ).scalar_one()
    rows = session.execute(
        select(IngestReject)
        .where(*where)
        .order_by(IngestReject.id.desc())
        .offset(offset)
        .limit(limit)
    ).scalars()
    return IngestRejectsPublic(
        total=total, items=[IngestRejectPublic.model_validate(r) for r in rows]
    )


# ---------------------------------------------------------------- flight logs


LOG_MAX_BYTES = 200_000_000
_BOOL = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
_INT_COLUMNS = {"seq"}
_TEXT_COLUMNS = {
    "mission_id",
    "ts",
    "drone_id",
    "drone",
    "event",
    "type",
    "product_code",
    "operator_id",
}


def _csv_value(key: str, value: str) -> Any:
    value = value.strip()
    if value == "":
        return None
    if key in _TEXT_COLUMNS:
        return value
    if key == "spraying":
        return _BOOL.get(value.lower(), value)
    if key == "planned_field_codes":
        return [c for c in value.replace(";", " ").split() if c]
    try:
        number = float(value)
    except ValueError:
        return value  # left as text: validation names the problem
    if key in _INT_COLUMNS and math.isfinite(number) and number.is_integer():
        return int(number)
    return number


def parse_log(data: bytes, *, name: str = "log") -> Iterator[tuple[str, Any]]:
    """Records of a flight log as ``(where, object or error text)``.

    CSV (a header row naming the telemetry keys; ``drone_id`` and ``event`` columns are
    optional) or JSON lines (one object, or an array of objects, per line). A line that
    cannot be read yields its error as text, so it is rejected and the rest goes on.
    """
    if len(data) > LOG_MAX_BYTES:
        raise InvalidInput(f"log '{name}' is {len(data):,} bytes, more than {LOG_MAX_BYTES:,}")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    head = data.lstrip()[:1]
    is_json = name.lower().endswith((".jsonl", ".ndjson", ".json")) or head in (b"{", b"[")
    if is_json:
        for n, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            where = f"{name}:{n}"
            try:
                yield where, orjson.loads(line)
            except orjson.JSONDecodeError as exc:
                yield where, f"line is not valid JSON: {exc}"
        return
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"log '{name}' is neither JSON lines nor UTF-8 CSV: {exc}") from exc
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "mission_id" not in [f.strip() for f in reader.fieldnames]:
        raise InvalidInput(f"CSV log '{name}' needs a header row with at least mission_id")
    for row in reader:
        where = f"{name}:{reader.line_num}"
        if None in row:
            yield (
                where,
                f"row has more cells than the header's {len(reader.fieldnames)}",
            )
            continue
        yield (
            where,
            {k.strip(): _csv_value(k.strip(), v or "") for k, v in row.items() if v is not None},
        )


def log_batch(
    records: Iterable[tuple[str, Any]],
    *,
    drone: str | None,
    prefix: str,
    drones: Collection[str] | None = None,
) -> IngestBatch:
    """Turn log records into a batch, as if each had arrived on its MQTT topic.

    When ``drones`` is given, records of any other drone are kept as rejects.
    """
    batch = IngestBatch()
    for where, obj in records:
        rec_drone = drone
        if isinstance(obj, dict):
            rec_drone = obj.get("drone_id") or obj.get("drone") or drone
        items = obj if isinstance(obj, list) else [obj]
        kind = "mission" if isinstance(obj, dict) and "event" in obj else "telemetry"
        topic = f"{prefix}/drones/{rec_drone or '?'}/{kind} ({where})"
        src = batch.source(topic=topic, payload=_text(obj))
        if isinstance(obj, str):
            batch.reject(src, obj)
        elif not isinstance(rec_drone, str) or not rec_drone:
            batch.reject(src, "no drone: the record has no drone_id and none was given for the log")
        elif drones is not None and rec_drone not in drones:
            batch.reject(src, f"drone '{rec_drone}' is not one of your organisation's drones")
        elif kind == "mission":
            add_mission_event(batch, src=src, drone=rec_drone, payload=obj)
        else:
            add_telemetry(batch, src=src, drone=rec_drone, payload=items)
    return batch


def ingest_log(
    session: Session,
    *,
    data: bytes,
    name: str = "log",
    drone: str | None = None,
    prefix: str = "agri",
    drones: Collection[str] | None = None,
) -> BatchResult:
    """Feed a flight log through the ingest pipeline and commit; rejects are kept as usual."""
    batch = log_batch(parse_log(data, name=name), drone=drone, prefix=prefix, drones=drones)
    result = store_batch(session, batch=batch)
    session.commit()
    return result
