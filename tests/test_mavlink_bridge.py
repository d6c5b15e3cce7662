"""``agritrace mavlink-bridge``: a MAVLink stream sent over UDP by pymavlink, through the
bridge and the real broker into the ingester, exactly once across a dropped link, a
reconnection from a new port and a replay of the whole flight by a new bridge."""

import contextlib
import threading
import time

import pytest
from pymavlink import mavutil
from sqlalchemy import select
from sqlmodel import Session

from drone_ingest.mavlink_bridge import MavlinkBridge
from tests import mavflight
from tests.factories import feature, rectangle_lonlat
from tests.mqtt import (  # noqa: F401 - fixtures
    broker_fixture,
    count_points,
    count_rejects,
    forget_session,
    free_port,
    ingester,
    prefix_fixture,
    wait_until,
)
from traceability.models import FieldCreate, Mission
from traceability.services import fields


def _send(port: int, said: list[mavflight.Said]) -> None:
    """Send messages from a new UDP socket (a new source port: a new link), paced."""
    link = mavutil.mavlink_connection(f"udpout:127.0.0.1:{port}", source_system=1)
    try:
        for i, s in enumerate(said):
            link.mav.send(s.msg)
            if i % 10 == 9:
                time.sleep(0.004)  # a radio's pace, well above the flight's own
    finally:
        link.close()


def _bridge(port: int, broker_url: str, prefix: str) -> tuple[MavlinkBridge, threading.Thread]:
    bridge = MavlinkBridge(
        connect=f"udpin:127.0.0.1:{port}", drone="MAV-1", mqtt_url=broker_url, prefix=prefix
    )
    thread = threading.Thread(target=bridge.run, daemon=True)
    thread.start()
    wait_until(lambda: bridge.counts.links == 1, what="the bridge to listen")
    time.sleep(0.2)
    return bridge, thread


def _mission(db) -> Mission | None:
    with Session(db) as s:
        return s.execute(select(Mission)).scalars().first()


def test_a_live_stream_is_stored_once_across_a_dropped_link_and_a_replay(
    broker, db, prefix, factory, session
):
    factory.drone(code="MAV-1", swath_m=mavflight.SWATH_M)
    farmer = factory.farmer()
    poly = rectangle_lonlat(mavflight.FIELD_X0, 0.0, mavflight.LENGTH_M, mavflight.WIDTH_M)
    fields.create_field(
        session, feature=FieldCreate.model_validate(feature("GR-LIVE", farmer.id, poly))
    )
    session.commit()
    said = list(mavflight.flight())
    half = len(said) // 2
    expected = mavflight.FIXES_ARMED - mavflight.FIXES_2D

    ing = ingester(broker.url, db, prefix, share_group=broker.share_group)
    port = free_port()
    bridge, thread = _bridge(port, broker.url, prefix)
    try:
        _send(port, said[:half])
        time.sleep(1.0)  # the link drops mid-flight ...
        # ... and comes back from another port, repeating the last 300 messages it sent.
        _send(port, said[half - 300 :])
        wait_until(lambda: count_points(db) == (expected, expected), what=f"{expected} points")
        wait_until(
            lambda: (m := _mission(db)) is not None and m.status == "complete" and not m.dirty,
            what="the mission to end and be measured",
        )
        bridge.stop()
        thread.join(10)

        # A new bridge (a new translator) replays the whole flight: nothing new.
        replay, replay_thread = _bridge(port, broker.url, prefix)
        _send(port, said)
        wait_until(lambda: replay.counts.points >= expected, what="the replay to be bridged")
        replay.stop()
        replay_thread.join(10)
        time.sleep(1.0)  # any straggler would show up as an extra row
        assert count_points(db) == (expected, expected)
        assert count_rejects(db) == 0
    finally:
        bridge.stop()
        ing.stop()
        forget_session(broker.url, ing.client_id)

    assert bridge.counts.unread == mavflight.FIXES_2D
    with Session(db) as s:
        (m,) = s.execute(select(Mission)).scalars().all()
    assert (m.source, m.type, m.point_count) == ("mavlink", "spray", expected)
    assert m.mission_id == "MAV-1-20260301T010100Z"  # the same mission across the drop
    assert m.sprayed_area_ha == pytest.approx(mavflight.TRUTH_M2 / 10_000, rel=0.02)
    assert ing.stats.duplicates >= expected  # the replay reached the ingester, as repeats


def test_a_dialled_tcp_link_that_drops_is_dialled_again(broker, db, prefix, factory, monkeypatch):
    import socket

    from pymavlink.dialects.v20 import ardupilotmega as mav2

    from drone_ingest import mavlink_bridge

    monkeypatch.setattr(mavlink_bridge, "LINK_TIMEOUT_S", 1.0)
    factory.drone(code="MAV-1", swath_m=mavflight.SWATH_M)
    said = list(mavflight.flight())
    half = len(said) // 2
    expected = mavflight.FIXES_ARMED - mavflight.FIXES_2D
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted = []

    def vehicle() -> None:
        # The vehicle's end: a TCP server (as ArduPilot SITL or a telemetry radio's Wi-Fi
        # bridge), which drops the first connection in mid-flight.
        mav = mav2.MAVLink(None, srcSystem=1, srcComponent=1)
        for n, part in enumerate((said[:half], said[half - 300 :])):
            conn, _ = server.accept()
            accepted.append(conn)
            for i, s in enumerate(part):
                conn.sendall(s.msg.pack(mav))
                if i % 20 == 19:
                    time.sleep(0.004)
            if n == 0:
                conn.close()

    ing = ingester(broker.url, db, prefix, share_group=broker.share_group)
    feeder = threading.Thread(target=vehicle, daemon=True)
    feeder.start()
    bridge = MavlinkBridge(
        connect=f"tcp:127.0.0.1:{port}", drone="MAV-1", mqtt_url=broker.url, prefix=prefix
    )
    thread = threading.Thread(target=bridge.run, daemon=True)
    thread.start()
    try:
        wait_until(lambda: count_points(db) == (expected, expected), what=f"{expected} points")
        time.sleep(0.5)
        assert count_points(db) == (expected, expected)
        assert count_rejects(db) == 0
        assert len(accepted) == 2  # the bridge dialled again
    finally:
        bridge.stop()
        thread.join(10)
        ing.stop()
        forget_session(broker.url, ing.client_id)
        for conn in accepted:
            conn.close()
        server.close()
    with Session(db) as s:
        (m,) = s.execute(select(Mission)).scalars().all()
    assert m.point_count == expected and m.status == "complete"


