"""Missions, the as-applied map, rejects and flight log upload over HTTP."""

import orjson
import pytest

from drone_ingest import handlers
from drone_ingest.handlers import Message
from tests.mqtt import end_event, lawnmower, start_event
from traceability.services import missions
from traceability.services.organisations import get_organisation

API = "/api/v1"


@pytest.fixture
def flown(session, factory):
    """A completed, measured mission M1 of drone D1 over field F1 (D1 and D2 of service S)."""
    factory.field(code="F1", x0=0, y0=0, width=100, height=200)
    factory.field(code="F2", x0=1000, y0=0)
    factory.input(code="P1", max_dose_per_ha=10.0)
    service = factory.organisation("drone_service", code="S")
    factory.drone(code="D1", swath_m=10.0, organisation=service)
    factory.drone(code="D2", swath_m=10.0, organisation=service)
    points = lawnmower(mission_id="M1")
    payloads = [("mission", start_event("M1", product_code="P1", swath_m=10.0))]
    payloads += [("telemetry", points[i : i + 100]) for i in range(0, len(points), 100)]
    payloads += [("mission", end_event("M1", points)), ("telemetry", b"garbage")]
    messages = [
        Message(topic=f"agri/drones/D1/{k}", payload=p if isinstance(p, bytes) else orjson.dumps(p))
        for k, p in payloads
    ]
    messages.append(
        Message(
            topic="agri/drones/D2/telemetry",
            payload=orjson.dumps(lawnmower(mission_id="M2", passes=1)),
        )
    )
    handlers.store(session, messages, prefix="agri", max_bytes=1_000_000)
    missions.measure_dirty(session)
    return points


def test_mission_read_list_and_filters(client, admin_headers, flown, factory):
    r = client.get(f"{API}/missions/M1", headers=admin_headers)
    assert r.status_code == 200, r.text
    m = r.json()
    for key in (
        "mission_id",
        "drone_id",
        "type",
        "product_code",
        "status",
        "started_at",
        "ended_at",
        "point_count",
        "applied_amount",
        "amount_unit",
        "treated_area_ha",
        "overspray_area_ha",
        "fields",
        "flags",
    ):
        assert key in m
    assert (m["mission_id"], m["drone_id"], m["status"], m["amount_unit"]) == (
        "M1",
        "D1",
        "complete",
        "L",
    )
    assert m["point_count"] == len(flown)
    assert m["fields"][0]["field_code"] == "F1"
    assert set(m["fields"][0]) >= {
        "field_code",
        "treated_area_ha",
        "coverage_pct",
        "applied_amount",
        "dose_per_ha",
    }

    operator = _operator(factory)
    listed = client.get(f"{API}/missions", headers=operator).json()
    assert listed["count"] == 2
    assert [
        x["mission_id"]
        for x in client.get(f"{API}/missions?drone=D2", headers=operator).json()["data"]
    ] == ["M2"]
    assert client.get(f"{API}/missions?status=complete", headers=operator).json()["count"] == 1
    assert [
        x["mission_id"]
        for x in client.get(f"{API}/missions?field_code=F1", headers=operator).json()["data"]
    ] == ["M1"]
    assert client.get(f"{API}/missions?field_code=F2", headers=operator).json()["count"] == 0
    assert client.get(f"{API}/missions?status=paused", headers=operator).status_code == 422
    assert client.get(f"{API}/missions/NOPE", headers=operator).status_code == 404


def test_as_applied_geojson(client, admin_headers, flown):
    r = client.get(f"{API}/missions/M1/geojson", headers=admin_headers)
    assert r.status_code == 200
    doc = r.json()
    assert doc["type"] == "FeatureCollection"
    kinds = {f["properties"]["kind"]: f for f in doc["features"]}
    assert set(kinds) == {"footprint", "track", "field"}
    assert kinds["footprint"]["geometry"]["type"] in ("Polygon", "MultiPolygon")
    assert kinds["field"]["properties"]["field_code"] == "F1"
    assert kinds["track"]["geometry"]["type"] == "LineString"
    assert client.get(f"{API}/missions/NOPE/geojson", headers=admin_headers).status_code == 404


