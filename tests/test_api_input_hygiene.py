"""The API's way in: implausible days, two Unicode spellings, NUL in addresses, huge polygons."""

import math
import unicodedata
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from tests.mqtt import stream
from tests.record_helpers import API, rejected, rows

VILLAGE = "Giá Rai"
VILLAGE_NFD = unicodedata.normalize("NFD", VILLAGE)


def _in_days(n: int) -> str:
    return (datetime.now(UTC) + timedelta(days=n)).date().isoformat()


# ---------------------------------------------------------------- implausible days


@pytest.mark.parametrize("year", ["0001", "1999", "9999"])
def test_a_diary_entry_in_an_implausible_year_is_a_422_naming_the_field(
    client, admin_headers, factory, db, year
):
    field = factory.field()
    body = {"field_code": field.code, "activity": "observe"}
    r = client.post(
        f"{API}/diary",
        json=body | {"occurred_at": f"{year}-03-01T08:00:00+07:00"},
        headers=admin_headers,
    )
    rejected(r, 422, "occurred_at")
    assert rows(db, "diary_entries") == {"diary_entries": 0}


def test_a_diary_entry_days_ahead_is_refused_but_today_is_fine(client, admin_headers, factory):
    field = factory.field()
    body = {"field_code": field.code, "activity": "observe"}
    ahead = (datetime.now(UTC) + timedelta(days=3)).isoformat()
    rejected(
        client.post(f"{API}/diary", json=body | {"occurred_at": ahead}, headers=admin_headers),
        422,
        "occurred_at",
        "24 h ahead of now",
    )
    now = datetime.now(UTC).isoformat()
    r = client.post(f"{API}/diary", json=body | {"occurred_at": now}, headers=admin_headers)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("key", "day"),
    [
        ("sown_on", "0001-01-01"),
        ("sown_on", "9999-12-31"),
        ("ended_on", "9999-12-31"),
        ("planned_harvest_on", "9999-01-01"),
    ],
)
def test_a_season_in_an_implausible_year_is_a_422_naming_the_field(
    client, admin_headers, factory, db, key, day
):
    field = factory.field()
    body = {"field_code": field.code, "crop": "lúa", "sown_on": "2026-01-05"} | {key: day}
    rejected(client.post(f"{API}/seasons", json=body, headers=admin_headers), 422, key)
    assert rows(db, "seasons") == {"seasons": 0}


def test_a_season_planned_to_be_harvested_before_it_is_sown_is_refused(
    client, admin_headers, factory
):
    field = factory.field()
    body = {"field_code": field.code, "crop": "lúa", "sown_on": "2026-01-05"}
    r = client.post(
        f"{API}/seasons", json=body | {"planned_harvest_on": "2025-12-01"}, headers=admin_headers
    )
    rejected(r, 422, "planned_harvest_on", "before sown_on")


@pytest.mark.parametrize("day", ["0001-04-10", "9999-04-10", "in 3 days"])
def test_a_lot_harvested_in_an_implausible_year_is_a_422_naming_the_field(
    client, admin_headers, factory, db, day
):
    field = factory.field()
    day = _in_days(3) if day == "in 3 days" else day
    body = {
        "code": "LOT-Y",
        "field_codes": [field.code],
        "harvested_on": day,
        "quantity_kg": 100.0,
        "product_name": "Lúa",
    }
    rejected(client.post(f"{API}/lots", json=body, headers=admin_headers), 422, "harvested_on")
    assert rows(db, "lots") == {"lots": 0}


def test_a_lot_harvested_before_its_field_was_ever_sown_is_refused(
    client, admin_headers, factory, db
):
    field = factory.field()
    factory.season(field, sown_on="2026-01-05")
    body = {
        "code": "LOT-EARLY",
        "field_codes": [field.code],
        "harvested_on": "2025-04-10",
        "quantity_kg": 100.0,
        "product_name": "Lúa",
    }
    rejected(
        client.post(f"{API}/lots", json=body, headers=admin_headers),
        422,
        "harvested_on",
        "before the first season",
        field.code,
    )
    assert rows(db, "lots") == {"lots": 0}
    r = client.post(
        f"{API}/lots", json=body | {"harvested_on": "2026-04-10"}, headers=admin_headers
    )
    assert r.status_code == 201, r.text


# ---------------------------------------------------------------- unicode


