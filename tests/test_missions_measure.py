"""Mission measurement with analytic answers, flags, and the drone's lines in the diary."""

import threading
import time
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from drone_ingest import handlers
from drone_ingest.handlers import Message
from tests.mqtt import end_event, lawnmower, lonlat, start_event
from traceability.models import DiaryEntry, Mission
from traceability.services import diary, missions, zones
from traceability.services.missions import measure as measure_module

# Ten 10 m passes at 5 m/s, 1 fix per second, 2 L/min: 40 sprayed seconds per pass.
FLOW = 2.0
AMOUNT_PER_PASS = 40 * FLOW / 60.0


def send(session: Session, drone: str, *payloads: tuple[str, object]) -> None:
    messages = [
        Message(topic=f"agri/drones/{drone}/{kind}", payload=orjson.dumps(p), qos=1, mid=1)
        for kind, p in payloads
    ]
    handlers.store(session, messages, prefix="agri", max_bytes=10_000_000)


def fly(session, mission_id, points, *, drone="D1", start=None, end=None):
    payloads = []
    if start is not None:
        payloads.append(("mission", start_event(mission_id, **start)))
    payloads += [("telemetry", points[i : i + 100]) for i in range(0, len(points), 100)]
    if end is not None:
        payloads.append(("mission", end_event(mission_id, points, **end)))
    send(session, drone, *payloads)
    missions.measure_dirty(session)
    return missions.get_mission(session, mission_id=mission_id)


def flag_codes(m) -> set[str]:
    return {f["code"] for f in m.flags}


@pytest.fixture
def scene(factory):
    """A 100 m x 200 m field at the origin, a drone with a 10 m swath, a product."""
    field = factory.field(code="F1", x0=0, y0=0, width=100, height=200)
    product = factory.input(code="P1", max_dose_per_ha=10.0)
    drone = factory.drone(code="D1", swath_m=10.0)
    return field, product, drone


def test_exact_passes_cover_the_rectangle(session, scene):
    m = fly(
        session,
        "M1",
        lawnmower(mission_id="M1"),
        start={"product_code": "P1", "swath_m": 10.0, "tank_mix": {"product_per_l": 0.05}},
        end={},
    )
    assert m.status == "complete" and m.point_count == 410
    assert m.treated_area_ha == pytest.approx(2.0, rel=0.01)
    assert m.sprayed_area_ha == pytest.approx(2.0, rel=0.01)
    assert m.overspray_area_ha == pytest.approx(0.0, abs=0.02)
    assert m.applied_amount == pytest.approx(10 * AMOUNT_PER_PASS, rel=1e-6)
    assert m.amount_unit == "L"
    (f,) = m.fields
    assert f.field_code == "F1"
    assert f.coverage_pct == pytest.approx(100.0, abs=1.0)
    assert f.applied_amount == pytest.approx(m.applied_amount, rel=1e-6)
    assert f.dose_per_ha == pytest.approx(f.applied_amount / f.treated_area_ha, rel=1e-6)
    # 0.05 L of product in each litre of tank mix.
    assert m.product_amount == pytest.approx(0.05 * m.applied_amount, rel=1e-6)
    assert f.product_dose_per_ha == pytest.approx(0.05 * f.dose_per_ha, abs=1e-6)  # 6 decimals
    assert flag_codes(m) == set()


def test_overrun_outside_the_field_is_overspray(session, scene):
    points = lawnmower(mission_id="M2", y_from=-20.0, y_to=220.0)
    m = fly(session, "M2", points, start={"product_code": "P1"}, end={})
    assert m.sprayed_area_ha == pytest.approx(2.4, rel=0.01)
    assert m.treated_area_ha == pytest.approx(2.0, rel=0.01)
    assert m.overspray_area_ha == pytest.approx(0.4, rel=0.01)
    (f,) = m.fields
    # The flow is even along each pass, so the field gets 200 m out of every 240 m.
    assert f.applied_amount == pytest.approx(m.applied_amount * 200 / 240, rel=0.01)
    assert f.dose_per_ha == pytest.approx(f.applied_amount / f.treated_area_ha, rel=1e-6)
    overspray = next(x for x in m.flags if x["code"] == "overspray")
    assert overspray["overspray_pct"] == pytest.approx(100 * 0.4 / 2.4, rel=0.01)


