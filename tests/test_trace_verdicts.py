"""Verdicts a buyer relies on: records made after the facts cannot turn a non-compliant lot
into "PHI respected" — a later season, a backdated harvest, a drone's events dated away from
its fixes, a banned product applied by drone."""

import re
from datetime import UTC, date, datetime, timedelta

import orjson
import pytest
from sqlmodel import Session, select

from drone_ingest import handlers
from drone_ingest.handlers import Message
from drone_ingest.publisher import Publisher
from tests.mqtt import (  # noqa: F401 - fixtures
    broker_fixture,
    forget_session,
    ingester,
    lawnmower,
    prefix_fixture,
    publish_points,
    wait_until,
)
from traceability.models import Mission
from traceability.services import missions
from traceability.services import trace as svc


@pytest.fixture(autouse=True)
def _fresh_cache():
    svc.clear_cache()


def local(text: str) -> datetime:
    """A timestamp written in Vietnam time."""
    return datetime.fromisoformat(text + "+07:00")


def spray(factory, field, product, when: str):
    return factory.entry(
        field,
        activity="spray",
        input_code=product.code,
        quantity=0.5,
        area_ha=1.0,
        occurred_at=local(when),
    )


def lot_phi(data: dict) -> dict:
    return next(x for x in data["phi"]["lots"] if x["lot_code"] == data["lot"]["code"])


def page_and_json(client, code: str) -> tuple[dict, str, str]:
    r = client.get(f"/api/v1/trace/{code}")
    assert r.status_code == 200, r.text
    vi = client.get(f"/t/{code}").text
    en = client.get(f"/t/{code}", params={"lang": "en"}).text
    return r.json(), vi, en


# ---------------------------------------------------------------- 1. a later season


def _season_then_spray(factory, *, second_season: bool):
    field = factory.field()
    product = factory.input(phi_days=14)
    factory.season(field, sown_on=date(2026, 9, 1))
    spray(factory, field, product, "2026-11-28T08:00:00")
    if second_season:
        # "Sown" the day after the spray, recorded after it: it must not shorten the window.
        factory.season(field, sown_on=date(2026, 11, 29))
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 12, 1))
    return field, product, lot


@pytest.mark.parametrize("second_season", [False, True])
def test_a_later_season_does_not_launder_a_spray(session, factory, client, second_season):
    _field, product, lot = _season_then_spray(factory, second_season=second_season)

    data, vi, en = page_and_json(client, lot.code)

    assert data["phi_compliant"] is False
    [p] = lot_phi(data)["products"]
    assert p["product_code"] == product.code
    # 28 Nov to 1 Dec: 3 days, against a 14-day PHI.
    assert p["days_before_harvest"] == 3 and p["phi_compliant"] is False
    assert data["seasons"][0]["window"]["start"] == "2026-09-01"
    assert "no pesticide" not in " ".join(lot_phi(data)["notes"])
    assert 'data-phi="false"' in vi and "Không đạt" in vi
    assert "PHI not respected" in en


def test_a_previous_crop_harvested_in_a_lot_closes_its_season(session, factory):
    """The rule does not reach into an earlier crop that was harvested: its season ends there."""
    field = factory.field()
    product = factory.input(phi_days=14)
    factory.season(field, sown_on=date(2026, 1, 5))
    spray(factory, field, product, "2026-03-30T08:00:00")
    factory.lot(fields_=[field], harvested_on=date(2026, 4, 20))  # 21 days: kept
    factory.season(field, sown_on=date(2026, 5, 1))
    later = factory.lot(fields_=[field], harvested_on=date(2026, 8, 1))

    data = svc.build_trace(session, code=later.code)

    assert data["seasons"][0]["window"]["start"] == date(2026, 5, 1)
    assert lot_phi(data)["products"] == []
    assert data["phi_compliant"] is True


def test_a_season_recorded_after_the_lot_does_not_change_its_window(session, factory):
    field = factory.field()
    factory.season(field, sown_on=date(2026, 9, 1))
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 12, 1))
    factory.season(field, sown_on=date(2026, 6, 1))  # recorded later, backdated earlier

    data = svc.build_trace(
        session, code=lot.code, st=svc.lot_structure(session, code=lot.code, cached=False)
    )

    assert data["seasons"][0]["window"]["start"] == date(2026, 9, 1)


