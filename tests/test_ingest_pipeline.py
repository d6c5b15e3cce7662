"""The ingest pipeline without a broker: messages in, points and missions stored, rejects kept."""

import json
import math
import sqlite3
import threading
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import func, select
from sqlmodel import Session

from drone_ingest import handlers
from drone_ingest.handlers import Message
from tests.mqtt import T0, count_points, end_event, lawnmower, start_event, stream
from traceability.db import make_engine, migrate
from traceability.ingest import logs, points
from traceability.ingest import points as points_module
from traceability.ingest.contract import BadMessage, parse_topic
from traceability.ingest.rejects import MAX_KEPT_PAYLOAD
from traceability.ingest.store import store_batch
from traceability.models import Drone, IngestReject, Mission, MissionStatus, TelemetryPoint

P = "agri"


def msg(kind: str, payload, drone: str = "D1", prefix: str = P) -> Message:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return Message(topic=f"{prefix}/drones/{drone}/{kind}", payload=raw, qos=1, mid=1)


def store(session: Session, *messages: Message, max_bytes: int = 1_000_000):
    return handlers.store(session, messages, prefix=P, max_bytes=max_bytes)


def rejects(session: Session) -> list[IngestReject]:
    return list(session.exec(select(IngestReject).order_by(IngestReject.id)).scalars())


def mission(session: Session, mission_id: str) -> Mission:
    session.expire_all()
    return session.exec(select(Mission).where(Mission.mission_id == mission_id)).scalar_one()


@pytest.fixture
def drone(factory):
    return factory.drone(code="D1", swath_m=10.0)


def test_topic_parsing():
    assert parse_topic("agri/drones/BL-1/telemetry", prefix="agri").drone_id == "BL-1"
    assert parse_topic("a/b/drones/X/status", prefix="a/b").kind == "status"
    for bad in (
        "agri/drones/X/weather",
        "agri/X/telemetry",
        "other/drones/X/telemetry",
        "agri/drones//mission",
        "agri/drones/X/telemetry/extra",
    ):
        with pytest.raises(BadMessage):
            parse_topic(bad, prefix="agri")


def test_a_topic_is_parsed_once_and_a_bad_one_refused_every_time():
    handlers._topic.cache_clear()
    m = Message(topic="agri/drones/BL-1/telemetry", payload=b"[]")
    for _ in range(3):
        handlers.collect(batch := handlers.IngestBatch(), m, prefix="agri", max_bytes=1000)
    assert handlers._topic.cache_info()[:2] == (2, 1)  # hits, misses
    assert handlers._topic("agri/drones/BL-1/telemetry", "agri") == parse_topic(
        "agri/drones/BL-1/telemetry", prefix="agri"
    )
    for _ in range(2):
        batch = handlers.IngestBatch()
        handlers.collect(
            batch,
            Message(topic="agri/drones/X/weather", payload=b"{}"),
            prefix="agri",
            max_bytes=1000,
        )
        assert "unknown topic kind 'weather'" in batch.rejects[0].reason
    # The same drone's topic under another prefix is outside the contract there.
    batch = handlers.IngestBatch()
    handlers.collect(batch, m, prefix="other", max_bytes=1000)
    assert "outside the contract" in batch.rejects[0].reason


def test_a_message_built_field_by_field_is_the_dataclasss_own():
    from dataclasses import FrozenInstanceError, astuple, fields

    values = (
        "agri/drones/D1/telemetry",
        b"[]",
        1,
        7,
        True,
        3,
        datetime(2026, 1, 1, tzinfo=UTC),
        True,
    )
    assert len(values) == len(fields(Message))
    built = handlers.message_of(*values)
    assert built == Message(*values) and astuple(built) == values
    with pytest.raises(FrozenInstanceError):
        built.mid = 8
    with pytest.raises(ValueError):
        handlers.message_of(*values[:-1])  # every field, or none built


