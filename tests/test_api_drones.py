"""Drones: operators and admins register and read the fleet; nobody else does."""

import pytest

from tests.record_helpers import API, rejected, rows

DRONE = {"code": "BL-DR-001", "model": "DJI Agras T40", "swath_m": 11.0, "tank_capacity": 40.0}


def test_operator_registers_and_reads(client, factory):
    headers = factory.token("operator")
    r = client.post(f"{API}/drones", json=DRONE | {"operator": "HTX Giá Rai"}, headers=headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] > 0 and {k: body[k] for k in DRONE} == DRONE
    got = client.get(f"{API}/drones/BL-DR-001", headers=headers)
    assert got.status_code == 200 and got.json() == body


def test_list_filter_and_paging(client, admin_headers, factory):
    for i in range(4):
        factory.drone(code=f"BL-DR-{i:03d}", operator="HTX A" if i < 3 else "HTX B")
    listed = client.get(f"{API}/drones", params={"limit": 3}, headers=admin_headers).json()
    assert listed["count"] == 4 and [d["code"] for d in listed["data"]] == [
        "BL-DR-000",
        "BL-DR-001",
        "BL-DR-002",
    ]
    rest = client.get(f"{API}/drones", params={"offset": 3}, headers=admin_headers).json()
    assert [d["code"] for d in rest["data"]] == ["BL-DR-003"]
    b = client.get(f"{API}/drones", params={"operator": "HTX B"}, headers=admin_headers).json()
    assert [d["code"] for d in b["data"]] == ["BL-DR-003"]


def test_farmers_and_anonymous_have_no_fleet_access(client, factory, db):
    factory.drone(code="BL-DR-009")
    headers = factory.token("farmer", factory.farmer())
    rejected(client.post(f"{API}/drones", json=DRONE, headers=headers), 403, "operator")
    rejected(client.get(f"{API}/drones", headers=headers), 403)
    rejected(client.get(f"{API}/drones/BL-DR-009", headers=headers), 403)
    rejected(client.post(f"{API}/drones", json=DRONE), 401)
    rejected(client.get(f"{API}/drones"), 401)
    assert rows(db, "drones") == {"drones": 1}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"code": "BL/DR/1"}, ["code"]),  # would split the MQTT topic
        ({"code": "BL+1"}, ["code"]),  # an MQTT wildcard
        ({"code": "#"}, ["code"]),
        ({"code": ""}, ["code"]),
        ({"swath_m": 0}, ["swath_m"]),
        ({"swath_m": 500}, ["swath_m"]),
        ({"tank_capacity": -4}, ["tank_capacity"]),
        ({"swath_m": "wide"}, ["swath_m"]),
        ({"rotors": 8}, ["rotors"]),
    ],
)
def test_bad_drone(client, admin_headers, db, change, words):
    rejected(client.post(f"{API}/drones", json=DRONE | change, headers=admin_headers), 422, *words)
    assert rows(db, "drones") == {"drones": 0}


def test_duplicate_code(client, admin_headers, db):
    assert client.post(f"{API}/drones", json=DRONE, headers=admin_headers).status_code == 201
    rejected(client.post(f"{API}/drones", json=DRONE, headers=admin_headers), 409, "BL-DR-001")
    assert rows(db, "drones") == {"drones": 1}


def test_unknown_drone(client, admin_headers):
    rejected(client.get(f"{API}/drones/BL-DR-999", headers=admin_headers), 404, "BL-DR-999")


def test_model_longer_than_its_column_is_refused_on_every_backend(client, admin_headers, db):
    # The column holds 100 characters: SQLite would store more, PostgreSQL would refuse.
    r = client.post(f"{API}/drones", json=DRONE | {"model": "M" * 150}, headers=admin_headers)
    rejected(r, 422, "model", "at most 100 characters")
    assert rows(db, "drones") == {"drones": 0}
    r = client.post(f"{API}/drones", json=DRONE | {"model": "M" * 100}, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert r.json()["model"] == "M" * 100