# ------------------------------------------- 1b. records that would close a season afterwards


def post(client, headers, path: str, body: dict) -> dict:
    """A record made through the API, in the order a farmer or an attacker would make it."""
    r = client.post(f"/api/v1/{path}", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def api_spray(client, headers, field, product, when: str) -> dict:
    return post(
        client,
        headers,
        "diary",
        {
            "field_code": field.code,
            "activity": "spray",
            "input_code": product.code,
            "quantity": 0.5,
            "area_ha": 1.0,
            "occurred_at": when + "+07:00",
        },
    )


def api_season(client, headers, field, sown_on: str, **kw) -> dict:
    body = {"field_code": field.code, "crop": "lúa", "variety": "ST25", "sown_on": sown_on}
    return post(client, headers, "seasons", body | kw)


def api_lot(client, headers, field, harvested_on: str, code: str) -> dict:
    body = {
        "code": code,
        "field_codes": [field.code],
        "harvested_on": harvested_on,
        "quantity_kg": 4000.0,
        "product_name": "Lúa ST25",
    }
    return post(client, headers, "lots", body)


def assert_spray_fails(client, code: str, product_code: str, days: int) -> None:
    """The lot fails on the spray, in the JSON and on the page in both languages."""
    data, vi, en = page_and_json(client, code)
    assert data["phi_compliant"] is False
    [p] = lot_phi(data)["products"]
    assert p["product_code"] == product_code
    assert p["days_before_harvest"] == days and p["phi_compliant"] is False
    assert "no pesticide" not in " ".join(lot_phi(data)["notes"])
    assert 'data-phi="false"' in vi and "Không đạt" in vi
    assert "PHI not respected" in en


def test_a_fake_earlier_lot_does_not_launder_a_spray_for_the_next_lot(
    session, factory, client, admin_headers
):
    """Sown 1 Sep, sprayed 28 Nov with a 14-day product; then a lot "harvested" on 27 Nov is
    recorded against that season (it fails itself: the spray was already in the record),
    a season "sown" 29 Nov, and the real lot on 1 Dec. The fake lot shows only what was
    dated by its harvest, so the spray stays in the real lot's window: 28 Nov to 1 Dec is
    3 days against 14 (counted by hand)."""
    field = factory.field()
    product = factory.input(phi_days=14)
    api_season(client, admin_headers, field, "2026-09-01")
    api_spray(client, admin_headers, field, product, "2026-11-28T08:00:00")
    api_lot(client, admin_headers, field, "2026-11-27", "FAKE-0001")
    api_season(client, admin_headers, field, "2026-11-29")
    api_lot(client, admin_headers, field, "2026-12-01", "REAL-0001")

    assert_spray_fails(client, "REAL-0001", product.code, 3)
    # The fake lot fails too: the spray is a day after its declared harvest.
    assert_spray_fails(client, "FAKE-0001", product.code, -1)


def test_a_fake_lot_harvested_just_after_the_spray_does_not_launder_it_either(
    session, factory, client, admin_headers
):
    """The same attack with the fake lot dated *after* the spray: sprayed 28 Nov 08:00 with a
    14-day product, a lot "harvested" that day is recorded (it fails: 0 days against 14),
    a season "sown" 29 Nov, the real lot on 1 Dec. A lot harvested within the spray's
    interval does not close it for the next lot: 28 Nov to 1 Dec is 3 days against 14."""
    field = factory.field()
    product = factory.input(phi_days=14)
    api_season(client, admin_headers, field, "2026-09-01")
    api_spray(client, admin_headers, field, product, "2026-11-28T08:00:00")
    api_lot(client, admin_headers, field, "2026-11-28", "FAKE-0002")
    api_season(client, admin_headers, field, "2026-11-29")
    api_lot(client, admin_headers, field, "2026-12-01", "REAL-0002")

    assert_spray_fails(client, "FAKE-0002", product.code, 0)
    assert_spray_fails(client, "REAL-0002", product.code, 3)


def test_a_banned_product_is_not_closed_by_an_earlier_lot(session, factory, client, admin_headers):
    """A banned product sprayed 1 Aug, a lot of that crop on 21 Aug (it fails), the next crop
    sown 1 Sep and harvested 1 Dec: 122 days after the spray (1 Aug to 1 Dec by hand:
    30 + 30 + 31 + 30 + 1), within the 180 days a lot's window reaches back, so the next
    lot fails on it too: an earlier lot cannot carry a banned product away."""
    field = factory.field()
    banned = factory.input(phi_days=7, registration_status="banned")
    api_season(client, admin_headers, field, "2026-06-01")
    api_spray(client, admin_headers, field, banned, "2026-08-01T08:00:00")
    api_lot(client, admin_headers, field, "2026-08-21", "EARLY-BAN")
    api_season(client, admin_headers, field, "2026-09-01")
    api_lot(client, admin_headers, field, "2026-12-01", "NEXT-BAN")

    for code, days in (("EARLY-BAN", 20), ("NEXT-BAN", 122)):
        data, vi, _en = page_and_json(client, code)
        item = lot_phi(data)
        [p] = item["products"]
        assert p["product_code"] == banned.code and p["days_before_harvest"] == days
        assert data["phi_compliant"] is False and [
            b["product_code"] for b in item["banned_applications"]
        ] == [banned.code]
        assert "data-banned" in vi


def test_an_earlier_lot_harvested_after_the_spray_carries_it_and_closes_it(
    session, factory, client, admin_headers
):
    """The honest order: the spray, then its crop's lot harvested 20 days later (compliant),
    then the next crop. The earlier lot shows the spray, so the next lot does not."""
    field = factory.field()
    product = factory.input(phi_days=14)
    api_season(client, admin_headers, field, "2026-06-01")
    api_spray(client, admin_headers, field, product, "2026-08-01T08:00:00")
    api_lot(client, admin_headers, field, "2026-08-21", "EARLY-0001")
    api_season(client, admin_headers, field, "2026-09-01")
    api_lot(client, admin_headers, field, "2026-12-01", "NEXT-0001")

    early, _vi, _en = page_and_json(client, "EARLY-0001")
    [p] = lot_phi(early)["products"]
    assert p["days_before_harvest"] == 20 and early["phi_compliant"] is True
    data, vi, en = page_and_json(client, "NEXT-0001")
    assert data["phi_compliant"] is True and lot_phi(data)["products"] == []
    assert 'data-phi="true"' in vi


@pytest.mark.parametrize("ended_on", ["2026-11-27", "2026-11-28"])
def test_a_season_ended_before_the_spray_afterwards_does_not_launder_it(
    session, factory, client, admin_headers, ended_on
):
    """Sprayed 28 Nov on a field; then a season is recorded "sown 1 Sep, ended 27 Nov" (or
    ended on the spray's own day), a new one "sown 29 Nov", and the lot harvested 1 Dec.
    An end recorded after the spray cannot take it out: 3 days against 14."""
    field = factory.field()
    product = factory.input(phi_days=14)
    api_spray(client, admin_headers, field, product, "2026-11-28T08:00:00")
    api_season(client, admin_headers, field, "2026-09-01", ended_on=ended_on)
    api_season(client, admin_headers, field, "2026-11-29")
    api_lot(client, admin_headers, field, "2026-12-01", "LOT-ENDED")

    assert_spray_fails(client, "LOT-ENDED", product.code, 3)


def test_a_season_sown_after_the_spray_and_recorded_after_it_does_not_launder_it(
    session, factory, client, admin_headers
):
    """No season at all when the spray is recorded; then one "sown" the next day. A field
    with no season looks back 180 days; a sowing recorded after the spray cannot cut that."""
    field = factory.field()
    product = factory.input(phi_days=14)
    api_spray(client, admin_headers, field, product, "2026-11-28T08:00:00")
    api_season(client, admin_headers, field, "2026-11-29")
    api_lot(client, admin_headers, field, "2026-12-01", "LOT-SOWN")

    assert_spray_fails(client, "LOT-SOWN", product.code, 3)


# ---------------------------------------------------------------- 2. a backdated harvest


def test_a_backdated_harvest_shows_the_sprays_already_recorded(session, factory, client):
    field = factory.field()
    product = factory.input(phi_days=14)
    factory.season(field, sown_on=date(2026, 9, 1))
    spray(factory, field, product, "2026-11-28T08:00:00")
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 11, 27))

    data, vi, en = page_and_json(client, lot.code)

    assert data["phi_compliant"] is False
    [p] = lot_phi(data)["products"]
    # Applied the day after the declared harvest: -1 day, a failing point, not dropped.
    assert p["days_before_harvest"] == -1 and p["phi_compliant"] is False
    assert "after the recorded harvest" in p["reason"]
    assert any("recorded harvest" in n for n in lot_phi(data)["notes"])
    assert "data-after-harvest" in vi and "before the lot was recorded" in en