def test_points_stored_once_and_counted(session, drone, db):
    points = stream(120, mission_id="M1")
    result = store(
        session,
        msg("telemetry", points[:70]),
        msg("telemetry", points[50:]),
        msg("telemetry", points[0]),
    )
    assert (result.stored, result.duplicates, result.rejected) == (120, 21, 0)
    # A later batch repeating everything stores nothing.
    again = store(session, msg("telemetry", points))
    assert (again.stored, again.duplicates) == (0, 120)
    assert count_points(db, "D1") == (120, 120)
    m = mission(session, "M1")
    assert m.point_count == 120
    assert m.status is MissionStatus.open and m.drone_code == "D1"
    assert m.started_at.isoformat() == points[0]["ts"].replace("+00:00", "+00:00")


@pytest.mark.parametrize("gap", [1, 100_000], ids=["consecutive", "far apart"])
def test_a_batch_finds_its_stored_points_however_far_apart_their_seqs(session, drone, db, gap):
    # The look-up of stored keys scans a range when a drone's seqs are close together,
    # and asks for each seq when they are not: both must find exactly the stored ones.
    points = stream(12, mission_id="M1")
    for i, p in enumerate(points):
        p["seq"] = i * gap
    assert store(session, msg("telemetry", points[::3])).stored == 4
    again = store(session, msg("telemetry", points))
    assert (again.stored, again.duplicates, again.rejected) == (8, 4, 0)
    assert count_points(db, "D1") == (12, 12)
    assert mission(session, "M1").point_count == 12


def test_a_batch_of_2781_points_stores_each_of_them_as_sent(session, factory, db):
    # SQLite inserts a batch in statements of 256 rows, then of fewer (a power of two):
    # 2,781 = 10 * 256 + 128 + 64 + 16 + 8 + 4 + 1. Every row must land with its own
    # values, none twice, none shifted into its neighbour's columns.
    assert points_module.SQLITE_ROWS == 256
    factory.drone(code="D1", swath_m=10.0)
    factory.drone(code="D2", swath_m=10.0)
    sent = {"D1": stream(2000, mission_id="M1"), "D2": stream(781, mission_id="M2", seq0=7)}
    for i, p in enumerate(sent["D2"]):
        p.update(lat=10.5 - i * 1e-5, lon=105.7 + i * 2e-5, alt_m=float(i % 7), spraying=i % 2 == 1)
    result = store(session, msg("telemetry", sent["D1"]), msg("telemetry", sent["D2"], "D2"))
    assert (result.stored, result.duplicates, result.rejected) == (2781, 0, 0)
    with db.connect() as c:
        got = {(r.drone_code, r.seq): r for r in c.execute(select(TelemetryPoint)).all()}
    assert len(got) == 2781
    for drone, pts in sent.items():
        for p in pts:
            row = got[(drone, p["seq"])]
            assert row.mission_id == p["mission_id"]
            ts = row.ts if row.ts.tzinfo else row.ts.replace(tzinfo=UTC)
            assert ts == datetime.fromisoformat(p["ts"])
            assert (row.lat, row.lon, row.spraying) == (p["lat"], p["lon"], p["spraying"])
            assert row.alt_m == p.get("alt_m")


def test_a_batch_of_many_drones_moves_each_mission_by_its_own_points(session, factory):
    # 30 drones, each its own mission, in one batch (a fleet's traffic). Each mission's count
    # must move by its own new points and its start by its own earliest fix: on PostgreSQL
    # the batch's missions are looked up and moved together, by arrays that pair them up.
    n = 30
    for i in range(n):
        factory.drone(code=f"F{i:02d}", swath_m=6.0)

    def points(i: int, *, seq0: int, after_s: int) -> list[dict]:
        pts = stream(i + 1, mission_id=f"FM{i:02d}", seq0=seq0)
        for k, p in enumerate(pts):
            p["ts"] = (T0 + timedelta(seconds=after_s + k)).isoformat()
        return pts

    first = store(
        session, *(msg("telemetry", points(i, seq0=100, after_s=10), f"F{i:02d}") for i in range(n))
    )
    assert first.stored == sum(range(1, n + 1)) == 465
    # FM00 gets its start event (at T0 + 5 s): from then on its start is the event's.
    store(
        session,
        msg("mission", start_event("FM00", ts=(T0 + timedelta(seconds=5)).isoformat()), "F00"),
    )
    # Then the even drones send earlier points (seq 0.., from T0), the odd ones repeat theirs
    # (1 + 3 + ... + 29 = 225 new points, 2 + 4 + ... + 30 = 240 repeated).
    second = store(
        session,
        *(
            msg(
                "telemetry",
                points(i, seq0=0, after_s=0) if i % 2 == 0 else points(i, seq0=100, after_s=10),
                f"F{i:02d}",
            )
            for i in range(n)
        ),
    )
    assert second.stored == sum(i + 1 for i in range(0, n, 2)) == 225
    assert second.duplicates == sum(i + 1 for i in range(1, n, 2)) == 240
    for i in range(n):
        m = mission(session, f"FM{i:02d}")
        assert m.drone_code == f"F{i:02d}"
        assert m.point_count == (i + 1) * (2 if i % 2 == 0 else 1), i
        start = 5 if i == 0 else 0 if i % 2 == 0 else 10
        assert m.started_at == T0 + timedelta(seconds=start), i


