"""Flight logs: records kept on a drone out of coverage, uploaded later through the pipeline.

Other fleets' records (MAVLink logs, TaskData, vendors' CSV and KML/GeoJSON tracks) are
translated by the adapters in :mod:`traceability.ingest.sources` first.

A log is CSV (a header row naming the telemetry keys; ``drone_id`` and ``event`` columns
are optional) or JSON lines (one telemetry object, an array of them, or a mission event
per line). Each record is validated and stored exactly as if it had arrived on its MQTT
topic: repeats of points already received live are no-ops, bad records are kept as
rejects. ``POST /api/v1/ingest/logs`` and ``agritrace ingest-log`` both run
:func:`ingest_log`.
"""

import bisect
import csv
import io
import math
import unicodedata
from collections import Counter
from collections.abc import Collection, Iterable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
from sqlalchemy import func, select
from sqlmodel import Session

from traceability.config import get_settings
from traceability.errors import InvalidInput
from traceability.ingest.batch import IngestBatch
from traceability.ingest.contract import drone_id_problem
from traceability.ingest.rejects import kept_text
from traceability.ingest.sources import Device, Translation
from traceability.ingest.store import BatchResult, store_batch
from traceability.ingest.validate import add_mission_event, add_telemetry
from traceability.models import Drone, Mission, MissionSource, MissionStatus, TelemetryPoint
from traceability.services import missions

if TYPE_CHECKING:
    from traceability.ingest.sources.tracks import TrackOptions

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

    >>> list(parse_log(b"mission_id,seq,spraying\\nM1,3,yes\\n", name="f.csv"))
    [('f.csv:2', {'mission_id': 'M1', 'seq': 3, 'spraying': True})]
    """
    if len(data) > LOG_MAX_BYTES:
        raise InvalidInput(f"log '{name}' is {len(data):,} bytes, more than {LOG_MAX_BYTES:,}")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    head = data.lstrip()[:1]
    if name.lower().endswith((".jsonl", ".ndjson", ".json")) or head in (b"{", b"["):
        yield from _json_lines(data, name=name)
    else:
        yield from _csv_rows(data, name=name)


def _json_lines(data: bytes, *, name: str) -> Iterator[tuple[str, Any]]:
    """Each non-empty line as a JSON value, or the reason it is not one."""
    for n, line in enumerate(data.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{name}:{n}"
        try:
            yield where, orjson.loads(line)
        except orjson.JSONDecodeError as exc:
            yield where, f"line is not valid JSON: {exc}"


class Unreadable(NamedTuple):
    """A record that cannot be read: why, and its text as it is kept with the reject."""

    reason: str
    text: str


def _row_problem(row: dict) -> str | None:
    """Why a CSV row's cells cannot be taken as sent, or None."""
    cells = "".join(v for v in row.values() if isinstance(v, str))
    if "\x00" in cells:
        return "row holds a NUL byte"
    if any("\udc80" <= c <= "\udcff" for c in cells):
        # Bytes that are not UTF-8 were carried through as lone surrogates.
        return "row is not UTF-8 text"
    return None


def _csv_rows(data: bytes, *, name: str) -> Iterator[tuple[str, Any]]:
    """Each CSV row as an object keyed by the header, or the reason it cannot be one.

    One row that is not UTF-8 or holds a NUL byte is a reject of its own; the rest go on.
    """
    text = unicodedata.normalize("NFC", data.decode("utf-8", errors="surrogateescape"))
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip() for f in reader.fieldnames or ()]
    if "mission_id" not in fields or _row_problem(dict(enumerate(fields))):
        raise InvalidInput(f"CSV log '{name}' needs a UTF-8 header row with at least mission_id")
    for row in reader:
        where = f"{name}:{reader.line_num}"
        if None in row:
            yield where, f"row has more cells than the header's {len(reader.fieldnames)}"
            continue
        problem = _row_problem(row)
        if problem:
            raw = ",".join(v or "" for v in row.values())
            shown = raw.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            yield where, Unreadable(problem, shown.replace("\x00", "\\u0000"))
            continue
        yield (
            where,
            {k.strip(): _csv_value(k.strip(), v or "") for k, v in row.items() if v is not None},
        )