def _operator(factory) -> dict[str, str]:
    """Headers of an operator of S, the service that flies D1 and D2."""
    return factory.token("operator", organisation=get_organisation(factory.session, code="S"))


def test_roles(client, flown, factory):
    farmer = factory.farmer()
    farmer_headers = factory.token("farmer", farmer)
    # A farmer lists the missions over their own fields: none of these.
    assert client.get(f"{API}/missions", headers=farmer_headers).json()["count"] == 0
    for path in ("/missions/M1", "/missions/M1/geojson", "/ingest/rejects", "/zones"):
        assert client.get(API + path, headers=farmer_headers).status_code == 403, path
    # Another drone service's operator sees none of S's missions.
    other = factory.token("operator")
    assert client.get(f"{API}/missions", headers=other).json()["count"] == 0
    assert client.get(f"{API}/ingest/rejects", headers=other).json()["total"] == 0
    for path in ("/missions/M1", "/missions/M1/geojson"):
        assert client.get(API + path, headers=other).status_code == 403, path
    for path in ("/missions", "/missions/M1", "/missions/M1/geojson", "/ingest/rejects", "/zones"):
        assert client.get(API + path).status_code == 401, path


def test_rejects_listed_newest_first(client, flown, factory):
    operator = _operator(factory)
    r = client.get(f"{API}/ingest/rejects", headers=operator)
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == 1
    (item,) = body["items"]
    assert set(item) >= {"topic", "payload", "reason", "received_at"}
    assert item["topic"] == "agri/drones/D1/telemetry" and item["payload"] == "garbage"
    assert "not valid JSON" in item["reason"]
    assert client.get(f"{API}/ingest/rejects?topic=D2", headers=operator).json()["total"] == 0


def test_upload_flight_log(client, flown, factory):
    operator = _operator(factory)
    late = lawnmower(mission_id="M3", passes=2, seq0=5000)
    lines = [orjson.dumps(start_event("M3", product_code="P1", swath_m=10.0))]
    lines += [orjson.dumps(p) for p in late] + [
        orjson.dumps(flown[0]),
        b"[1,2",
        orjson.dumps(end_event("M3", late)),
    ]
    r = client.post(
        f"{API}/ingest/logs",
        headers=operator,
        files={"file": ("flight.jsonl", b"\n".join(lines), "application/x-ndjson")},
        data={"drone": "D1"},
    )
    assert r.status_code == 200, r.text
    assert r.json() | {"missions": None} == {
        "stored": len(late),
        "duplicates": 1,
        "rejected": 1,
        "conflicts": 0,
        "events": 2,
        "missions": None,
    }
    m = client.get(f"{API}/missions/M3", headers=operator).json()
    assert m["status"] == "complete" and m["measured_at"] and m["treated_area_ha"] > 0

    csv_body = (
        b"mission_id,seq,ts,lat,lon,spraying\nM4,1,2026-03-01T01:00:00+00:00,9.2,105.4,true\n"
    )
    r = client.post(
        f"{API}/ingest/logs", headers=operator, files={"file": ("x.csv", csv_body, "text/csv")}
    )
    assert r.json()["rejected"] == 1  # no drone named anywhere: kept as a reject
    assert (
        client.post(
            f"{API}/ingest/logs", headers=operator, files={"file": ("x.csv", b"", "text/csv")}
        ).status_code
        == 422
    )
    bad_header = b"a,b\n1,2\n"
    r = client.post(
        f"{API}/ingest/logs", headers=operator, files={"file": ("x.csv", bad_header, "text/csv")}
    )
    assert r.status_code == 422 and "mission_id" in r.json()["detail"]
    farmer = factory.token("farmer", factory.farmer())
    assert (
        client.post(
            f"{API}/ingest/logs", headers=farmer, files={"file": ("x.csv", csv_body, "text/csv")}
        ).status_code
        == 403
    )