def test_starts_and_ends_of_many_missions_in_one_batch_each_fill_their_own(session, factory):
    # Three missions created by their points, then one batch with a start event for each
    # (each different, in an order other than the missions') and end events for two:
    # the events of a batch are written together, and each must land on its own mission.
    factory.input(code="PX")
    for d in ("E1", "E2", "E3"):
        factory.drone(code=d, swath_m=6.0)
    store(
        session, *(msg("telemetry", stream(2, mission_id=f"EM-{d}"), d) for d in ("E1", "E2", "E3"))
    )
    at = lambda s: (T0 + timedelta(seconds=s)).isoformat()  # noqa: E731
    r = store(
        session,
        msg(
            "mission",
            start_event("EM-E3", ts=at(3), type="fertilize", swath_m=4.5, source="mavlink"),
            "E3",
        ),
        msg(
            "mission",
            start_event(
                "EM-E1",
                ts=at(1),
                product_code="PX",
                swath_m=7.0,
                operator_id="OP-1",
                planned_field_codes=["F1", "F2"],
                tank_mix={"product_per_l": 0.25},
            ),
            "E1",
        ),
        msg("mission", start_event("EM-E2", ts=at(2), sprayer_state="unknown"), "E2"),
        msg("mission", end_event("EM-E2", ts=at(60), reported_area_ha=1.25), "E2"),
        msg("mission", end_event("EM-E1", ts=at(70), reported_amount=3.5), "E1"),
    )
    assert (r.events, r.rejected) == (5, 0)
    e1, e2, e3 = (mission(session, f"EM-{d}") for d in ("E1", "E2", "E3"))
    assert (e1.type, e1.product_code, e1.swath_m, e1.operator_id) == ("spray", "PX", 7.0, "OP-1")
    assert e1.product_id is not None and e1.product_per_unit == 0.25
    assert e1.planned_field_codes == ["F1", "F2"] and e1.source == "contract"
    assert (e1.status, e1.ended_at, e1.reported_amount) == (
        "complete",
        T0 + timedelta(seconds=70),
        3.5,
    )
    assert e1.reported_area_ha is None and not e1.sprayer_state_unknown
    assert (e2.type, e2.product_id, e2.swath_m, e2.sprayer_state_unknown) == (
        "spray",
        None,
        None,
        True,
    )
    assert (e2.status, e2.ended_at, e2.reported_area_ha) == (
        "complete",
        T0 + timedelta(seconds=60),
        1.25,
    )
    assert e2.reported_amount is None and e2.end_reason == "end_event"
    assert (e3.type, e3.swath_m, e3.source, e3.status) == ("fertilize", 4.5, "mavlink", "open")
    assert e3.planned_field_codes == [] and e3.ended_at is None
    for m, s in ((e1, 1), (e2, 2), (e3, 3)):
        assert m.started_at == T0 + timedelta(seconds=s) and m.point_count == 2


def test_mission_created_by_point_then_filled_by_start_event(session, drone, factory):
    factory.input(code="PX")
    store(session, msg("telemetry", stream(3, mission_id="M2")))
    assert mission(session, "M2").type is None
    store(
        session,
        msg(
            "mission", start_event("M2", product_code="PX", swath_m=6.0, planned_field_codes=["F1"])
        ),
    )
    m = mission(session, "M2")
    assert (m.type, m.product_code, m.swath_m, m.planned_field_codes) == (
        "spray",
        "PX",
        6.0,
        ["F1"],
    )
    assert m.product_id is not None and m.point_count == 3