def _kept(obj: Any) -> str:
    return obj.text if isinstance(obj, Unreadable) else kept_text(obj)


def log_batch(
    records: Iterable[tuple[str, Any]],
    *,
    drone: str | None,
    prefix: str,
    drones: Collection[str] | None = None,
    origin: MissionSource = MissionSource.contract,
) -> IngestBatch:
    """Turn log records into a batch, as if each had arrived on its MQTT topic.

    When ``drones`` is given, records of any other drone are kept as rejects; ``origin``
    is the source of the missions the batch creates.
    """
    batch = IngestBatch(origin=origin)
    for where, obj in records:
        rec_drone = drone
        if isinstance(obj, dict):
            rec_drone = obj.get("drone_id") or obj.get("drone") or drone
        items = obj if isinstance(obj, list) else [obj]
        kind = "mission" if isinstance(obj, dict) and "event" in obj else "telemetry"
        topic = f"{prefix}/drones/{rec_drone or '?'}/{kind} ({where})"
        src = batch.source(topic=topic, payload=_kept(obj))
        if isinstance(obj, Unreadable):
            batch.reject(src, obj.reason)
        elif isinstance(obj, str):
            batch.reject(src, obj)
        elif not isinstance(rec_drone, str) or not rec_drone:
            batch.reject(src, "no drone: the record has no drone_id and none was given for the log")
        elif problem := drone_id_problem(rec_drone):
            batch.reject(src, problem)
        elif drones is not None and rec_drone not in drones:
            batch.reject(src, f"drone '{rec_drone}' is not one of your organisation's drones")
        elif kind == "mission":
            add_mission_event(batch, src=src, drone=rec_drone, payload=obj)
        else:
            add_telemetry(batch, src=src, drone=rec_drone, payload=items)
    return batch


def read_log(
    data: bytes,
    *,
    name: str = "log",
    drone: str | None = None,
    columns: str | None = None,
    pump_lpm: float | None = None,
    track: "TrackOptions | None" = None,
) -> Translation:
    """A log's records in the contract: agritrace's own CSV or JSON lines as they are, a
    MAVLink log, a TaskData zip, a mapped vendor CSV or a KML/GeoJSON track through its
    adapter.

    ``pump_lpm``: a MAVLink sprayer's pump flow at full output (each fix's flow);
    ``track``: what a KML or GeoJSON track does not say (product, rate, swath).
    """
    from traceability.ingest.sources import choose

    translated = choose.translate(
        data, name=name, drone=drone, columns=columns, pump_lpm=pump_lpm, track=track
    )
    if translated is not None:
        return translated
    return Translation(origin=MissionSource.contract, records=list(parse_log(data, name=name)))


def ingest_log(
    session: Session,
    *,
    data: bytes,
    name: str = "log",
    drone: str | None = None,
    prefix: str | None = None,
    drones: Collection[str] | None = None,
    columns: str | None = None,
    track: "TrackOptions | None" = None,
) -> BatchResult:
    """Store a log's records and commit, then measure the completed missions it changed.

    ``prefix`` names the topics of its rejects (default: the configured topic prefix);
    ``columns`` maps a vendor's CSV columns to the contract's keys (see
    :mod:`~traceability.ingest.sources.columns`); ``track`` completes a KML or GeoJSON
    track (:mod:`~traceability.ingest.sources.tracks`).
    """
    translation = read_log(data, name=name, drone=drone, columns=columns, track=track)
    return ingest_translation(
        session, translation=translation, drone=drone, prefix=prefix, drones=drones
    )


