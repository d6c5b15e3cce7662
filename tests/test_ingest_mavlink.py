"""MAVLink telemetry logs through the ingest pipeline: a sprayer's flight written by
pymavlink, measured against the analytic area of its passes."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from tests import mavflight
from tests.factories import feature, rectangle_lonlat
from traceability.ingest.logs import ingest_log
from traceability.models import FieldCreate, Mission, TelemetryPoint
from traceability.services import fields, missions


@pytest.fixture
def sprayer(factory, session):
    drone = factory.drone(code="MAV-1", swath_m=mavflight.SWATH_M)
    farmer = factory.farmer()
    poly = rectangle_lonlat(mavflight.FIELD_X0, 0.0, mavflight.LENGTH_M, mavflight.WIDTH_M)
    fields.create_field(
        session, feature=FieldCreate.model_validate(feature("GR-MAV", farmer.id, poly))
    )
    session.commit()
    return drone


def test_a_sprayers_tlog_measures_to_the_area_of_its_passes(session, sprayer):
    data = mavflight.tlog(mavflight.flight())
    result = ingest_log(session, data=data, name="flight.tlog", drone="MAV-1")
    stored = mavflight.FIXES_ARMED - mavflight.FIXES_2D
    assert (result.stored, result.duplicates) == (stored, 0)
    # The fixes said with a 2D fix only are rejects, each with its reason.
    assert result.rejected == mavflight.FIXES_2D
    assert {r.reason for r in result.refused} == {"GNSS fix type 2: not a 3D fix"}

    (m,) = session.execute(select(Mission)).scalars().all()
    assert (m.source, m.type, m.status, m.point_count) == ("mavlink", "spray", "complete", stored)
    # Armed to disarmed, on the vehicle's clock (boot + 60 s + one step), not when heard.
    assert m.started_at == mavflight.BOOTED + timedelta(seconds=60 + mavflight.STEP_S)
    assert m.mission_id == "MAV-1-20260301T010100Z"
    truth_ha = mavflight.TRUTH_M2 / 10_000
    assert m.sprayed_area_ha == pytest.approx(truth_ha, rel=0.02)
    assert m.treated_area_ha == pytest.approx(truth_ha, rel=0.02)
    got = missions.get_mission(session, mission_id=m.mission_id)
    assert got.source == "mavlink" and [f.field_code for f in got.fields] == ["GR-MAV"]

    # A fix's key is its time in ms: the log read again is the same points.
    t = TelemetryPoint.__table__.c
    first = session.execute(select(t.seq, t.ts).order_by(t.seq).limit(1)).one()
    assert first.seq == round(first.ts.timestamp() * 1000)
    again = ingest_log(session, data=data, name="flight.tlog", drone="MAV-1")
    assert (again.stored, again.duplicates) == (0, stored)


def test_a_tlog_without_the_pump_parameter_says_the_spraying_state_is_unknown(session, sprayer):
    said = [s for s in mavflight.flight(lost_fix_turn=None) if s.msg.get_type() != "PARAM_VALUE"]
    result = ingest_log(session, data=mavflight.tlog(said), name="f.tlog", drone="MAV-1")
    assert result.stored == mavflight.FIXES_ARMED
    (reason,) = {r.reason for r in result.refused}
    assert "SERVOn_FUNCTION = 22" in reason
    (m,) = session.execute(select(Mission)).scalars().all()
    assert m.sprayed_area_ha == 0.0 and m.source == "mavlink"


def test_a_tlog_needs_its_drone_and_upload_names_it(client, factory, admin_headers):
    factory.drone(code="MAV-1", swath_m=mavflight.SWATH_M)
    data = mavflight.tlog(mavflight.flight())
    r = client.post(
        "/api/v1/ingest/logs",
        headers=admin_headers,
        files={"file": ("flight.tlog", data, "application/octet-stream")},
    )
    assert r.status_code == 422, r.text
    assert "MAVLink log: name its drone" in r.json()["detail"]
    r = client.post(
        "/api/v1/ingest/logs",
        headers=admin_headers,
        files={"file": ("flight.tlog", data, "application/octet-stream")},
        data={"drone": "MAV-1"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == mavflight.FIXES_ARMED - mavflight.FIXES_2D


def test_bytes_that_are_no_mavlink_log_are_rejects_not_a_crash(session, sprayer):
    result = ingest_log(session, data=b"\x00garbage" * 100, name="x.tlog", drone="MAV-1")
    assert (result.stored, result.rejected) == (0, 2)
    reasons = sorted(r.reason for r in result.refused)
    assert reasons[0].startswith("data that is not MAVLink messages")
    assert "SERVOn_FUNCTION = 22" in reasons[1]


def test_the_same_flight_as_a_dataflash_log_measures_alike(session, sprayer):
    data = mavflight.dataflash(mavflight.flight())
    result = ingest_log(session, data=data, name="00000042.BIN", drone="MAV-1")
    stored = mavflight.FIXES_ARMED - mavflight.FIXES_2D
    assert (result.stored, result.rejected) == (stored, mavflight.FIXES_2D)
    (m,) = session.execute(select(Mission)).scalars().all()
    # GPS week and milliseconds less the leap seconds: the same instants as the tlog's.
    assert m.mission_id == "MAV-1-20260301T010100Z"
    assert m.started_at == mavflight.BOOTED + timedelta(seconds=60 + mavflight.STEP_S)
    assert (m.source, m.type, m.point_count) == ("mavlink", "spray", stored)
    assert m.sprayed_area_ha == pytest.approx(mavflight.TRUTH_M2 / 10_000, rel=0.02)


def test_the_pumps_output_gives_each_fix_a_share_of_the_pumps_full_flow():
    from traceability.ingest.sources.mavlink import read_log

    records = read_log(
        mavflight.tlog(mavflight.flight()), name="f.tlog", drone="MAV-1", pump_lpm=5.0
    ).records
    points = [o for _, o in records if isinstance(o, dict) and "seq" in o]
    # The pump's PWM 1800 on a 1000-2000 output is 80 % of its full 5 L/min.
    assert {p["flow_lpm"] for p in points if p["spraying"]} == {4.0}
    assert {p["flow_lpm"] for p in points if not p["spraying"]} == {0.0}
    on = sum(p["spraying"] for p in points)
    assert on == mavflight.PASSES * int(mavflight.LENGTH_M)  # one fix a metre, edge to edge


def test_ingest_log_reads_a_tlog_with_the_pumps_flow(tmp_path, db, session, sprayer):
    from typer.testing import CliRunner

    from agritrace.cli import app

    path = tmp_path / "flight.tlog"
    path.write_bytes(mavflight.tlog(mavflight.flight()))
    url = db.url.render_as_string(hide_password=False)
    res = CliRunner().invoke(
        app,
        ["ingest-log", str(path), "--drone", "MAV-1", "--pump-lpm", "5", "--database-url", url],
    )
    assert res.exit_code == 0, res.output
    assert "flight.tlog (mavlink): 916 points stored" in res.output
    assert f"not read ({mavflight.FIXES_2D}): GNSS fix type 2: not a 3D fix" in res.output
    session.expire_all()
    (m,) = session.execute(select(Mission)).scalars().all()
    # 80 % of 5 L/min while the pump ran: passes of 100 m at 5 m/s, 8 of them.
    minutes = mavflight.PASSES * mavflight.LENGTH_M / 5.0 / 60
    assert m.applied_amount == pytest.approx(4.0 * minutes, rel=0.01)


def _without_params(said):
    return [s for s in said if s.msg.get_type() != "PARAM_VALUE"]


def test_a_vehicle_with_no_pump_parameter_still_starts_its_mission_unknown_sprayer(
    session, sprayer
):
    from traceability.ingest.sources.mavlink import read_log

    said = _without_params(mavflight.flight(lost_fix_turn=None))
    data = mavflight.tlog(said)
    records = read_log(data, name="f.tlog", drone="MAV-1").records
    (start,) = [o for _, o in records if isinstance(o, dict) and o.get("event") == "start"]
    # Armed at boot + 60 s; the first fix after arming is one step later.
    assert start["ts"] == (mavflight.BOOTED + timedelta(seconds=60 + mavflight.STEP_S)).isoformat()
    assert (start["type"], start["sprayer_state"]) == ("spray", "unknown")

    ingest_log(session, data=data, name="f.tlog", drone="MAV-1")
    (m,) = session.execute(select(Mission)).scalars().all()
    assert (m.type, m.sprayer_state_unknown, m.status) == ("spray", True, "complete")
    got = missions.get_mission(session, mission_id=m.mission_id)
    assert got.sprayer_state_unknown is True
    assert "sprayer_state_unknown" in [f["code"] for f in got.flags]


def test_pump_parameters_heard_after_the_first_fixes_make_the_sprayer_state_known(session, sprayer):
    said = list(mavflight.flight(lost_fix_turn=None))
    params = [s for s in said if s.msg.get_type() == "PARAM_VALUE"]
    rest = _without_params(said)
    # The parameters come 50 fixes into the flight (a live link asks for them late).
    armed = next(
        i for i, s in enumerate(rest) if s.msg.get_type() == "HEARTBEAT" and s.msg.base_mode & 128
    )
    late = armed + 150
    data = mavflight.tlog([*rest[:late], *params, *rest[late:]])
    from traceability.ingest.sources.mavlink import read_log

    starts = [
        o
        for _, o in read_log(data, name="f.tlog", drone="MAV-1").records
        if isinstance(o, dict) and o.get("event") == "start"
    ]
    assert [s.get("sprayer_state") for s in starts] == ["unknown", None]
    assert starts[0]["ts"] == starts[1]["ts"]
    ingest_log(session, data=data, name="f.tlog", drone="MAV-1")
    (m,) = session.execute(select(Mission)).scalars().all()
    assert (m.type, m.sprayer_state_unknown) == ("spray", False)
    got = missions.get_mission(session, mission_id=m.mission_id)
    assert "sprayer_state_unknown" not in [f["code"] for f in got.flags]


def test_a_dataflash_log_uploaded_after_its_tlog_is_the_same_flight_stored_once(
    session, sprayer, factory
):
    factory.drone(code="MAV-2", swath_m=mavflight.SWATH_M)
    said = list(mavflight.flight())
    stored = mavflight.FIXES_ARMED - mavflight.FIXES_2D
    first = ingest_log(session, data=mavflight.tlog(said), name="f.tlog", drone="MAV-1")
    assert first.stored == stored
    # The on-board log of the same flight: the same fixes (by their GNSS time), with the
    # GNSS's own height and precision, not the ground station's fused position.
    second = ingest_log(session, data=mavflight.dataflash(said), name="00000042.BIN", drone="MAV-1")
    assert (second.stored, second.duplicates, second.conflicts) == (0, stored, 0)
    assert second.rejected == mavflight.FIXES_2D  # the 2D fixes, again, and nothing else
    # And the other way round, on a fresh drone code: the .bin first, then the .tlog.
    bin_first = ingest_log(
        session, data=mavflight.dataflash(said), name="00000043.BIN", drone="MAV-2"
    )
    tlog_next = ingest_log(session, data=mavflight.tlog(said), name="g.tlog", drone="MAV-2")
    assert (bin_first.stored, tlog_next.stored, tlog_next.conflicts) == (stored, 0, 0)
    rows = session.execute(select(Mission.mission_id, Mission.point_count)).all()
    assert sorted(rows) == [
        ("MAV-1-20260301T010100Z", stored),
        ("MAV-2-20260301T010100Z", stored),
    ]


def test_a_contract_point_resent_elsewhere_under_a_stored_key_is_still_a_conflict(session, sprayer):
    point = {
        "drone_id": "MAV-1", "mission_id": "M-1", "seq": 7, "ts": "2026-03-01T08:00:00+07:00",
        "lat": 9.25, "lon": 105.45, "spraying": True,
    }  # fmt: skip
    import orjson

    ingest_log(session, data=orjson.dumps(point), name="a.jsonl")
    moved = {**point, "lat": 9.25001}  # about 1.1 m north: another point for the contract
    again = ingest_log(session, data=orjson.dumps(moved), name="b.jsonl")
    assert (again.stored, again.conflicts) == (0, 1)


@pytest.mark.parametrize("variant", ["auto_only", "gps_raw_only"])
def test_a_vehicle_without_arming_or_without_fused_position_measures_alike(
    session, sprayer, variant
):
    """AUTO-only: heartbeats whose armed flag is never set, the mission from entering AUTO
    to leaving it. GPS_RAW_INT-only: fixes from the GNSS report, on the vehicle's clock
    (its time since boot, moved to UTC by SYSTEM_TIME), with no height above home."""
    said = getattr(mavflight, variant)(mavflight.flight())
    result = ingest_log(session, data=mavflight.tlog(said), name="f.tlog", drone="MAV-1")
    stored = mavflight.FIXES_ARMED - mavflight.FIXES_2D
    assert (result.stored, result.rejected) == (stored, mavflight.FIXES_2D)
    (m,) = session.execute(select(Mission)).scalars().all()
    # AUTO is entered at the same instant as the armed flight's arming is followed by
    # AUTO (boot + 60.2 s), and left for RTL where that flight leaves AUTO too.
    assert m.started_at == mavflight.BOOTED + timedelta(seconds=60 + mavflight.STEP_S)
    assert (m.mission_id, m.status, m.type) == ("MAV-1-20260301T010100Z", "complete", "spray")
    assert m.sprayed_area_ha == pytest.approx(mavflight.TRUTH_M2 / 10_000, rel=0.02)
    t = TelemetryPoint.__table__.c
    alts = set(session.execute(select(t.alt_m)).scalars())
    # relative_alt 3,000 mm in the fused position; GPS_RAW_INT has no height above home.
    assert alts == ({None} if variant == "gps_raw_only" else {3.0})


@pytest.mark.parametrize("lag_s", [0.1, -0.3], ids=["same-second", "other-second"])
def test_a_dataflash_log_whose_fixes_are_at_other_instants_is_still_the_same_flight(
    session, sprayer, lag_s
):
    """A real autopilot logs its receiver's fixes at instants of their own, not those of
    the fused positions the ground station recorded: keyed apart, and with a lag of
    -0.3 s the first fix (boot + 59.9 s) even falls in another second, so another mission
    id. The flight is still stored once."""
    said = list(mavflight.flight())
    stored = mavflight.FIXES_ARMED - mavflight.FIXES_2D
    ingest_log(session, data=mavflight.tlog(said), name="f.tlog", drone="MAV-1")
    data = mavflight.dataflash(said, gps_lag_s=lag_s)
    from traceability.ingest.sources.mavlink import read_log

    ids = {o["mission_id"] for _, o in read_log(data, name="a.BIN", drone="MAV-1").records
           if isinstance(o, dict) and "seq" in o}  # fmt: skip
    assert ids == {"MAV-1-20260301T010100Z" if lag_s > 0 else "MAV-1-20260301T010059Z"}
    second = ingest_log(session, data=data, name="00000042.BIN", drone="MAV-1")
    # 0.3 s early, the autopilot's first fix (boot + 59.9 s) lies before the stored
    # track's first, farther than half its 0.2 s spacing: a fix the .tlog lacks, added.
    # Every other one lies within the stored track.
    added = 1 if lag_s < 0 else 0
    assert (second.stored, second.duplicates, second.conflicts) == (added, stored - added, 0)
    (m,) = session.execute(select(Mission)).scalars().all()
    assert (m.mission_id, m.point_count) == ("MAV-1-20260301T010100Z", stored + added)
    # The stored flight's start and end stay its own.
    assert m.started_at == mavflight.BOOTED + timedelta(seconds=60 + mavflight.STEP_S)
    assert m.sprayed_area_ha == pytest.approx(mavflight.TRUTH_M2 / 10_000, rel=0.02)


def test_a_dataflash_log_fills_the_gap_of_a_tlog_that_lost_the_link(session, sprayer):
    """The ground station lost the link for pass 3 (its 111 fixes and its turn's 4 are
    missing from the .tlog); the autopilot's own log has them, and only they are added."""
    said = list(mavflight.flight())
    fixes = [i for i, s in enumerate(said) if s.msg.get_type() == "GLOBAL_POSITION_INT"]
    per_pass = int(mavflight.LENGTH_M) + 11 + 4
    # Armed fixes start after the one on the ground; pass 3 is the 4th pass and turn.
    lost = set(range(fixes[1 + 3 * per_pass], fixes[1 + 4 * per_pass]))
    heard = [s for i, s in enumerate(said) if i not in lost]
    first = ingest_log(session, data=mavflight.tlog(heard), name="f.tlog", drone="MAV-1")
    stored = mavflight.FIXES_ARMED - mavflight.FIXES_2D
    assert first.stored == stored - per_pass
    (m,) = session.execute(select(Mission)).scalars().all()
    assert m.sprayed_area_ha == pytest.approx(
        (mavflight.PASSES - 1) * mavflight.LENGTH_M * mavflight.SWATH_M / 10_000, rel=0.02
    )
    # The receiver's fixes 0.05 s after the fused positions: within the stored track they
    # are known; in the gap, one for each fix lost.
    data = mavflight.dataflash(said, gps_lag_s=0.05)
    second = ingest_log(session, data=data, name="00000042.BIN", drone="MAV-1")
    assert (second.stored, second.duplicates) == (per_pass, stored - per_pass)
    session.expire_all()
    (m,) = session.execute(select(Mission)).scalars().all()
    assert m.point_count == stored
    assert m.sprayed_area_ha == pytest.approx(mavflight.TRUTH_M2 / 10_000, rel=0.02)