def test_half_the_field_and_the_swath_from_the_drone(session, scene):
    points = lawnmower(mission_id="M3", passes=5)  # no swath in points or start event
    m = fly(session, "M3", points, start={"product_code": "P1"}, end={})
    (f,) = m.fields
    assert f.coverage_pct == pytest.approx(50.0, abs=0.5)
    assert f.treated_area_ha == pytest.approx(1.0, rel=0.01)


def test_flags_dose_zone_product_and_reported_figures(session, factory, scene):
    zones.import_zones(
        session,
        features=[
            {
                "type": "Feature",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [
                        [
                            list(lonlat(x, y))
                            for x, y in [(45, 95), (55, 95), (55, 105), (45, 105), (45, 95)]
                        ]
                    ],
                },
                "properties": {"code": "HOUSE-1", "kind": "house", "buffer_m": 5.0},
            }
        ],
    )
    strong = factory.input(code="P-STRONG", max_dose_per_ha=1.0)
    points = lawnmower(mission_id="M4")
    m = fly(
        session,
        "M4",
        points,
        start={"product_code": strong.code, "swath_m": 10.0, "tank_mix": {"product_per_l": 0.5}},
        end={"reported_area_ha": 3.0, "reported_amount": 13.0},
    )
    codes = flag_codes(m)
    assert {"dose_above_max", "nospray_zone", "reported_area_mismatch"} <= codes
    assert "reported_amount_mismatch" not in codes  # 13.0 L reported, 13.33 L measured: close
    (zone,) = m.zones
    # A 10 m square grown by 5 m with round corners: 20 x 20 m less the corners' (4 - pi) 5^2.
    assert zone["zone_code"] == "HOUSE-1"
    assert zone["area_ha"] == pytest.approx((400 - (4 - 3.14159265) * 25) / 10_000, rel=0.02)
    assert m.nospray_area_ha == pytest.approx(zone["area_ha"])
    dose = next(x for x in m.flags if x["code"] == "dose_above_max")
    assert dose["field_code"] == "F1" and dose["max_dose_per_ha"] == 1.0
    # The product's dose, not the tank mix's: half of 13.33 L over 2 ha.
    assert dose["dose_per_ha"] == pytest.approx(0.5 * 10 * AMOUNT_PER_PASS / 2.0, rel=0.02)

    unknown = fly(
        session, "M5", lawnmower(mission_id="M5", seq0=1000), start={"product_code": "NOPE"}, end={}
    )
    assert "unknown_product" in flag_codes(unknown)
    outside = fly(
        session,
        "M6",
        lawnmower(mission_id="M6", x0=5000.0, seq0=2000),
        start={"product_code": "P1"},
        end={},
    )
    assert {"no_fields", "overspray"} <= flag_codes(outside)
    assert outside.treated_area_ha == 0.0 and outside.fields == []


def test_a_spray_without_its_tank_mix_cannot_be_checked_against_the_label(session, scene):
    m = fly(session, "M1", lawnmower(mission_id="M1"), start={"product_code": "P1"}, end={})
    # 6.7 L/ha of tank mix is below the 10 L/ha label maximum, yet it proves nothing either way.
    assert flag_codes(m) == {"product_dose_unknown"}
    assert m.product_amount is None and m.fields[0].product_dose_per_ha is None
    (entry,) = diary.list_entries(session, field_code="F1").data
    assert (entry.input_code, entry.quantity) == ("P1", None)
    assert "tank mix not reported" in entry.note