def ingest_translation(
    session: Session,
    *,
    translation: Translation,
    drone: str | None = None,
    prefix: str | None = None,
    drones: Collection[str] | None = None,
) -> BatchResult:
    """Store translated records through the pipeline and commit, then measure.

    The machines a translation names that are not registered yet become drones, unless
    ``drones`` limits the records to an organisation's own (an operator does not register
    drones by uploading a log: those records are rejects naming the drone).
    """
    prefix = get_settings().topic_prefix if prefix is None else prefix
    if drones is None and translation.devices:
        _register(session, translation.devices)
    records, again = translation.records, 0
    if translation.origin is not MissionSource.contract:
        records, again = _other_recorders(session, records)
    batch = log_batch(records, drone=drone, prefix=prefix, drones=drones, origin=translation.origin)
    result = store_batch(session, batch=batch)
    result.duplicates += again
    session.commit()
    changed = sorted(result.ended | result.late)
    if changed:
        missions.measure_dirty(session, mission_ids=changed, limit=len(changed))
    return result


#: Stored fixes of a flight at most twice this apart leave no gap: a second recorder's
#: fix between them (the autopilot's dataflash log after the ground station's ``.tlog``
#: or the live link) is that flight's position again, not a new fix.
SAME_FLIGHT_S = 1.0


def _other_recorders(session: Session, records: list) -> tuple[list, int]:
    """An adapter's records less what a flight already stored from another recorder holds.

    Two recorders of one flight (a ground station's ``.tlog``, the autopilot's dataflash
    ``.bin``, a live link) log their fixes at their own instants: the fused position at
    the stream's rate, the receiver's fixes at its own. So the same flight read from the
    second one would be keyed apart, and its first fix may even fall in another second
    (another mission id). A translated mission whose time overlaps a stored mission of
    the same drone is taken as that flight: its fixes that the stored track already
    holds (:func:`_known`) are counted as already known, the others (where the first
    record had a gap, or beyond its ends) join the stored mission, whose start time and
    end stay as they were. Returns the records kept and how many fixes were known.
    """
    stored = _stored_flights(session, _spans(records))
    if not stored:
        return records, 0
    kept, known = [], 0
    for where, obj in records:
        mission = obj.get("mission_id") if isinstance(obj, dict) else None
        if mission not in stored:
            kept.append((where, obj))
            continue
        other, started, complete, times = stored[mission]
        if obj.get("event") == "end" and complete:
            continue
        if obj.get("event") == "start" and started is not None:
            # What it says of the flight is taken (a sprayer's state the other record
            # could not know), its start time is the stored one's.
            obj = {**obj, "ts": started.isoformat()}
        if "seq" in obj and (ts := _fix_time(obj)) is not None and _known(times, ts):
            known += 1
            continue
        kept.append((where, {**obj, "mission_id": other}))
    return kept, known


def _spans(records: list) -> dict[tuple[str, str], list[datetime]]:
    """``(drone, mission)`` of the translated fixes, with their first and last time."""
    spans: dict[tuple[str, str], list[datetime]] = {}
    for _, obj in records:
        if isinstance(obj, dict) and "seq" in obj and obj.get("mission_id") and obj.get("drone_id"):
            ts = _fix_time(obj)
            if ts is None:
                continue  # validation names the problem
            span = spans.setdefault((obj["drone_id"], obj["mission_id"]), [ts, ts])
            span[0], span[1] = min(span[0], ts), max(span[1], ts)
    return spans


def _stored_flights(
    session: Session, spans: dict[tuple[str, str], list[datetime]]
) -> dict[str, tuple[str, datetime | None, bool, list[datetime]]]:
    """For each translated mission that is a flight stored already: the stored mission's
    id, its start event's time (None without one), whether it has ended, and its fixes'
    times near the span."""
    stored = {}
    margin = timedelta(seconds=SAME_FLIGHT_S)
    t = TelemetryPoint.__table__.c
    for (drone_code, mission), (first, last) in spans.items():
        found = _stored_flight(session, drone=drone_code, first=first, last=last)
        if found is None:
            continue
        other, started, complete = found
        times = session.execute(
            select(t.ts)
            .where(t.mission_id == other, t.ts >= first - margin, t.ts <= last + margin)
            .order_by(t.ts)
        ).scalars()
        stored[mission] = (other, started, complete, list(times))
    return stored


