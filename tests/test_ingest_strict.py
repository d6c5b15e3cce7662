"""What a drone sends is taken at its word only when it keeps the contract's types and times.

Re-sent points with other content, coerced types, implausible clocks, text in two
Unicode forms and flight logs with one bad row: each is kept or refused, never guessed.
"""

import unicodedata
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import select

from drone_ingest import handlers
from drone_ingest.handlers import Message
from drone_ingest.metrics import reason_kind
from tests.mqtt import count_points, start_event, stream
from traceability.ingest import logs
from traceability.models import IngestReject, Mission, TelemetryPoint

P = "agri"


def msg(kind: str, payload, drone: str = "D1", received_at: datetime | None = None) -> Message:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    extra = {"received_at": received_at} if received_at else {}
    return Message(topic=f"{P}/drones/{drone}/{kind}", payload=raw, qos=1, mid=1, **extra)


def store(session, *messages: Message):
    return handlers.store(session, messages, prefix=P, max_bytes=1_000_000)


def reasons(session) -> list[str]:
    session.expire_all()
    return list(session.exec(select(IngestReject.reason).order_by(IngestReject.id)).scalars())


@pytest.fixture
def drone(factory):
    return factory.drone(code="D1", swath_m=10.0)


# ---------------------------------------------------------------- conflicting duplicates


def test_a_resent_point_with_other_content_is_a_conflicting_duplicate(session, db, drone):
    points = stream(4, mission_id="M1")
    first = store(session, msg("telemetry", points))
    assert (first.stored, first.duplicates, first.rejected) == (4, 0, 0)

    moved = points[1] | {"lat": 9.5}  # same (drone, seq), another place
    later = points[2] | {"ts": "2026-03-01T09:00:00+07:00"}  # same (drone, seq), another time
    again = store(session, msg("telemetry", [points[0], moved, later, points[3]]))
    # Two identical re-sends stay silent duplicates; the two others are conflicts.
    assert (again.stored, again.duplicates, again.rejected, again.conflicts) == (0, 2, 2, 2)
    kept = reasons(session)
    assert len(kept) == 2 and all(r.startswith("conflicting duplicate") for r in kept)
    assert "seq 1" in kept[0] and "lat" in kept[0]
    assert "seq 2" in kept[1] and "ts" in kept[1]
    # What was stored first stays, unchanged.
    session.expire_all()
    row = session.exec(select(TelemetryPoint).where(TelemetryPoint.seq == 1)).scalar_one()
    assert row.lat == points[1]["lat"]
    assert count_points(db) == (4, 4)
    session.expire_all()
    m = session.exec(select(Mission).where(Mission.mission_id == "M1")).scalar_one()
    assert m.point_count == 4


def test_a_conflict_inside_one_message_is_kept_too(session, db, drone):
    (point,) = stream(1, mission_id="M2")
    result = store(session, msg("telemetry", [point, point, point | {"lon": 105.9}]))
    assert (result.stored, result.duplicates, result.rejected, result.conflicts) == (1, 1, 1, 1)
    assert reasons(session)[0].startswith("conflicting duplicate")


def test_an_identical_redelivery_stays_silent(session, db, drone):
    points = stream(50, mission_id="M3")
    store(session, msg("telemetry", points))
    result = store(session, msg("telemetry", points))
    assert (result.stored, result.duplicates, result.rejected, result.conflicts) == (0, 50, 0, 0)
    assert reasons(session) == []


def test_a_redelivered_bad_message_is_kept_once(session, drone):
    # An ingester stopped between its commit and the acknowledgement gets the message
    # again, flagged as a redelivery: its reject is not stored a second time.
    bad = b'{"seq": 1\x00, "lat": 9.2}'
    first = store(session, msg("telemetry", bad))
    again = store(session, replace(msg("telemetry", bad), redelivered=True))
    assert (first.rejected, again.rejected) == (1, 0)
    assert len(reasons(session)) == 1
    # The same bad payload sent anew (not a redelivery) is a reject of its own.
    assert store(session, msg("telemetry", bad)).rejected == 1
    # A redelivery of a message whose reject is not stored yet is kept.
    other = replace(msg("telemetry", b"[1, 2"), redelivered=True)
    assert store(session, other).rejected == 1
    kept = reasons(session)
    assert len(kept) == 3 and all("JSON" in r for r in kept)


