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