def test_start_event_first_and_end_completes(session, drone):
    points = stream(5, mission_id="M3")
    r = store(
        session,
        msg("mission", start_event("M3")),
        msg("telemetry", points),
        msg("mission", end_event("M3", points, reported_area_ha=1.5, reported_amount=3.0)),
    )
    assert r.ended == {"M3"} and r.stored == 5
    m = mission(session, "M3")
    assert m.status is MissionStatus.complete
    assert (m.reported_area_ha, m.reported_amount, m.point_count) == (1.5, 3.0, 5)


def test_late_points_after_end_are_flagged_late(session, drone):
    points = stream(10, mission_id="M4")
    store(session, msg("telemetry", points[:5]), msg("mission", end_event("M4", points)))
    r = store(session, msg("telemetry", points[5:]))
    assert r.late == {"M4"} and r.stored == 5
    m = mission(session, "M4")
    assert m.dirty and m.point_count == 10 and m.status is MissionStatus.complete


def test_every_bad_input_becomes_a_reject_and_good_points_still_land(session, drone, factory):
    factory.drone(code="D2")
    store(session, msg("telemetry", stream(1, mission_id="OWNED-BY-D2"), drone="D2"))
    good = stream(2, mission_id="M5")
    point = stream(1, mission_id="M5", seq0=100)[0]
    cases = {
        "not JSON": msg("telemetry", b"{this is not json"),
        "empty": msg("mission", b""),
        "wrong type": msg("telemetry", point | {"lat": "north"}),
        "missing key": msg("telemetry", {k: v for k, v in point.items() if k != "ts"}),
        "NaN literal": msg("telemetry", orjson.dumps(point).replace(b'"lat":9.23', b'"lat":NaN')),
        "Infinity": msg("telemetry", orjson.dumps(point)[:-1] + b',"alt_m":Infinity}'),
        "NaN by Python's json": msg(
            "telemetry", json.dumps(point | {"flow_lpm": math.nan}).encode()
        ),
        "impossible coordinates": msg("telemetry", point | {"lat": 91.0}),
        "negative flow": msg("telemetry", point | {"flow_lpm": -1.0}),
        "naive timestamp": msg("telemetry", point | {"ts": "2026-03-01T08:00:00"}),
        "spraying not a bool": msg("telemetry", point | {"spraying": "yes"}),
        "megabytes": msg("telemetry", b"[" + b" " * 2_000_000 + b"]"),
        "topic kind": msg("weather", point),
        "unknown drone": msg("telemetry", point, drone="GHOST"),
        "another drone's mission": msg("telemetry", point | {"mission_id": "OWNED-BY-D2"}),
        "bad event": msg("mission", {"event": "pause", "mission_id": "M5"}),
        "bad start": msg("mission", start_event("M5", type="harvest")),
        "scalar": msg("telemetry", 42),
        "empty array": msg("telemetry", []),
        "bad status": msg("status", {"online": "maybe"}),
    }
    mixed = msg("telemetry", [good[0], {"seq": "x"}, good[1], [1, 2]])
    off_contract = Message(topic=f"{P}/elsewhere", payload=b"{}")
    result = store(session, *cases.values(), mixed, off_contract)
    assert result.stored == 2
    kept = rejects(session)
    assert len(kept) == len(cases) + 2 + 1
    reasons = [r.reason for r in kept]
    by_topic_and_payload = {(r.topic, r.payload[:40]): r.reason for r in kept}
    assert any("not valid JSON" in r for r in reasons)
    assert any("payload is empty" in r for r in reasons)
    assert any("lat" in r and "number" in r for r in reasons)
    assert any("ts: Field required" in r for r in reasons)
    assert sum("NaN and Infinity are not JSON numbers" in r for r in reasons) == 3
    assert any("less than or equal to 90" in r for r in reasons)
    assert any("flow_lpm" in r and "greater than or equal to 0" in r for r in reasons)
    assert any("UTC offset" in r for r in reasons)
    assert any("spraying must be true or false" in r for r in reasons)
    assert any("bytes, more than the 1,000,000 allowed" in r for r in reasons)
    assert any("unknown topic kind 'weather'" in r for r in reasons)
    assert any("unknown drone 'GHOST'" in r for r in reasons)
    assert any("belongs to drone 'D2'" in r for r in reasons)
    assert any('"start" or "end"' in r for r in reasons)
    assert any("mission start event: type" in r for r in reasons)
    assert any("expected a JSON object, got int" in r for r in reasons)
    assert any("telemetry array is empty" in r for r in reasons)
    assert any(r.startswith("status: online") for r in reasons)
    assert any("outside the contract" in r for r in reasons)
    # Each bad point of a mixed array is its own reject, holding that object.
    assert any(r.startswith("telemetry point 1:") for r in reasons)
    assert any(r.startswith("telemetry point 3: expected a JSON object") for r in reasons)
    assert by_topic_and_payload  # topic and payload are kept with every reject
    big = next(r for r in kept if "more than the" in r.reason)
    assert len(big.payload) <= MAX_KEPT_PAYLOAD
    assert mission(session, "M5").point_count == 2


