"""Crop seasons: create on one's own field, read, list with filters and paging, bad input."""

import pytest

from tests.record_helpers import API, rejected, rows


def _season(code, **kw):
    return {"field_code": code, "crop": "lúa", "variety": "ST25", "sown_on": "2026-01-05"} | kw


def test_create_read(client, admin_headers, factory):
    field = factory.field()
    r = client.post(
        f"{API}/seasons", json=_season(field.code, ended_on="2026-04-20"), headers=admin_headers
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["id"] > 0 and body["field_code"] == field.code
    assert (body["crop"], body["variety"], body["sown_on"], body["ended_on"]) == (
        "lúa",
        "ST25",
        "2026-01-05",
        "2026-04-20",
    )
    got = client.get(f"{API}/seasons/{body['id']}", headers=admin_headers)
    assert got.status_code == 200 and got.json() == body


def test_farmer_starts_seasons_on_own_fields_only(client, factory, db):
    me, other = factory.farmer(), factory.farmer()
    mine, theirs = factory.field(farmer=me), factory.field(farmer=other)
    headers = factory.token("farmer", me)
    assert (
        client.post(f"{API}/seasons", json=_season(mine.code), headers=headers).status_code == 201
    )
    rejected(
        client.post(f"{API}/seasons", json=_season(theirs.code), headers=headers), 403, theirs.code
    )
    operator = factory.token("operator")
    rejected(client.post(f"{API}/seasons", json=_season(mine.code), headers=operator), 403)
    rejected(client.post(f"{API}/seasons", json=_season(mine.code)), 401)
    assert rows(db, "seasons") == {"seasons": 1}


def test_list_filters_and_paging(client, admin_headers, factory):
    a, b = factory.field(), factory.field()
    for year in (2024, 2025, 2026):
        factory.season(a, sown_on=f"{year}-01-05")
    factory.season(b, crop="tôm")  # rice-shrimp rotation: a shrimp season on b
    everything = client.get(f"{API}/seasons", params={"limit": 2}, headers=admin_headers).json()
    assert everything["count"] == 4 and len(everything["data"]) == 2
    rest = client.get(f"{API}/seasons", params={"offset": 2}, headers=admin_headers).json()
    assert [s["id"] for s in everything["data"] + rest["data"]] == sorted(
        s["id"] for s in everything["data"] + rest["data"]
    )
    of_a = client.get(f"{API}/seasons", params={"field_code": a.code}, headers=admin_headers).json()
    assert of_a["count"] == 3 and {s["field_code"] for s in of_a["data"]} == {a.code}
    shrimp = client.get(f"{API}/seasons", params={"crop": "tôm"}, headers=admin_headers).json()
    assert [s["field_code"] for s in shrimp["data"]] == [b.code]


@pytest.mark.parametrize(
    ("change", "status", "words"),
    [
        ({"field_code": "GR-NONE"}, 404, ["GR-NONE"]),
        ({"sown_on": "2026-13-01"}, 422, ["sown_on"]),
        ({"sown_on": None}, 422, ["sown_on"]),
        ({"crop": ""}, 422, ["crop"]),
        ({"ended_on": "2025-12-31"}, 422, ["ended_on", "sown_on"]),
        ({"harvest": "soon"}, 422, ["harvest"]),
    ],
)
def test_bad_season(client, admin_headers, factory, db, change, status, words):
    field = factory.field()
    r = client.post(f"{API}/seasons", json=_season(field.code) | change, headers=admin_headers)
    rejected(r, status, *words)
    assert rows(db, "seasons") == {"seasons": 0}


def test_unknown_season(client, admin_headers):
    rejected(client.get(f"{API}/seasons/98765", headers=admin_headers), 404, "98765")
    r = client.get(f"{API}/seasons/{10**30}", headers=admin_headers)
    assert r.status_code == 422, r.text


@pytest.mark.parametrize("name", ["crop", "variety"])
def test_text_longer_than_its_column_is_refused_on_every_backend(
    client, admin_headers, factory, db, name
):
    # The column holds 100 characters: SQLite would store more, PostgreSQL would refuse.
    field = factory.field()
    r = client.post(
        f"{API}/seasons", json=_season(field.code, **{name: "x" * 150}), headers=admin_headers
    )
    rejected(r, 422, name, "at most 100 characters")
    assert rows(db, "seasons") == {"seasons": 0}
    r = client.post(
        f"{API}/seasons", json=_season(field.code, **{name: "x" * 100}), headers=admin_headers
    )
    assert r.status_code == 201, r.text
    assert r.json()[name] == "x" * 100