def test_work_recorded_after_the_lot_and_dated_after_its_harvest_is_the_next_crop_s(
    session, factory
):
    field = factory.field()
    product = factory.input(phi_days=14)
    factory.season(field, sown_on=date(2026, 9, 1))
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 11, 27))
    spray(factory, field, product, "2026-11-28T08:00:00")

    data = svc.build_trace(session, code=lot.code)

    assert data["phi_compliant"] is True and lot_phi(data)["products"] == []


# ---------------------------------------------------------------- 3 and 4. drones


def send(session: Session, drone: str, *payloads: tuple[str, object]) -> None:
    messages = [
        Message(topic=f"agri/drones/{drone}/{kind}", payload=orjson.dumps(p), qos=1, mid=1)
        for kind, p in payloads
    ]
    handlers.store(session, messages, prefix="agri", max_bytes=10_000_000)


def fly(session, mission_id: str, *, fixes_at: datetime, events_at: datetime, **start):
    """A mission over the field at the origin whose fixes start at ``fixes_at`` and whose
    start event is dated ``events_at`` (its end event as long after it as the flight took)."""
    points = lawnmower(mission_id=mission_id, passes=6, t0=fixes_at)
    flight = datetime.fromisoformat(points[-1]["ts"]) - fixes_at
    start_event = {"event": "start", "mission_id": mission_id, "ts": events_at.isoformat()}
    end_event = {"event": "end", "mission_id": mission_id, "ts": (events_at + flight).isoformat()}
    send(
        session,
        "D1",
        ("mission", start_event | {"type": "spray"} | start),
        *[("telemetry", points[i : i + 100]) for i in range(0, len(points), 100)],
        ("mission", end_event),
    )
    missions.measure_dirty(session)
    return missions.get_mission(session, mission_id=mission_id), points