def test_a_powder_sprayed_as_tank_mix_is_litres_out_and_kilograms_of_product(
    session, factory, scene
):
    factory.input(code="BEAM", unit="kg", max_dose_per_ha=0.3)
    points = lawnmower(mission_id="M8")
    start = {"product_code": "BEAM", "tank_mix": {"product_per_l": 0.015, "product_unit": "kg"}}
    m = fly(session, "M8", points, start=start, end={})
    assert (m.amount_unit, m.product_unit) == ("L", "kg")
    assert m.applied_amount == pytest.approx(10 * AMOUNT_PER_PASS, rel=1e-6)
    assert m.product_amount == pytest.approx(0.015 * m.applied_amount, rel=1e-6)
    assert "dose_above_max" not in flag_codes(m)  # 0.1 kg/ha of a 0.3 kg/ha product
    (entry,) = diary.list_entries(session, field_code="F1").data
    assert (entry.input_code, entry.unit) == ("BEAM", "kg")
    assert entry.quantity == pytest.approx(m.product_amount, rel=1e-3)


def test_a_swath_edge_grazing_a_buffer_is_listed_but_not_flagged(session, scene):
    # The buffer of a canal post beside the field reaches 5 cm into the last pass.
    ring = [(104.95, 100), (106, 100), (106, 101), (104.95, 101), (104.95, 100)]
    zones.import_zones(
        session,
        features=[
            {
                "type": "Feature",
                "geometry": {
                    "type": "Polygon",
                    "coordinates": [[list(lonlat(x, y)) for x, y in ring]],
                },
                "properties": {"code": "POST-1", "kind": "canal", "buffer_m": 5.0},
            }
        ],
    )
    m = fly(session, "M10", lawnmower(mission_id="M10"), start={"product_code": "P1"}, end={})
    (zone,) = m.zones
    assert zone["zone_code"] == "POST-1" and 0 < zone["area_ha"] * 10_000 < 2.0
    assert "nospray_zone" not in flag_codes(m)


def test_fertilizer_in_kilograms_from_flow_kgpm(session, factory, scene):
    factory.input(code="UREA", kind="fertilizer", unit="kg", max_dose_per_ha=200.0)
    points = lawnmower(mission_id="M7", flow_lpm=None, flow_kgpm=6.0)
    m = fly(
        session,
        "M7",
        points,
        start={"product_code": "UREA", "type": "fertilize", "swath_m": 10.0},
        end={},
    )
    assert m.amount_unit == "kg"
    assert m.applied_amount == pytest.approx(10 * 40 * 6.0 / 60, rel=1e-6)
    (entry,) = diary.list_entries(session, field_code="F1").data
    assert (entry.activity, entry.unit, entry.input_code) == ("fertilize", "kg", "UREA")
    # Urea spread dry is the product itself.
    assert m.product_amount == pytest.approx(m.applied_amount)
    assert entry.quantity == pytest.approx(m.applied_amount, rel=1e-3)


def test_diary_written_once_and_corrected_after_late_points(session, scene):
    points = lawnmower(mission_id="M8")
    start = {"product_code": "P1", "swath_m": 10.0, "tank_mix": {"product_per_l": 0.05}}
    m = fly(session, "M8", points[:200], start=start, end={})
    (entry,) = diary.list_entries(session, field_code="F1").data
    assert (entry.source, entry.mission_id, entry.activity, entry.input_code) == (
        "drone",
        "M8",
        "spray",
        "P1",
    )
    assert entry.quantity == pytest.approx(m.product_amount, abs=1e-3)
    assert entry.area_ha == pytest.approx(m.treated_area_ha, abs=1e-3)

    # The end event again, and a re-measure: the result is the same, nothing is written.
    send(session, "D1", ("mission", end_event("M8", points)))
    missions.measure_dirty(session)
    assert diary.list_entries(session, field_code="F1", corrected_view=False).count == 1

    # Late points after the end: the result changes, and a correction names the first entry.
    send(session, "D1", ("telemetry", points[200:]))
    missions.measure_dirty(session)
    m = missions.get_mission(session, mission_id="M8")
    assert m.treated_area_ha == pytest.approx(2.0, rel=0.01)
    everything = diary.list_entries(session, field_code="F1", corrected_view=False).data
    assert len(everything) == 2
    correction = everything[1]
    assert correction.corrects == entry.id and correction.source == "drone"
    assert correction.quantity == pytest.approx(m.product_amount, abs=1e-3)
    (current,) = diary.list_entries(session, field_code="F1").data
    assert current.id == correction.id
    assert diary.verify_chain(session, field_code="F1").valid
    session.expire_all()
    assert session.exec(select(Mission).where(Mission.mission_id == "M8")).one().dirty is False


