"""The store's drones and missions: kept between batches, and moved in one statement.

A writer keeps the drones and missions it met (:class:`KnownRows`) and looks up only the
new ones; a mission's start and its lateness are decided by the database in the
statement that moves its count. Each must store exactly what the plain road stores.
"""

from datetime import timedelta

import orjson
import pytest
from sqlmodel import Session, select

from drone_ingest import handlers
from drone_ingest.handlers import Message
from tests.mqtt import T0, count_points, end_event, start_event, stream
from traceability.ingest import store as store_module
from traceability.ingest.store import KnownRows, store_batch
from traceability.models import Mission, MissionStatus

P = "agri"


def msg(kind: str, payload, drone: str = "D1") -> Message:
    return Message(topic=f"{P}/drones/{drone}/{kind}", payload=orjson.dumps(payload), qos=1)


def commit(db, *messages: Message, kept: KnownRows | None = None):
    batch = handlers.batch_of(messages, prefix=P, max_bytes=1_000_000)
    with Session(db) as s:
        return handlers.commit_batch(s, batch, kept)


def mission(db, mission_id: str) -> Mission:
    with Session(db) as s:
        return s.exec(select(Mission).where(Mission.mission_id == mission_id)).one()


def at(seconds: float) -> str:
    return (T0 + timedelta(seconds=seconds)).isoformat()


def points(mission_id: str, seq0: int, start_s: float, n: int) -> list[dict]:
    """``n`` points a second apart from ``start_s`` (with a microsecond part), each the
    same whenever its seq is sent again."""
    out = stream(n, mission_id=mission_id, seq0=seq0)
    for i, p in enumerate(out):
        p.update(ts=at(start_s + i + 0.000123), lat=9.23 + p["seq"] * 1e-6)
    return out


@pytest.fixture
def lookups(monkeypatch) -> list[str]:
    """The drones' and missions' look-ups the store sends, by the table they read."""
    seen: list[str] = []
    lookup = {
        store_module._PG_DRONES: "drones",
        store_module._SQLITE_DRONES: "drones",
        store_module._PG_MISSIONS: "missions",
        store_module._SQLITE_MISSIONS: "missions",
    }
    for name in ("_driver_rows", "_sqlite_json"):
        real = getattr(store_module, name)

        def spy(session, sql, values, real=real):
            if sql in lookup:
                seen.append(lookup[sql])
            return real(session, sql, values)

        monkeypatch.setattr(store_module, name, spy)
    return seen


def test_a_writer_looks_up_only_the_drones_and_missions_it_has_not_met(db, factory, lookups):
    for d in ("D1", "D2"):
        factory.drone(code=d, swath_m=6.0)
    kept = KnownRows()
    first = commit(db, msg("telemetry", points("M1", 0, 10, 5)), kept=kept)
    assert first.stored == 5 and lookups == ["drones", "missions", "missions"]
    assert set(kept.drones) == {"D1"} and set(kept.missions) == {"M1"}
    assert kept.missions["M1"] == (mission(db, "M1").id, "D1")

    lookups.clear()
    second = commit(
        db,
        msg("telemetry", points("M1", 5, 15, 5)),
        msg("telemetry", points("M2", 0, 20, 3), "D2"),
        kept=kept,
    )
    # D1 and M1 are known: only D2 and M2 are looked up (M2 twice: before and after made).
    assert (second.stored, second.duplicates) == (8, 0)
    assert lookups == ["drones", "missions", "missions"]
    lookups.clear()
    third = commit(db, msg("telemetry", points("M1", 8, 18, 4)), kept=kept)  # 8, 9 repeated
    assert (third.stored, third.duplicates) == (2, 2) and lookups == []
    m1 = mission(db, "M1")
    assert m1.point_count == 12 and m1.started_at == T0 + timedelta(seconds=10.000123)
    assert count_points(db, "D1") == (12, 12)


def test_a_batch_rolled_back_teaches_the_writer_nothing(db, factory):
    factory.drone(code="D1", swath_m=6.0)
    kept = KnownRows()
    batch = handlers.batch_of([msg("telemetry", points("M1", 0, 0, 3))], prefix=P, max_bytes=10**6)
    with Session(db) as s:
        result = store_batch(s, batch=batch, kept=kept)
        s.rollback()
    assert set(result.mission_rows) == {"M1"}  # made, then rolled back: never stored
    assert kept.missions == {} and kept.drones == {}
    again = commit(db, msg("telemetry", points("M1", 0, 0, 3)), kept=kept)
    assert again.stored == 3 and mission(db, "M1").point_count == 3
    assert kept.missions["M1"].pk == mission(db, "M1").id


def test_what_a_writer_keeps_is_emptied_past_its_limit():
    kept = KnownRows(limit=3)
    result = store_module.BatchResult()
    result.drone_rows = {"D1": 1, "D2": 2}
    kept.learn(result)
    result.drone_rows = {"D3": 3}
    kept.learn(result)
    assert kept.drones == {"D1": 1, "D2": 2, "D3": 3}
    result.drone_rows = {"D4": 4}
    kept.learn(result)
    assert kept.drones == {"D4": 4}