def test_a_village_typed_in_nfd_is_the_same_village(client, admin_headers, db):
    assert VILLAGE_NFD != VILLAGE
    for name, village in (("Lê Văn A", VILLAGE), ("Lê Văn B", VILLAGE_NFD)):
        r = client.post(
            f"{API}/farmers", json={"name": name, "village": village}, headers=admin_headers
        )
        assert r.status_code == 201, r.text
        assert r.json()["village"] == VILLAGE
    for query in (VILLAGE, VILLAGE_NFD):
        r = client.get(f"{API}/farmers", params={"village": query}, headers=admin_headers)
        assert r.status_code == 200, r.text
        assert sorted(f["name"] for f in r.json()["data"]) == ["Lê Văn A", "Lê Văn B"]


def test_a_name_sent_in_nfd_is_stored_in_nfc(client, admin_headers):
    name = unicodedata.normalize("NFD", "Nguyễn Thị Ánh")
    r = client.post(f"{API}/farmers", json={"name": name}, headers=admin_headers)
    assert r.status_code == 201 and r.json()["name"] == "Nguyễn Thị Ánh"


# ---------------------------------------------------------------- NUL in addresses


def test_nul_in_a_trace_address_is_the_friendly_not_found(client):
    page = client.get("/t/%00")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "postgres" not in page.text.lower()
    api = client.get(f"{API}/trace/%00")
    assert api.status_code == 404 and "postgres" not in api.text.lower()
    assert client.get("/t/LOT%00X").status_code == 404


@pytest.mark.parametrize(
    "path",
    [
        "/lots/%00",
        "/farmers/%00",
        "/fields/A%00B",
        "/inputs/%00",
        "/drones/%00",
        "/missions/%00",
        "/organisations/%00",
        "/lots?field_code=%00",
        "/farmers?village=%00",
        "/diary?field_code=%00",
        "/ingest/rejects?topic=%00",
    ],
)
def test_nul_in_a_path_or_query_is_a_clear_answer(client, admin_headers, path):
    r = client.get(API + path, headers=admin_headers)
    assert r.status_code in (200, 404, 422), (path, r.status_code, r.text)
    assert "postgres" not in r.text.lower() and "does not fit" not in r.text


# ---------------------------------------------------------------- polygons


def _circle(n: int) -> dict:
    ring = [
        [
            105.43 + 0.001 * math.cos(2 * math.pi * i / n),
            9.23 + 0.001 * math.sin(2 * math.pi * i / n),
        ]
        for i in range(n)
    ]
    return {"type": "Polygon", "coordinates": [ring + [ring[0]]]}


@pytest.mark.parametrize("where", ["fields", "zones"])
def test_a_polygon_with_too_many_vertices_is_refused_naming_the_cap(
    client, admin_headers, factory, where
):
    farmer = factory.farmer()
    props = {"code": "BIG-1", "farmer_id": farmer.id, "kind": "canal"}
    feature = {"type": "Feature", "geometry": _circle(10_001), "properties": props}
    r = client.post(f"{API}/{where}", json=feature, headers=admin_headers)
    rejected(r, 422, "10,000")
    feature["geometry"] = _circle(2_000)
    r = client.post(f"{API}/{where}", json=feature, headers=admin_headers)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("kind", ["ca\x00nal", "ca\u202enal", "\u200b"])
def test_a_zone_kind_the_database_could_differ_on_is_a_422_naming_it(
    client, admin_headers, factory, kind
):
    """SQLite stored a NUL that PostgreSQL refused: now both answer the same 422."""
    farmer = factory.farmer()
    ring = [[105.43, 9.23], [105.431, 9.23], [105.431, 9.231], [105.43, 9.23]]
    feature = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"code": "Z-NUL", "farmer_id": farmer.id, "kind": kind},
    }
    r = client.post(f"{API}/zones", json=feature, headers=admin_headers)
    rejected(r, 422, "kind")
    assert "postgres" not in r.text.lower() and "insert" not in r.text.lower()
    assert client.get(f"{API}/zones/Z-NUL", headers=admin_headers).status_code == 404


# ---------------------------------------------------------------- names that show nothing or lie


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("\u200b", "visible character"),
        (" \u200b\u200d ", "visible character"),
        ("Nguy\u202eN nȃhT", "bidirectional"),
        ("L\u2067ê Văn\u2069 A", "bidirectional"),
    ],
)
def test_a_farmer_name_that_shows_nothing_or_reorders_itself_is_refused(
    client, admin_headers, name, words
):
    r = client.post(f"{API}/farmers", json={"name": name}, headers=admin_headers)
    detail = rejected(r, 422, "name", words)
    assert "body.name" in detail or "name:" in detail, detail
    assert client.get(f"{API}/farmers", headers=admin_headers).json()["count"] == 0