def test_open_missions_are_not_measured_and_write_no_diary(session, scene):
    fly(session, "M9", lawnmower(mission_id="M9"), start={"product_code": "P1"})
    m = missions.get_mission(session, mission_id="M9")
    assert m.status == "open" and m.measured_at is None
    assert session.exec(select(DiaryEntry)).all() == []

    # Measured while still flying (the ingester does this every half minute): the
    # coverage shows, the diary waits for the mission's end.
    assert missions.measure_dirty(session, include_open=True) == ["M9"]
    m = missions.get_mission(session, mission_id="M9")
    assert m.status == "open" and m.treated_area_ha == pytest.approx(2.0, rel=0.01)
    assert session.exec(select(DiaryEntry)).all() == []


def test_a_mission_without_its_end_event_is_completed_when_idle(session, scene):
    points = lawnmower(mission_id="M11")
    fly(session, "M11", points, start={"product_code": "P1"})
    assert missions.close_idle(session, idle_s=3600) == []  # its points just arrived
    later = datetime.now(UTC) + timedelta(hours=2)
    assert missions.close_idle(session, idle_s=3600, now=later) == ["M11"]
    missions.measure_dirty(session)
    m = missions.get_mission(session, mission_id="M11")
    assert m.status == "complete" and "no_end_event" in flag_codes(m)
    assert m.ended_at == datetime.fromisoformat(points[-1]["ts"])
    assert m.treated_area_ha == pytest.approx(2.0, rel=0.01)
    assert diary.list_entries(session, field_code="F1").count == 1

    # The end event arrives after all: the flag goes, the diary line stays the one line.
    send(session, "D1", ("mission", end_event("M11", points)))
    missions.measure_dirty(session)
    m = missions.get_mission(session, mission_id="M11")
    assert "no_end_event" not in flag_codes(m)
    assert diary.list_entries(session, field_code="F1", corrected_view=False).count == 1


def test_diary_quantity_is_the_fields_product_amount(session, scene):
    # 1/30 L of product per litre of mix: a product amount with more than 4 decimals.
    start = {"product_code": "P1", "swath_m": 10.0, "tank_mix": {"product_per_l": 1 / 30}}
    m = fly(session, "M20", lawnmower(mission_id="M20"), start=start, end={})
    (entry,) = diary.list_entries(session, field_code="F1").data
    assert entry.quantity == m.fields[0].product_amount
    assert entry.quantity != round(entry.quantity, 4)
    assert "0.4444 L of P1 in 13.33 L of tank mix" in entry.note

    # A line that holds the same amount to 4 decimals says the same: nothing to correct.
    session.execute(
        update(DiaryEntry)
        .where(DiaryEntry.id == entry.id)
        .values(quantity=round(entry.quantity, 4))
    )
    session.execute(update(Mission).where(Mission.mission_id == "M20").values(dirty=True))
    session.commit()
    assert missions.measure_dirty(session) == ["M20"]
    assert diary.list_entries(session, field_code="F1", corrected_view=False).count == 1


