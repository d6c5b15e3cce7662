"""Input products: the catalogue of pesticides, fertilizers and seed."""

import pytest

from tests.record_helpers import API, rejected, rows

PRODUCT = {
    "code": "ANVIL5SC",
    "name": "Anvil 5SC",
    "kind": "pesticide",
    "unit": "L",
    "phi_days": 14,
    "max_dose_per_ha": 1.0,
    "active_ingredient": "hexaconazole 50 g/L",
    "registration_no": "VN-1234",
}


def test_create_read(client, admin_headers):
    r = client.post(f"{API}/inputs", json=PRODUCT, headers=admin_headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] > 0 and {k: body[k] for k in PRODUCT} == PRODUCT
    got = client.get(f"{API}/inputs/ANVIL5SC", headers=admin_headers)
    assert got.status_code == 200 and got.json() == body


def test_list_by_kind_and_paging(client, admin_headers, factory):
    for i in range(3):
        factory.input(code=f"PEST-{i}")
    factory.input(code="UREA", kind="fertilizer", unit="kg", phi_days=None)
    factory.input(code="ST25-SEED", kind="seed", unit="kg", phi_days=None)
    listed = client.get(f"{API}/inputs", params={"limit": 2}, headers=admin_headers).json()
    assert listed["count"] == 5 and len(listed["data"]) == 2
    rest = client.get(f"{API}/inputs", params={"offset": 2}, headers=admin_headers).json()
    codes = [p["code"] for p in listed["data"] + rest["data"]]
    assert codes == sorted(codes) and len(set(codes)) == 5
    seed = client.get(f"{API}/inputs", params={"kind": "seed"}, headers=admin_headers).json()
    assert [p["code"] for p in seed["data"]] == ["ST25-SEED"]
    rejected(
        client.get(f"{API}/inputs", params={"kind": "magic"}, headers=admin_headers), 422, "kind"
    )


def test_everyone_signed_in_reads_only_admin_writes(client, factory, db):
    factory.input(code="P1")
    farmer = factory.farmer()
    for headers in (factory.token("operator"), factory.token("farmer", farmer)):
        assert client.get(f"{API}/inputs", headers=headers).json()["count"] == 1
        assert client.get(f"{API}/inputs/P1", headers=headers).status_code == 200
        rejected(client.post(f"{API}/inputs", json=PRODUCT, headers=headers), 403, "admin")
    rejected(client.get(f"{API}/inputs"), 401)
    assert rows(db, "inputs") == {"inputs": 1}


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"kind": "herbicide-ish"}, ["kind"]),
        ({"unit": "gallon"}, ["unit"]),
        ({"unit": "l"}, ["unit"]),
        ({"kind": "seed", "unit": "L"}, ["seed", "kg"]),
        ({"phi_days": -1}, ["phi_days"]),
        ({"phi_days": 1.5}, ["phi_days"]),
        ({"max_dose_per_ha": 0}, ["max_dose_per_ha"]),
        ({"code": "A B"}, ["code"]),
        ({"code": None}, ["code"]),
        ({"name": ""}, ["name"]),
        ({"colour": "red"}, ["colour"]),
    ],
)
def test_bad_input_product(client, admin_headers, db, change, words):
    rejected(
        client.post(f"{API}/inputs", json=PRODUCT | change, headers=admin_headers), 422, *words
    )
    assert rows(db, "inputs") == {"inputs": 0}


def test_duplicate_code(client, admin_headers, db):
    assert client.post(f"{API}/inputs", json=PRODUCT, headers=admin_headers).status_code == 201
    again = client.post(f"{API}/inputs", json=PRODUCT | {"name": "other"}, headers=admin_headers)
    rejected(again, 409, "ANVIL5SC", "already exists")
    assert rows(db, "inputs") == {"inputs": 1}


def test_unknown_input(client, admin_headers):
    rejected(client.get(f"{API}/inputs/NOPE", headers=admin_headers), 404, "NOPE")