def test_status_updates_the_drone_only_forward_in_time(session, drone):
    store(session, msg("status", {"online": True, "ts": "2026-03-01T08:00:00+07:00"}))
    store(session, msg("status", {"online": False, "ts": "2026-03-01T07:00:00+07:00"}))
    session.expire_all()
    d = session.exec(select(Drone).where(Drone.code == "D1")).scalar_one()
    assert d.online is True
    store(session, msg("status", {"online": False, "ts": "2026-03-01T09:00:00+07:00"}))
    session.expire_all()
    assert session.get(Drone, d.id).online is False


def test_flight_log_csv_and_jsonl(session, drone):
    points = lawnmower(mission_id="LOG1", passes=2)
    header = "drone_id,mission_id,seq,ts,lat,lon,spraying,flow_lpm\n"
    rows = [
        f"D1,{p['mission_id']},{p['seq']},{p['ts']},{p['lat']},{p['lon']},{str(p['spraying']).lower()},2.0"
        for p in points
    ]
    csv_data = (header + "\n".join(rows) + "\nD1,LOG1,9999,not-a-time,1,2,true,1\n").encode()
    r = logs.ingest_log(session, data=csv_data, name="flight.csv")
    assert (r.stored, r.rejected) == (len(points), 1)
    lines = [orjson.dumps(start_event("LOG1"))] + [orjson.dumps(p) for p in points[:10]]
    lines += [orjson.dumps(end_event("LOG1", points)), b"{broken"]
    r = logs.ingest_log(session, data=b"\n".join(lines), name="flight.jsonl", drone="D1")
    assert (r.stored, r.duplicates, r.events, r.rejected) == (0, 10, 2, 1)
    m = mission(session, "LOG1")
    assert m.point_count == len(points) and m.status is MissionStatus.complete
    assert session.exec(select(func.count()).select_from(TelemetryPoint)).scalar_one() == len(
        points
    )
    kept = rejects(session)
    assert kept[0].topic.startswith("agri/drones/D1/telemetry (flight.csv:")
    assert "not valid JSON" in kept[-1].reason


def test_fast_and_full_validation_agree(session, drone):
    # The common case is checked by a native model; anything it refuses takes the full one.
    p = stream(3, mission_id="M6")
    p[0]["spraying"] = 1  # 0/1 is accepted as the applicator state
    p[1]["ts"] = "2026-03-01T08:00:01+07:00"  # any offset, stored as the same instant
    p[2]["lat"] = 9  # an integer is a number
    r = store(session, msg("telemetry", p))
    assert (r.stored, r.rejected) == (3, 0)
    rows = session.exec(select(TelemetryPoint).order_by(TelemetryPoint.seq)).scalars().all()
    assert rows[0].spraying is True
    assert rows[1].ts.isoformat() == "2026-03-01T01:00:01+00:00"
    assert rows[2].lat == 9.0