def test_a_hover_over_a_field_is_one_diary_line_however_often_it_is_measured(session, scene):
    # Thirty fixes at one spot over the field, applicator on: product but no treated area.
    lon, lat = lonlat(50.0, 100.0)
    t0 = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)
    points = [
        {
            "mission_id": "M21",
            "seq": i,
            "ts": (t0 + timedelta(seconds=i)).isoformat(),
            "lat": lat,
            "lon": lon,
            "spraying": True,
            "flow_lpm": 2.0,
        }
        for i in range(30)
    ]
    start = {"product_code": "P1", "swath_m": 10.0, "tank_mix": {"product_per_l": 0.05}}
    fly(session, "M21", points, start=start, end={})
    before = diary.list_entries(session, field_code="F1", corrected_view=False).data
    assert len(before) == 1 and before[0].area_ha is None and before[0].quantity > 0
    for _ in range(2):
        session.execute(update(Mission).where(Mission.mission_id == "M21").values(dirty=True))
        session.commit()
        missions.measure_dirty(session)
    after = diary.list_entries(session, field_code="F1", corrected_view=False).data
    assert [e.id for e in after] == [e.id for e in before]


def test_previewing_a_flying_mission_does_not_hold_up_the_points_still_arriving(
    db, session, scene, monkeypatch
):
    # The ingester's measurer previews a flying mission while its writer stores the
    # mission's next points. Measuring reads all the points and does the geometry; the
    # writer, which moves the mission's count, must not wait for it.
    points = lawnmower(mission_id="M30")
    fly(session, "M30", points[:200], start={"product_code": "P1", "swath_m": 10.0})

    measuring, release = threading.Event(), threading.Event()
    real = measure_module.measure_track

    def slow_measure_track(*args, **kwargs):
        measuring.set()
        assert release.wait(30), "the writer did not get through while measuring"
        return real(*args, **kwargs)

    monkeypatch.setattr(measure_module, "measure_track", slow_measure_track)
    measured: list[list[str]] = []

    def preview() -> None:
        with Session(db) as s:
            measured.append(missions.measure_dirty(s, include_open=True))

    measurer = threading.Thread(target=preview)
    measurer.start()
    try:
        assert measuring.wait(30)
        # The writer stores the rest while the measuring is under way (it waits for
        # nothing; before, it waited here for the measurer's lock on the mission).
        writer = threading.Thread(
            target=lambda: send(Session(db), "D1", ("telemetry", points[200:]))
        )
        writer.start()
        writer.join(10)
        assert not writer.is_alive(), "the writer waited for the measuring"
    finally:
        release.set()
        measurer.join(30)
    assert measured == [["M30"]]

    # The preview measured the 200 points it read; the mission stays dirty for the rest.
    session.expire_all()
    m = session.exec(select(Mission).where(Mission.mission_id == "M30")).one()
    assert m.point_count == len(points) and m.measured_at is not None and m.dirty is True
    half = m.treated_area_ha
    monkeypatch.setattr(measure_module, "measure_track", real)
    assert missions.measure_dirty(session, include_open=True) == ["M30"]
    session.expire_all()
    m = session.exec(select(Mission).where(Mission.mission_id == "M30")).one()
    assert m.dirty is False and m.treated_area_ha == pytest.approx(2.0, rel=0.01)
    assert half < 1.5
    assert session.exec(select(DiaryEntry)).all() == []  # still flying: no diary line


def test_a_mission_that_cannot_be_measured_says_why_and_a_database_away_is_no_fault(
    session, scene, monkeypatch
):
    points = lawnmower(mission_id="M31")
    fly(session, "M31", points, start={"product_code": "P1", "swath_m": 10.0})

    def away(*_args, **_kwargs):
        raise OperationalError("SELECT 1", {}, Exception("server closed the connection"))

    # The database away while measuring: nothing is flagged, the mission stays dirty for
    # the next pass, and the caller hears of it (the ingester postpones measuring).
    monkeypatch.setattr(measure_module, "measure_track", away)
    with pytest.raises(OperationalError):
        missions.measure_dirty(session, include_open=True)
    m = missions.get_mission(session, mission_id="M31")
    assert m.measured_at is None and m.flags == []
    session.expire_all()
    assert session.exec(select(Mission).where(Mission.mission_id == "M31")).one().dirty is True

    # A fault of the mission's own: the reason is kept on it, and it is not retried.
    def broken(*_args, **_kwargs):
        raise ValueError("a swath of -3 m")

    monkeypatch.setattr(measure_module, "measure_track", broken)
    assert missions.measure_dirty(session, include_open=True) == []
    m = missions.get_mission(session, mission_id="M31")
    assert [(f["code"], f["message"]) for f in m.flags] == [
        ("measure_failed", "ValueError: a swath of -3 m")
    ]
    session.expire_all()
    assert session.exec(select(Mission).where(Mission.mission_id == "M31")).one().dirty is False