@pytest.fixture
def drone_field(factory):
    field = factory.field(code="F1", x0=0, y0=0, width=100, height=200)
    factory.season(field, sown_on=date(2026, 9, 1))
    factory.drone(code="D1", swath_m=10.0)
    return field


def test_a_drone_spray_is_dated_by_its_fixes_not_its_events(session, factory, client, drone_field):
    product = factory.input(code="P1", phi_days=14, max_dose_per_ha=10.0)
    fixes_at = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)  # 08:00 on 28 Nov in Vietnam
    m, points = fly(
        session,
        "M-LATE",
        fixes_at=fixes_at,
        events_at=datetime(2026, 9, 15, 1, 0, tzinfo=UTC),
        product_code=product.code,
        tank_mix={"product_per_l": 0.05},
    )
    lot = factory.lot(fields_=[drone_field], harvested_on=date(2026, 12, 1))

    [flag] = [f for f in m.flags if f["code"] == "event_time_mismatch"][:1]
    assert flag["event"] == "start" and flag["fix_at"] == "2026-11-28T01:00:00+00:00"
    assert {f["event"] for f in m.flags if f["code"] == "event_time_mismatch"} == {"start", "end"}
    assert m.first_fix_at == fixes_at
    assert m.last_fix_at == datetime.fromisoformat(points[-1]["ts"])
    data, vi, _en = page_and_json(client, lot.code)
    assert data["phi_compliant"] is False
    [p] = lot_phi(data)["products"]
    assert p["last_application_on"] == "2026-11-28" and p["days_before_harvest"] == 3
    assert 'data-phi="false"' in vi
    # The drone's diary line is dated by the fixes too.
    entries = client.get(
        "/api/v1/diary", params={"field_code": "F1"}, headers=factory.token("admin")
    ).json()["data"]
    assert [e["occurred_at"][:10] for e in entries if e["source"] == "drone"] == ["2026-11-28"]