def test_a_lot_product_name_with_a_right_to_left_override_is_refused(
    client, admin_headers, factory
):
    field = factory.field()
    lot = {
        "code": "LOT-RLO",
        "field_codes": [field.code],
        "harvested_on": "2026-04-10",
        "quantity_kg": 100,
        "product_name": "Gạo ST25 \u202e52TS oạG",
    }
    rejected(client.post(f"{API}/lots", json=lot, headers=admin_headers), 422, "product_name")
    lot["product_name"] = unicodedata.normalize("NFD", "Gạo thơm ST25 Phước Long")
    r = client.post(f"{API}/lots", json=lot, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert r.json()["product_name"] == "Gạo thơm ST25 Phước Long"


def test_the_demo_accepts_its_simulated_clock_and_only_while_it_runs(monkeypatch):
    from pydantic import ValidationError

    from agritrace.demo import _accept_simulated_clock
    from traceability.models import DiaryEntryCreate

    monkeypatch.delenv("AGRITRACE_MAX_CLOCK_AHEAD_H", raising=False)
    ahead = datetime.now(UTC) + timedelta(days=30)  # a month of the day at 40x: 18 minutes
    body = {"field_code": "F-1", "activity": "observe", "occurred_at": ahead}
    undo = _accept_simulated_clock()
    try:
        assert DiaryEntryCreate(**body).occurred_at == ahead
    finally:
        undo()
    with pytest.raises(ValidationError, match="occurred_at"):
        DiaryEntryCreate(**body)


def test_an_uploaded_flight_log_with_a_nul_row_keeps_the_others(client, admin_headers, factory):
    factory.drone(code="D1")
    head = b"mission_id,seq,ts,lat,lon,spraying\n"
    rows = [f"UP-1,{i},2026-03-01T08:00:0{i}+07:00,9.23,105.43,false".encode() for i in range(4)]
    rows[2] = rows[2].replace(b"UP-1", b"UP\x00-1")
    r = client.post(
        f"{API}/ingest/logs",
        files={"file": ("flight.csv", head + b"\n".join(rows) + b"\n", "text/csv")},
        data={"drone": "D1"},
        headers=admin_headers,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["stored"], r.json()["rejected"]) == (3, 1)
    kept = client.get(f"{API}/ingest/rejects", headers=admin_headers).json()["items"]
    assert kept[0]["reason"] == "row holds a NUL byte"
    assert "\\u0000" in kept[0]["payload"] and "\x00" not in kept[0]["payload"]


def test_a_flight_log_naming_a_drone_with_a_nul_keeps_the_rest_on_both_backends(
    client, admin_headers, factory
):
    """PostgreSQL refused the whole log (looking the drone up), SQLite kept rejects."""
    factory.drone(code="D1")
    good = [orjson.dumps(p | {"drone_id": "D1"}) for p in stream(2, mission_id="M-OK")]
    bad = [orjson.dumps(p | {"drone_id": "D1\x00"}) for p in stream(2, mission_id="M-NUL")]
    log = {"file": ("flight.jsonl", b"\n".join(good + bad), "application/json")}
    r = client.post(f"{API}/ingest/logs", files=log, headers=admin_headers)
    assert r.status_code == 200, r.text
    assert (r.json()["stored"], r.json()["rejected"]) == (2, 2)
    csv = b"mission_id,seq,ts,lat,lon,spraying\nM-X,0,2026-03-01T08:00:00+07:00,9.23,105.43,false\n"
    unnamed = {"file": ("flight.csv", csv, "text/csv")}
    r = client.post(
        f"{API}/ingest/logs", files=unnamed, data={"drone": "D\x00"}, headers=admin_headers
    )
    assert r.status_code == 200 and r.json()["rejected"] == 1, r.text
    rejects = client.get(f"{API}/ingest/rejects", headers=admin_headers).json()["items"]
    reasons = [i["reason"] for i in rejects]
    assert reasons.count("drone_id must not contain control characters (such as NUL)") == 3
    assert not any("postgres" in x.lower() or "SQL" in x for x in reasons)