# ---------------------------------------------------------------- strict types


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"seq": True}, "seq", "integer"),
        ({"seq": 3.0}, "seq", "integer"),
        ({"seq": "3"}, "seq", "integer"),
        ({"lat": True}, "lat", "number"),
        ({"lat": "9.2"}, "lat", "number"),
        ({"lon": "105.4"}, "lon", "number"),
        ({"ts": 1772326800}, "ts", "RFC 3339"),
        ({"ts": 1772326800.5}, "ts", "RFC 3339"),
        ({"ts": True}, "ts", "RFC 3339"),
        ({"ts": "1772326800"}, "ts", "RFC 3339"),
    ],
)
def test_coercible_values_are_rejects_naming_the_type(session, drone, change, field, words):
    (point,) = stream(1, mission_id="M4")
    for payload in (point | change, [point | change]):  # one object, and an array
        result = store(session, msg("telemetry", payload))
        assert (result.stored, result.rejected) == (0, 1)
    for reason in reasons(session):
        assert field in reason and words in reason, reason


def test_strict_types_in_mission_events_and_status(session, drone):
    bad_start = start_event("M5") | {"ts": 1772326800}
    bad_status = {"online": True, "ts": 1772326800}
    result = store(session, msg("mission", bad_start), msg("status", bad_status))
    assert result.rejected == 2
    assert all("RFC 3339" in r for r in reasons(session))


# ---------------------------------------------------------------- implausible times


@pytest.mark.parametrize(
    ("ts", "words"),
    [
        ("0001-01-01T00:00:00+07:00", "before 2015-01-01"),
        ("2014-12-31T23:59:59Z", "before 2015-01-01"),
        ("9999-12-31T23:59:59+00:00", "ahead of its arrival"),
    ],
)
def test_implausible_point_times_are_rejects(session, drone, ts, words):
    points = stream(3, mission_id="M6")
    points[1]["ts"] = ts
    result = store(session, msg("telemetry", points))
    assert (result.stored, result.rejected) == (2, 1)
    (reason,) = reasons(session)
    assert "ts" in reason and words in reason
    assert "seq" not in reason or "1" in reason


def test_a_point_more_than_a_day_ahead_of_its_arrival_is_a_reject(session, drone):
    arrived = datetime(2026, 3, 1, tzinfo=UTC)
    ok = (arrived + timedelta(hours=23)).isoformat()
    ahead = (arrived + timedelta(hours=25)).isoformat()
    points = stream(2, mission_id="M7")
    points[0]["ts"], points[1]["ts"] = ok, ahead
    result = store(session, msg("telemetry", points, received_at=arrived))
    assert (result.stored, result.rejected) == (1, 1)
    assert "24 h ahead of its arrival" in reasons(session)[0]
    late_start = start_event("M7") | {"ts": ahead}
    result = store(session, msg("mission", late_start, received_at=arrived))
    assert result.rejected == 1 and "ahead of its arrival" in reasons(session)[-1]


# ---------------------------------------------------------------- unicode


def test_mission_text_is_stored_in_nfc(session, drone):
    name = "Nguyễn Văn Đức"
    nfd = unicodedata.normalize("NFD", name)
    assert nfd != name
    store(session, msg("mission", start_event("M8") | {"operator_id": nfd}))
    session.expire_all()
    m = session.exec(select(Mission).where(Mission.mission_id == "M8")).scalar_one()
    assert m.operator_id == name


# ---------------------------------------------------------------- flight logs


def _csv(points: list[dict]) -> bytes:
    header = "drone_id,mission_id,seq,ts,lat,lon,spraying\n"
    cells = "D1,{mission_id},{seq},{ts},{lat},{lon},false"
    rows = [cells.format(**p) for p in points]
    return (header + "\n".join(rows) + "\n").encode()