@pytest.mark.parametrize("keep", [False, True], ids=["looked up", "kept"])
def test_a_mission_s_start_is_its_earliest_fix_until_its_start_event(db, factory, keep):
    for d in ("D1", "D2"):
        factory.drone(code=d, swath_m=6.0)
    kept = KnownRows() if keep else None
    # M1 has no start event: its start follows its earliest fix, to the microsecond.
    commit(db, msg("telemetry", points("M1", 10, 100, 3)), kept=kept)
    commit(db, msg("telemetry", points("M1", 20, 200, 3)), kept=kept)  # later: no move
    assert mission(db, "M1").started_at == T0 + timedelta(seconds=100.000123)
    commit(db, msg("telemetry", points("M1", 0, 99.999, 1)), kept=kept)  # 124 µs earlier
    assert mission(db, "M1").started_at == T0 + timedelta(seconds=99.999123)
    # M2's start event is stored first: earlier points never move its start.
    commit(db, msg("mission", start_event("M2", ts=at(50)), "D2"), kept=kept)
    commit(db, msg("telemetry", points("M2", 0, 40, 5), "D2"), kept=kept)
    assert mission(db, "M2").started_at == T0 + timedelta(seconds=50)
    # M3's start event comes in the batch with its earlier points: the event's time.
    commit(
        db,
        msg("telemetry", points("M3", 100, 30, 5), "D2"),
        msg("mission", start_event("M3", ts=at(33)), "D2"),
        kept=kept,
    )
    m3 = mission(db, "M3")
    assert m3.started_at == T0 + timedelta(seconds=33) and m3.point_count == 5


@pytest.mark.parametrize("keep", [False, True], ids=["looked up", "kept"])
def test_points_of_a_complete_mission_are_late_and_only_theirs(db, factory, keep):
    for d in ("D1", "D2"):
        factory.drone(code=d, swath_m=6.0)
    kept = KnownRows() if keep else None
    m1 = points("M1", 0, 0, 10)
    commit(db, msg("telemetry", m1[:6]), msg("mission", end_event("M1", m1)), kept=kept)
    commit(db, msg("telemetry", points("M2", 0, 0, 3), "D2"), kept=kept)
    r = commit(
        db, msg("telemetry", m1[6:]), msg("telemetry", points("M2", 3, 3, 3), "D2"), kept=kept
    )
    assert r.late == {"M1"} and r.missions == {"M1", "M2"} and r.stored == 7
    # Repeats alone move nothing: not late.
    assert commit(db, msg("telemetry", m1[6:]), kept=kept).late == set()
    m2 = mission(db, "M2")
    assert m2.status is MissionStatus.open and m2.point_count == 6
    # A complete mission's new points with its end event again in the same batch: ended
    # (measured as such), not late.
    r = commit(
        db,
        msg("telemetry", points("M1", 10, 10, 2)),
        msg("mission", end_event("M1", ts=at(12))),
        kept=kept,
    )
    assert r.ended == {"M1"} and r.late == set() and r.stored == 2


@pytest.mark.parametrize("keep", [False, True], ids=["looked up", "kept"])
def test_refused_points_leave_the_rest_of_their_batch_stored_and_counted(db, factory, keep):
    # Two known drones, one unknown (its points refused), one point naming another
    # drone's mission (refused): the rest of the batch is stored and counted.
    kept = KnownRows() if keep else None
    for d in ("D1", "D2"):
        factory.drone(code=d, swath_m=6.0)
    commit(db, msg("telemetry", points("M2", 0, 0, 1), "D2"), kept=kept)
    foreign = points("M2", 100, 5, 1)
    r = commit(
        db,
        msg("telemetry", points("M1", 0, 0, 30)),
        msg("telemetry", foreign),  # D1 sends a point of D2's mission
        msg("telemetry", points("M2", 1, 1, 4), "D2"),
        msg("telemetry", points("MX", 0, 0, 3), "DX"),
        kept=kept,
    )
    assert (r.stored, r.rejected) == (34, 2)
    assert mission(db, "M1").point_count == 30 and mission(db, "M2").point_count == 5
    assert count_points(db, "D1") == (30, 30) and count_points(db, "D2") == (5, 5)
    assert kept is None or ("DX" not in kept.drones and "MX" not in kept.missions)
    clean = commit(db, msg("telemetry", points("M1", 30, 30, 3)), kept=kept)
    assert (clean.stored, clean.duplicates) == (3, 0)
    assert mission(db, "M1").point_count == 33


def test_one_look_up_finds_the_stored_points_of_close_and_far_apart_drones(db, factory):
    # D1's seqs are consecutive (a range scan of the key), D2's far apart (asked one by
    # one), D3's consecutive again; every drone has some stored. One batch must find
    # exactly the stored ones of each.
    for d in ("D1", "D2", "D3"):
        factory.drone(code=d, swath_m=6.0)
    sent = {d: points(f"M{d}", 0, 0, 12) for d in ("D1", "D2", "D3")}
    for i, p in enumerate(sent["D2"]):
        p["seq"] = i * 100_000
    first = commit(db, *(msg("telemetry", sent[d][i::4], d) for i, d in enumerate(sent)))
    assert first.stored == 3 + 3 + 3  # seqs 0,4,8 / 1,5,9 / 2,6,10
    again = commit(db, *(msg("telemetry", pts, d) for d, pts in sent.items()))
    assert (again.stored, again.duplicates, again.rejected) == (27, 9, 0)
    for d in sent:
        assert count_points(db, d) == (12, 12)
        assert mission(db, f"M{d}").point_count == 12