def test_a_drone_spray_over_mqtt_is_dated_by_its_fixes_on_the_trace(
    broker, db, prefix, factory, client, drone_field
):
    """The same, end to end: the drone publishes to the broker, the ingester stores and
    measures, the buyer's page and JSON judge the lot."""
    factory.input(code="P1", phi_days=14, max_dose_per_ha=10.0)
    mid = f"M-{prefix}"
    points = lawnmower(mission_id=mid, passes=6, t0=datetime(2026, 11, 28, 1, 0, tzinfo=UTC))
    events_at = datetime(2026, 9, 15, 1, 0, tzinfo=UTC)
    ing = ingester(broker.url, db, prefix, share_group=broker.share_group)
    pub = Publisher(mqtt_url=broker.url)
    try:
        topic = f"{prefix}/drones/D1/mission"
        start = {"event": "start", "mission_id": mid, "ts": events_at.isoformat()}
        pub.publish(topic, orjson.dumps(start | {"type": "spray", "product_code": "P1"}))
        publish_points(pub, prefix, "D1", points)
        end = {
            "event": "end",
            "mission_id": mid,
            "ts": (events_at + timedelta(minutes=5)).isoformat(),
        }
        pub.publish(topic, orjson.dumps(end))
        pub.flush()

        def measured() -> Mission | None:
            with Session(db) as s:
                m = s.exec(select(Mission).where(Mission.mission_id == mid)).first()
                return m if m is not None and m.status == "complete" and not m.dirty else None

        wait_until(lambda: measured() is not None, timeout=60, what="the mission measured")
    finally:
        pub.close()
        ing.stop()
        forget_session(broker.url, ing.client_id)
    assert {f["event"] for f in measured().flags if f["code"] == "event_time_mismatch"} == {
        "start",
        "end",
    }
    lot = factory.lot(fields_=[drone_field], harvested_on=date(2026, 12, 1))
    data, vi, en = page_and_json(client, lot.code)
    assert data["phi_compliant"] is False
    [p] = lot_phi(data)["products"]
    assert p["last_application_on"] == "2026-11-28" and p["days_before_harvest"] == 3
    assert 'data-phi="false"' in vi and "PHI not respected" in en


def test_events_that_agree_with_the_fixes_raise_no_time_flag(session, factory, drone_field):
    factory.input(code="P1", phi_days=14, max_dose_per_ha=10.0)
    at = datetime(2026, 11, 28, 1, 0, tzinfo=UTC)
    m, _ = fly(session, "M-OK", fixes_at=at, events_at=at - timedelta(minutes=2), product_code="P1")
    assert "event_time_mismatch" not in {f["code"] for f in m.flags}


def test_a_banned_granule_sprayed_by_drone_fails_and_is_flagged(
    session, factory, client, drone_field
):
    furadan = factory.input(
        code="FURADAN3GR",
        name="Furadan 3GR",
        unit="kg",
        phi_days=30,
        max_dose_per_ha=30.0,
        registration_status="banned",
        application_method="spread",
    )
    at = datetime(2026, 10, 1, 1, 0, tzinfo=UTC)  # 61 days before harvest: its PHI is kept
    m, _ = fly(session, "M-FURADAN", fixes_at=at, events_at=at, product_code=furadan.code)
    lot = factory.lot(fields_=[drone_field], harvested_on=date(2026, 12, 1))

    flags = {f["code"]: f for f in m.flags}
    assert flags["banned_product"]["product_code"] == "FURADAN3GR"
    method = flags["application_method"]
    assert (method["product_method"], method["mission_method"]) == ("spread", "spray")
    data, vi, en = page_and_json(client, lot.code)
    item = lot_phi(data)
    [p] = item["products"]
    assert p["days_before_harvest"] == 61 and p["phi_compliant"] is True
    # Its PHI was kept, but a banned product fails the lot all the same.
    assert item["own_fields_compliant"] is False and data["phi_compliant"] is False
    [banned] = item["banned_applications"]
    assert banned["product_code"] == "FURADAN3GR" and banned["mission_id"] == "M-FURADAN"
    assert "data-banned" in vi and "A banned product was applied" in en
    # Its row in the PHI table says so beside its PHI badge.
    assert re.search(r"Furadan 3GR.{0,200}data-banned-product>Thuốc cấm<", vi, re.S)