@pytest.mark.parametrize("kind", ["telemetry", "mission", "status"])
def test_a_raw_nul_byte_is_kept_as_a_reject_and_ingest_goes_on(session, db, drone, kind):
    # PostgreSQL's text refuses 0x00: the reject keeps it escaped, readable as evidence.
    poison = b'{"mission_id": "M1", "seq": 1\x00}'
    store(session, msg(kind, poison))
    (kept,) = rejects(session)
    assert "\x00" not in kept.payload and "\\u0000" in kept.payload
    assert kept.payload.startswith('{"mission_id": "M1", "seq": 1')
    assert "JSON" in kept.reason
    # The next message is stored as usual.
    result = store(session, msg("telemetry", stream(3, mission_id="M1")))
    assert result.stored == 3 and count_points(db) == (3, 3)


@pytest.mark.parametrize(
    "sent",
    [
        "2026-03-01T08:00:00+07:00",
        "2026-03-01T00:30:00.000001+07:00",  # the day before in UTC
        "2024-02-29T23:59:59.999999Z",
        "2026-12-31T20:00:00.5-05:30",  # the next year in UTC
        "2015-01-01T00:00:00Z",
    ],
)
def test_sqlite_writes_a_fix_time_as_the_utc_text_sqlalchemy_writes(sent):
    # SQLite gets the time as microseconds since the epoch and writes the text itself;
    # it must be the text SQLAlchemy writes and reads for every other timestamp.
    ts = datetime.fromisoformat(sent)
    expected = ts.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    # The expression reads the time from the row's ts parameter: the ones before are unused.
    args = [None] * points._TS_AT + [(ts - points._EPOCH) // points._MICROSECOND]
    with sqlite3.connect(":memory:") as db:
        (text,) = db.execute(
            f"SELECT {points.sqlite_time(f'?{points._TS_AT + 1}')}", args
        ).fetchone()
    assert text == expected


def test_two_sqlite_writers_storing_the_same_points_at_once_store_them_once(tmp_path, monkeypatch):
    # Two ingesters on one SQLite file each get a copy of the same points (a repeat the
    # broker handed to the other). The second must not slip its keys in between the
    # first one's look-up of the stored keys and its insert: the first would fail on the
    # keys' primary key and its whole batch go message by message.
    engine = make_engine(f"sqlite:///{tmp_path / 'two.db'}")
    migrate(engine)
    with Session(engine) as s:
        s.add(Drone(code="D1", swath_m=10.0))
        s.commit()
        store(s, msg("telemetry", stream(1, mission_id="M1")))  # the mission exists
    points = stream(50, mission_id="M1")
    real = points_module._stored_keys
    other: list = []

    def racing_stored_keys(cur, rows):
        found = real(cur, rows)
        if not other:  # the other writer stores the same points now, or tries to

            def write() -> None:
                with Session(engine) as s:
                    other.append(store(s, msg("telemetry", points)))

            thread = threading.Thread(target=write)
            other.append(thread)
            thread.start()
            thread.join(1.0)  # it finishes here unless this writer holds SQLite's write lock
        return found

    monkeypatch.setattr(points_module, "_stored_keys", racing_stored_keys)
    with Session(engine) as s:
        first = store(s, msg("telemetry", points))
    other[0].join(30)
    second = other[1]
    assert (first.stored, first.duplicates, first.rejected) == (49, 1, 0)
    assert (second.stored, second.duplicates, second.rejected) == (0, 50, 0)
    assert count_points(engine, "D1") == (50, 50)
    engine.dispose()


def test_points_another_ingester_is_still_storing_are_repeats_once_it_commits(db, drone):
    # Ingester A has stored a batch but not yet committed it when ingester B gets the
    # same points. B waits for A (for its keys, or SQLite's write lock), then finds them
    # stored: no error, no reject, nothing twice.
    points = stream(50, mission_id="M1")
    with Session(db) as a:
        first = store_batch(a, batch=handlers.batch_of([msg("telemetry", points)], prefix=P,
                                                       max_bytes=1_000_000))  # fmt: skip
        assert first.stored == 50
        second: list = []

        def other() -> None:
            with Session(db) as b:
                second.append(store(b, msg("telemetry", points)))

        thread = threading.Thread(target=other)
        thread.start()
        thread.join(0.5)
        assert thread.is_alive()  # B waits for A
        a.commit()
    thread.join(30)
    assert (second[0].stored, second[0].duplicates, second[0].rejected) == (0, 50, 0)
    assert count_points(db, "D1") == (50, 50)