def test_a_flight_log_with_a_nul_byte_keeps_every_other_row(session, db, drone):
    points = stream(5, mission_id="LOG-NUL")
    data = _csv(points)
    lines = data.split(b"\n")
    lines[3] = lines[3].replace(b",false", b",fal\x00se")  # the row of seq 2
    result = logs.ingest_log(session, data=b"\n".join(lines), name="flight.csv")
    assert (result.stored, result.rejected) == (4, 1)
    (reason,) = reasons(session)
    assert "NUL" in reason
    assert count_points(db) == (4, 4)


def test_a_flight_log_with_one_bad_row_keeps_the_rest(session, db, drone):
    points = stream(5, mission_id="LOG-BAD")
    lines = _csv(points).split(b"\n")
    lines[2] = b"\xff\xfe not utf-8 at all"  # the row of seq 1
    lines[4] = lines[4].replace(b"9.23", b"north")  # the row of seq 3
    result = logs.ingest_log(session, data=b"\n".join(lines), name="flight.csv")
    assert (result.stored, result.rejected) == (3, 2)
    kept = reasons(session)
    assert any("UTF-8" in r for r in kept) and any("lat" in r for r in kept)
    assert count_points(db) == (3, 3)


def test_a_flight_log_in_nfd_is_stored_in_nfc(session, drone):
    name = "Trần Thị Hồng"
    line = orjson.dumps(start_event("LOG-NFD") | {"operator_id": name})
    data = unicodedata.normalize("NFD", line.decode()).encode()
    logs.ingest_log(session, data=data, name="flight.jsonl", drone="D1")
    session.expire_all()
    m = session.exec(select(Mission).where(Mission.mission_id == "LOG-NFD")).scalar_one()
    assert m.operator_id == name


# ---------------------------------------------------------------- text the database could differ on


@pytest.mark.parametrize(
    ("operator", "words"),
    [
        ("PILOT\x00007", "control characters"),
        ("PILOT-\u202e700", "bidirectional"),
        ("\u200b", "visible character"),
    ],
)
def test_a_mission_operator_the_backends_could_differ_on_is_a_reject_naming_it(
    session, db, drone, operator, words
):
    """SQLite stored a NUL that PostgreSQL refused, with a reason quoting the INSERT."""
    result = store(session, msg("mission", start_event("M-NUL") | {"operator_id": operator}))
    assert (result.rejected, result.events) == (1, 0)
    (reason,) = reasons(session)
    assert "operator_id: " in reason and words in reason, reason
    assert "INSERT" not in reason and "SQL" not in reason
    assert session.exec(select(Mission)).first() is None


def test_a_flight_log_with_a_nul_operator_keeps_its_points(session, db, drone):
    """The JSON escape \\u0000 is no NUL byte in the file: it used to cost the whole log."""
    points = stream(3, mission_id="LOG-OP")
    start = orjson.dumps(start_event("LOG-OP") | {"operator_id": "P\x00"})
    assert b"\\u0000" in start and b"\x00" not in start
    data = b"\n".join([start, *map(orjson.dumps, points)])
    result = logs.ingest_log(session, data=data, name="flight.jsonl", drone="D1")
    assert (result.stored, result.rejected) == (3, 1)
    assert "operator_id" in reasons(session)[0]
    assert count_points(db) == (3, 3)


def test_a_message_the_database_refuses_is_kept_without_the_statement():
    from sqlalchemy.exc import DataError

    from drone_ingest.client import _not_stored

    orig = ValueError("value too long for type character varying(64)\nDETAIL: more")
    exc = DataError("INSERT INTO missions (mission_id) VALUES (%(m)s)", {"m": "x" * 99}, orig)
    reason = _not_stored(exc)
    assert reason == (
        "could not be stored: ValueError: value too long for type character varying(64)"
    )


@pytest.mark.parametrize(
    ("drone", "words"),
    [("D\x00", "control characters"), ("D\x01", "control characters"), ("D\u202e1", "bidi")],
)
def test_a_topic_naming_a_drone_with_a_control_character_is_a_reject_naming_it(
    session, db, drone, words
):
    result = store(session, msg("telemetry", stream(1, mission_id="M-T"), drone=drone))
    assert result.rejected == 1
    (reason,) = reasons(session)
    assert reason.startswith("drone_id in the topic must not contain") and words in reason
    assert reason_kind(reason) == "topic"