def test_a_banned_product_is_a_row_in_the_reports_and_the_office_s_flagged_list(
    session, factory, client, admin_headers, drone_field
):
    factory.input(
        code="FURADAN3GR", unit="kg", phi_days=30, registration_status="banned",
        application_method="spread",
    )  # fmt: skip
    at = datetime(2026, 10, 1, 1, 0, tzinfo=UTC)
    fly(session, "M-FURADAN", fixes_at=at, events_at=at, product_code="FURADAN3GR")

    def report(name: str, **params) -> list[dict]:
        r = client.get(f"/api/v1/reports/{name}", headers=admin_headers, params=params)
        assert r.status_code == 200, r.text
        return r.json()["data"]

    [record] = report("pesticide-records")
    assert (record["product_code"], record["registration_status"]) == ("FURADAN3GR", "banned")
    assert record["mission_id"] == "M-FURADAN"
    rows = report("field-season", field="F1")
    assert {
        (r["section"], r["registration_status"]) for r in rows if r["section"] != "mission"
    } == {
        ("application", "banned"),
        ("product", "banned"),
    }
    office = factory.token("office")
    html = client.get("/office/", headers=office, params={"from": "2026-09-28", "to": "2026-10-04"})
    flagged = html.text[html.text.index('id="flagged"') :]
    assert "M-FURADAN" in flagged and "Thuốc cấm" in flagged


def test_a_granule_broadcast_by_a_spreader_is_the_right_method(session, factory, drone_field):
    factory.input(
        code="UREA46", kind="fertilizer", unit="kg", phi_days=None, application_method="spread"
    )
    at = datetime(2026, 10, 1, 1, 0, tzinfo=UTC)
    m, _ = fly(
        session, "M-UREA", fixes_at=at, events_at=at, product_code="UREA46", type="fertilize"
    )
    codes = {f["code"] for f in m.flags}
    assert "application_method" not in codes and "banned_product" not in codes


# ---------------------------------------------------------------- 7. the label's precision


@pytest.mark.parametrize(
    ("dose", "label", "over"),
    [
        (100.0, 100.0, False),
        (100.02, 100.0, False),  # 100 to three figures
        (100.49, 100.0, False),
        (100.5, 100.0, True),  # 101
        (0.0755, 0.075, True),  # 0.0755 > 0.075
        (0.07504, 0.075, False),  # 0.0750
        (1.005, 1.0, True),  # half up on the decimal, not on the binary 1.00499999...
        (1.0049, 1.0, False),
        (0.1 + 0.2, 0.3, False),  # float noise
    ],
)
def test_a_dose_is_held_against_the_label_at_the_label_s_precision(dose, label, over):
    from traceability.services.applications import above_label

    assert above_label(dose, label) is over


# ---------------------------------------------------------------- 5. the harvest's time


def test_a_harvest_time_splits_its_day(session, factory, client, admin_headers):
    field = factory.field()
    product = factory.input(phi_days=0)
    factory.season(field, sown_on=date(2026, 9, 1))
    spray(factory, field, product, "2026-12-01T07:00:00")  # before the harvest that morning
    r = client.post(
        "/api/v1/lots",
        json={
            "code": "LOT-TIME",
            "field_codes": [field.code],
            "harvested_on": "2026-12-01",
            "harvested_at": "2026-12-01T10:30:00+07:00",
            "quantity_kg": 1000,
            "product_name": "Lúa ST25",
        },
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["harvested_at"] == "2026-12-01T03:30:00Z"
    # In the afternoon, recorded after the lot: the next crop's, not this lot's.
    spray(factory, field, product, "2026-12-01T15:00:00")

    data = client.get("/api/v1/trace/LOT-TIME").json()

    assert data["lot"]["harvested_at"] == "2026-12-01T03:30:00Z"
    [p] = lot_phi(data)["products"]
    assert [a["at"] for a in p["applications"]] == ["2026-12-01T00:00:00Z"]
    # A PHI of 0 days kept on the day itself.
    assert p["days_before_harvest"] == 0 and data["phi_compliant"] is True


def test_a_harvest_time_on_another_day_than_harvested_on_is_refused(factory, client, admin_headers):
    field = factory.field()
    r = client.post(
        "/api/v1/lots",
        json={
            "code": "LOT-BAD",
            "field_codes": [field.code],
            "harvested_on": "2026-12-01",
            # 16:00 on 30 November in UTC is still 30 November (23:00) in Vietnam.
            "harvested_at": "2026-11-30T16:00:00Z",
            "quantity_kg": 1000,
            "product_name": "Lúa ST25",
        },
        headers=admin_headers,
    )
    assert r.status_code == 422 and "2026-11-30 in Vietnam time" in r.text