def _register(factory, session) -> None:
    factory.drone(code="MAV-1", swath_m=mavflight.SWATH_M)
    session.commit()


def _run_bridge(
    connect: str, broker_url: str, prefix: str
) -> tuple[MavlinkBridge, threading.Thread]:
    bridge = MavlinkBridge(connect=connect, drone="MAV-1", mqtt_url=broker_url, prefix=prefix)
    thread = threading.Thread(target=bridge.run, daemon=True)
    thread.start()
    wait_until(lambda: bridge.counts.links >= 1, what="the bridge to open its link")
    return bridge, thread


def _stored_once(db, bridge, expected: int) -> None:
    wait_until(lambda: count_points(db) == (expected, expected), what=f"{expected} points")
    wait_until(
        lambda: (m := _mission(db)) is not None and m.status == "complete" and not m.dirty,
        what="the mission to end and be measured",
    )
    assert count_rejects(db) == 0
    assert bridge.counts.unread == mavflight.FIXES_2D
    with Session(db) as s:
        (m,) = s.execute(select(Mission)).scalars().all()
    assert (m.source, m.point_count, m.mission_id) == (
        "mavlink",
        expected,
        "MAV-1-20260301T010100Z",
    )
    assert m.sprayed_area_ha == pytest.approx(mavflight.TRUTH_M2 / 10_000, rel=0.02)


def test_a_udpout_link_reaches_a_vehicle_that_listens(broker, db, prefix, factory, session):
    """``udpout:``: the bridge sends first (its ground station heartbeat) to a vehicle
    listening on a UDP port, which answers to where the heartbeat came from."""
    _register(factory, session)
    port = free_port()
    vehicle = mavutil.mavlink_connection(f"udpin:127.0.0.1:{port}", source_system=1)
    ing = ingester(broker.url, db, prefix, share_group=broker.share_group)
    bridge, thread = _run_bridge(f"udpout:127.0.0.1:{port}", broker.url, prefix)
    try:
        hb = vehicle.recv_match(type="HEARTBEAT", blocking=True, timeout=10)
        assert hb is not None and hb.type == 6  # the bridge speaks as a ground station
        for i, s in enumerate(mavflight.flight()):
            vehicle.mav.send(s.msg)
            if i % 10 == 9:
                time.sleep(0.004)
        _stored_once(db, bridge, mavflight.FIXES_ARMED - mavflight.FIXES_2D)
    finally:
        bridge.stop()
        thread.join(10)
        vehicle.close()
        ing.stop()
        forget_session(broker.url, ing.client_id)


def test_a_serial_link_is_read_from_its_device(broker, db, prefix, factory, session):
    """A serial link: a pseudo-terminal pair, the vehicle's end written by pymavlink's
    encoder, the bridge on the other end's device path (as on /dev/ttyUSB0)."""
    import os
    import tty

    from pymavlink.dialects.v20 import ardupilotmega as mav2

    _register(factory, session)
    vehicle_fd, bridge_fd = os.openpty()
    tty.setraw(vehicle_fd)
    tty.setraw(bridge_fd)
    device = os.ttyname(bridge_fd)
    ing = ingester(broker.url, db, prefix, share_group=broker.share_group)
    bridge, thread = _run_bridge(device, broker.url, prefix)
    heard = bytearray()
    try:
        mav = mav2.MAVLink(None, srcSystem=1, srcComponent=1)
        for i, s in enumerate(mavflight.flight()):
            os.write(vehicle_fd, s.msg.pack(mav))
            if i % 10 == 9:
                time.sleep(0.004)  # 57,600 baud carries some 40 such messages a second
                with contextlib.suppress(BlockingIOError):
                    os.set_blocking(vehicle_fd, False)
                    heard += os.read(vehicle_fd, 4096)  # what the bridge says back
                os.set_blocking(vehicle_fd, True)
        _stored_once(db, bridge, mavflight.FIXES_ARMED - mavflight.FIXES_2D)
        # The bridge spoke on the line too: a ground station's heartbeat, MAVLink 2.
        parser = mav2.MAVLink(None)
        said = [m for m in parser.parse_buffer(bytes(heard)) or [] if m.get_type() == "HEARTBEAT"]
        assert said and said[0].type == 6
    finally:
        bridge.stop()
        thread.join(10)
        os.close(vehicle_fd)
        os.close(bridge_fd)
        ing.stop()
        forget_session(broker.url, ing.client_id)