def test_a_mission_that_ends_while_flying_ones_are_previewed_is_measured_first(
    session, scene, monkeypatch
):
    # The ingester's measurer previews flying missions a few at a time; a mission that
    # ended meanwhile is measured (its diary written) before the next few, not after all.
    from drone_ingest import client

    flying = [f"M4{k}" for k in range(4)]
    for k, mid in enumerate(flying):
        points = lawnmower(mission_id=mid, passes=1, seq0=1000 * k)
        send(session, "D1", ("mission", start_event(mid, product_code="P1")), ("telemetry", points))
    ended = lawnmower(mission_id="M49", passes=2, seq0=9000)
    send(
        session,
        "D1",
        ("mission", start_event("M49", product_code="P1")),
        ("telemetry", ended),
        ("mission", end_event("M49", ended)),
    )
    calls: list[tuple[bool, list[str]]] = []
    real = missions.measure_dirty

    def recorded(s, **kw):
        done = real(s, **kw)
        calls.append((kw.get("include_open", False), done))
        return done

    monkeypatch.setattr(client, "PREVIEW_CHUNK", 1)
    monkeypatch.setattr(client.mission_svc, "measure_dirty", recorded)
    ing = client.Ingester(mqtt_url=None, engine=None)
    ing._measure_now.set()  # the writer stored an end event
    ing._measure_flying(session)
    measured = [mid for _, done in calls for mid in done]
    assert measured[:2] == ["M40", "M49"] and sorted(measured[2:]) == flying[1:]
    assert calls[1] == (False, ["M49"])  # the completed one alone, between two previews
    assert missions.get_mission(session, mission_id="M49").status == "complete"
    assert len(session.exec(select(DiaryEntry)).all()) == 1


def test_previews_pause_between_a_few_missions_and_an_end_cuts_the_pause_short(
    session, scene, monkeypatch
):
    # Previews take a quarter of the measurer's time while more flying missions wait:
    # after each few it pauses three times as long as they took (a second at most), and
    # a mission that ends during a pause is measured at once.
    from drone_ingest import client

    for k in range(3):
        mid = f"M6{k}"
        points = lawnmower(mission_id=mid, passes=1, seq0=1000 * k)
        send(session, "D1", ("mission", start_event(mid, product_code="P1")), ("telemetry", points))
    monkeypatch.setattr(client, "PREVIEW_CHUNK", 1)
    ing = client.Ingester(mqtt_url=None, engine=None)
    pauses: list[float] = []
    took: list[float] = []
    real = missions.measure_dirty

    def timed(s, **kw):
        started = time.monotonic()
        done = real(s, **kw)
        took.append(time.monotonic() - started)
        return done

    class Recorded(threading.Event):
        def wait(self, timeout=None):
            pauses.append(timeout)
            if len(pauses) == 2:  # a mission ends during the second pause
                self.set()
            return super().wait(0)

    monkeypatch.setattr(client.mission_svc, "measure_dirty", timed)
    ing._measure_now = Recorded()
    ing._measure_flying(session)
    assert len(pauses) == 2  # between three previews, none after the last
    for pause, t in zip(pauses, took[:2], strict=True):
        assert pause == pytest.approx(min(1.0, 3 * t), rel=0.05, abs=0.002)
    # The second pause was cut short: the completed missions were measured (none here,
    # one call) before the third preview.
    assert len(took) == 4 and not ing._measure_now.is_set()
