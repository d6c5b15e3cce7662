"""Validate: payloads in, contract objects out into a batch, each bad object a reject.

A telemetry payload is validated straight from its JSON bytes in one pass (the common
case: a whole array of good points), first by msgspec into :class:`Point` structs, the
fast road, then, if msgspec refuses anything, by the schema itself (pydantic), which
accepts the contract's leniencies. Only when that fails too is it decoded and checked
object by object against the schema, so that each bad point becomes a reject of its
own, holding that object and the reason, and the good ones are still kept.
"""

import re
from itertools import repeat
from operator import attrgetter
from typing import Any

import msgspec
import orjson
from pydantic import TypeAdapter, ValidationError

from traceability.ingest.batch import IngestBatch
from traceability.ingest.contract import (
    CODE_PATTERN,
    EARLIEST_FIX,
    MissionEndIn,
    MissionStartIn,
    Point,
    StatusIn,
    TelemetryIn,
    ahead_reason,
    describe,
    max_ahead,
    nan_hint,
)

POINTS = TypeAdapter(list[TelemetryIn])
POINT = TypeAdapter(TelemetryIn)
_STATUS = TypeAdapter(StatusIn)
_EVENTS = {"start": MissionStartIn, "end": MissionEndIn}
_FAST = msgspec.json.Decoder(list[Point] | Point)
# A time with a seventh decimal (digits, a colon, two digits, a point: only a time has
# that shape, inside a string): msgspec would round it where pydantic truncates.
_SUB_MICROSECOND = re.compile(rb":(?<=\d:)\d\d\.\d{7}")
_TS = attrgetter("ts")
_MISSION_ID = attrgetter("mission_id")


def add_telemetry(batch: IngestBatch, *, src: int, drone: str, payload: bytes | Any) -> int:
    """Validate a telemetry payload (one object or an array) into ``batch``; returns points added.

    ``payload`` is the raw JSON bytes (validated straight from JSON, the fast path) or an
    already decoded object.
    """
    if not isinstance(payload, bytes | bytearray):
        return _add_one_by_one(batch, src=src, drone=drone, payload=payload)
    points = _decode_fast(payload)
    if points is None:
        try:
            if payload.lstrip()[:1] == b"[":
                points = [Point.of(p) for p in POINTS.validate_json(payload)]
            else:
                points = [Point.of(POINT.validate_json(payload))]
        except ValidationError:
            try:
                decoded = orjson.loads(payload)
            except orjson.JSONDecodeError as exc:
                batch.reject(src, f"payload is not valid JSON{nan_hint(payload)}: {exc}")
                return 0
            return _add_one_by_one(batch, src=src, drone=drone, payload=decoded)
    if not points:
        batch.reject(src, "telemetry array is empty")
        return 0
    if max(map(_TS, points)) > batch.sources[src].received_at + max_ahead():
        return _add_checked(batch, src=src, drone=drone, points=points)
    batch.points.extend(zip(repeat(src), repeat(drone), points, strict=False))
    return len(points)


def _decode_fast(payload: bytes | bytearray) -> list[Point] | None:
    """The points of a payload msgspec finds valid, or None: the schema's road decides."""
    if not payload.isascii():
        try:
            # msgspec skips the keys it ignores without checking their UTF-8.
            payload.decode()
        except UnicodeDecodeError:
            return None
    if _SUB_MICROSECOND.search(payload):
        return None
    try:
        got = _FAST.decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    points = got if isinstance(got, list) else [got]
    if points and min(map(_TS, points)) < EARLIEST_FIX:
        return None
    if not all(map(CODE_PATTERN.search, set(map(_MISSION_ID, points)))):
        return None
    return points


def _add_checked(batch: IngestBatch, *, src: int, drone: str, points: list[Point]) -> int:
    """Add valid points one by one; one dated far ahead of its arrival is a reject."""
    received = batch.sources[src].received_at
    added = 0
    for i, point in enumerate(points):
        reason = ahead_reason(point.ts, received)
        if reason:
            where = f"telemetry point {i}: " if len(points) > 1 else ""
            batch.reject(src, f"{where}seq {point.seq}: {reason}", point.as_json())
            continue
        batch.points.append((src, drone, point))
        added += 1
    return added


def _add_one_by_one(batch: IngestBatch, *, src: int, drone: str, payload: Any) -> int:
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
            point = Point.of(POINT.validate_python(item))
        except ValidationError as exc:
            where = f"telemetry point {i}: " if isinstance(payload, list) else ""
            batch.reject(src, where + describe(exc), item)
            continue
        reason = ahead_reason(point.ts, batch.sources[src].received_at)
        if reason:
            where = f"telemetry point {i}: " if isinstance(payload, list) else ""
            batch.reject(src, f"{where}seq {point.seq}: {reason}", item)
            continue
        batch.points.append((src, drone, point))
        added += 1
    return added


def add_mission_event(batch: IngestBatch, *, src: int, drone: str, payload: Any) -> None:
    """Validate a mission start or end event into ``batch``."""
    if not isinstance(payload, dict):
        batch.reject(src, f"mission event must be a JSON object, got {type(payload).__name__}")
        return
    kind = payload.get("event")
    model = _EVENTS.get(kind) if isinstance(kind, str) else None
    if model is None:
        batch.reject(src, f'mission event must have "event": "start" or "end", got {kind!r}')
        return
    try:
        event = model.model_validate(payload)
    except ValidationError as exc:
        batch.reject(src, f"mission {kind} event: {describe(exc)}")
        return
    reason = ahead_reason(event.ts, batch.sources[src].received_at)
    if reason:
        batch.reject(src, f"mission {kind} event: {reason}")
        return
    batch.events.append((src, drone, event))


def add_status(batch: IngestBatch, *, src: int, drone: str, payload: Any) -> None:
    """Validate a status (online / last will) message into ``batch``."""
    try:
        status = _STATUS.validate_python(payload)
    except ValidationError as exc:
        batch.reject(src, f"status: {describe(exc)}")
        return
    reason = status.ts and ahead_reason(status.ts, batch.sources[src].received_at)
    if reason:
        batch.reject(src, f"status: {reason}")
        return
    batch.statuses.append((src, drone, status))