def _stored_flight(
    session: Session, *, drone: str, first: datetime, last: datetime
) -> tuple[str, datetime | None, bool] | None:
    """The stored mission of ``drone`` whose fixes span overlaps ``first``-``last``: its
    id, its start event's time (None without one) and whether it is complete."""
    begins = func.coalesce(Mission.first_fix_at, Mission.started_at)
    # Fix times only: an open mission's last point's arrival is no time of its flight.
    ends = func.coalesce(Mission.last_fix_at, Mission.ended_at)
    row = session.execute(
        select(Mission.mission_id, Mission.type, Mission.started_at, Mission.status)
        .where(Mission.drone_code == drone, begins <= last, ends >= first)
        .order_by(begins)
        .limit(1)
    ).first()
    if row is None:
        return None
    # A mission gets its type from its start event only.
    started = row.started_at if row.type is not None else None
    return row.mission_id, started, row.status == MissionStatus.complete


def _fix_time(obj: dict) -> datetime | None:
    try:
        ts = datetime.fromisoformat(obj["ts"])
    except (KeyError, TypeError, ValueError):
        return None
    return ts if ts.tzinfo is not None else None


def _known(times: list[datetime], ts: datetime) -> bool:
    """Whether the stored fixes ``times`` (sorted) already hold the flight at ``ts``.

    Between two stored fixes at most 2 x :data:`SAME_FLIGHT_S` apart, the stored track
    holds it. Beyond its ends and at the edges of its gaps, the nearest stored fix holds
    it when no more than half the stored fixes' own spacing there away: the other
    recorder's fix of the same instant, not one the stored record lacks.
    """
    i = bisect.bisect_left(times, ts)
    before = times[i - 1] if i > 0 else None
    after = times[i] if i < len(times) else None
    if after == ts:
        return True
    gap = timedelta(seconds=2 * SAME_FLIGHT_S)
    if before is not None and after is not None and after - before <= gap:
        return True
    for j, near in ((i - 1, before), (i, after)):
        if near is None or abs(near - ts) > gap / 2:
            continue
        # The stored spacing at ``near``, on its side away from ``ts``.
        k = j - 1 if near < ts else j + 1
        if 0 <= k < len(times) and abs(near - ts) <= abs(times[k] - near) / 2:
            return True
    return False


def _register(session: Session, devices: Iterable[Device]) -> None:
    """Register the machines not yet known as drones (their code, model and width)."""
    wanted = {d.code: d for d in devices}
    known = set(session.execute(select(Drone.code).where(Drone.code.in_(sorted(wanted)))).scalars())
    for code in sorted(wanted.keys() - known):
        d = wanted[code]
        session.add(Drone(code=code, model=d.model, swath_m=d.swath_m))
    session.flush()


def ingest_log_file(
    path: str | Path,
    *,
    drone: str | None = None,
    columns: str | None = None,
    pump_lpm: float | None = None,
    track: "TrackOptions | None" = None,
    engine=None,
) -> BatchResult:
    """What ``agritrace ingest-log FILE`` runs: read, store, measure, print a summary.

    ``path`` may also be a TaskData folder (or its ``TASKDATA.XML``).
    """
    from traceability.db import get_engine, migrate
    from traceability.ingest.sources import isoxml

    path = Path(path)
    if engine is None:
        engine = get_engine()
        migrate(engine)
    if path.is_dir() or path.name.upper() == "TASKDATA.XML":
        translation = isoxml.read_taskdata(isoxml.taskdata_files(path), drone=drone)
    else:
        translation = read_log(
            path.read_bytes(),
            name=path.name,
            drone=drone,
            columns=columns,
            pump_lpm=pump_lpm,
            track=track,
        )
    with Session(engine) as session:
        result = ingest_translation(session, translation=translation, drone=drone)
    print(
        f"{path.name} ({translation.origin.value}): {result.stored} points stored, "
        f"{result.duplicates} already known, {result.events} events, {result.rejected} rejected "
        f"({result.conflicts} conflicting duplicates; see GET /api/v1/ingest/rejects)"
    )
    for reason, n in Counter(r.reason for r in result.refused).most_common(10):
        print(f"  not read ({n}): {reason}")
    return result
