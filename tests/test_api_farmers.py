"""Farmers: create, read, list with filters and paging, who may see whom, bad input."""

import pytest

from tests.record_helpers import API, rejected, rows
from traceability.config import get_settings


def test_create_and_read(client, admin_headers):
    r = client.post(
        f"{API}/farmers",
        json={
            "name": "  Trần Thị Lúa ",
            "phone": "+84 912 345 678",
            "village": "Ấp 4",
            "code": "F-1",
        },
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["name"] == "Trần Thị Lúa"  # surrounding blanks are not part of a name
    assert body["id"] > 0 and body["code"] == "F-1" and body["village"] == "Ấp 4"
    got = client.get(f"{API}/farmers/{body['id']}", headers=admin_headers)
    assert got.status_code == 200
    assert got.json() == body


def test_national_id_is_never_shown(client, admin_headers):
    r = client.post(
        f"{API}/farmers",
        json={"name": "Lê Văn A", "national_id": "012345678901"},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    assert "national_id" not in r.json()
    assert "012345678901" not in client.get(f"{API}/farmers", headers=admin_headers).text


def test_list_filters_and_paging(client, admin_headers, factory):
    for i in range(7):
        factory.farmer(name=f"Nguyễn Văn {i}", village="Ấp A" if i % 2 else "Ấp B")
    factory.farmer(name="Phạm Thị Sen", village="Ấp B")

    page = client.get(
        f"{API}/farmers", params={"limit": 3, "offset": 0}, headers=admin_headers
    ).json()
    assert page["count"] == 8 and len(page["data"]) == 3
    rest = client.get(
        f"{API}/farmers", params={"limit": 50, "offset": 3}, headers=admin_headers
    ).json()
    assert len(rest["data"]) == 5
    ids = [f["id"] for f in page["data"] + rest["data"]]
    assert ids == sorted(ids) and len(set(ids)) == 8  # stable order, no row twice

    village = client.get(f"{API}/farmers", params={"village": "Ấp A"}, headers=admin_headers).json()
    assert village["count"] == 3 and {f["village"] for f in village["data"]} == {"Ấp A"}
    named = client.get(f"{API}/farmers", params={"q": "sen"}, headers=admin_headers).json()
    assert [f["name"] for f in named["data"]] == ["Phạm Thị Sen"]

    past_end = client.get(f"{API}/farmers", params={"offset": 100}, headers=admin_headers).json()
    assert past_end == {"count": 8, "data": []}


@pytest.mark.parametrize(
    ("params", "word"),
    [({"limit": 0}, "limit"), ({"limit": 501}, "limit"), ({"offset": -1}, "offset")],
)
def test_bad_paging_is_rejected(client, admin_headers, params, word):
    rejected(client.get(f"{API}/farmers", params=params, headers=admin_headers), 422, word)


def test_page_size_is_bounded_by_the_setting(client, admin_headers, factory, monkeypatch):
    for _ in range(3):
        factory.farmer()
    monkeypatch.setenv("AGRITRACE_PAGE_SIZE_MAX", "2")
    get_settings.cache_clear()
    r = client.get(f"{API}/farmers", params={"limit": 3}, headers=admin_headers)
    rejected(r, 422, "limit", "less than or equal to 2")
    page = client.get(f"{API}/farmers", params={"limit": 2}, headers=admin_headers).json()
    assert page["count"] == 3 and len(page["data"]) == 2
    # A list asked for without a limit gets a page as large as the setting allows.
    page = client.get(f"{API}/farmers", headers=admin_headers).json()
    assert page["count"] == 3 and len(page["data"]) == 2


def test_farmer_sees_only_themself(client, factory):
    me, other = factory.farmer(), factory.farmer()
    headers = factory.token("farmer", me)
    listed = client.get(f"{API}/farmers", headers=headers).json()
    assert listed["count"] == 1 and listed["data"][0]["id"] == me.id
    assert client.get(f"{API}/farmers/{me.id}", headers=headers).status_code == 200
    rejected(client.get(f"{API}/farmers/{other.id}", headers=headers), 403, "own")


def test_operator_reads_no_farmers(client, factory):
    farmer = factory.farmer()
    headers = factory.token("operator")
    rejected(client.get(f"{API}/farmers", headers=headers), 403, "admin")
    rejected(client.get(f"{API}/farmers/{farmer.id}", headers=headers), 403)


def test_unknown_farmer(client, admin_headers):
    rejected(client.get(f"{API}/farmers/424242", headers=admin_headers), 404, "424242")
    rejected(client.get(f"{API}/farmers/not-a-number", headers=admin_headers), 422, "farmer_id")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({}, ["name", "required"]),
        ({"name": ""}, ["name"]),
        ({"name": "   "}, ["name"]),
        ({"name": "A", "phone": "call me"}, ["phone"]),
        ({"name": "A", "national_id": "12-34"}, ["national_id"]),
        ({"name": "A", "code": "has space"}, ["code"]),
        ({"name": "A", "code": "a/b"}, ["code"]),
        ({"name": "A", "password": "x"}, ["password"]),
        ({"name": "x" * 201}, ["name"]),
        ({"name": 5}, ["name"]),
        ({"name": "Ba\x00"}, ["name", "control"]),  # PostgreSQL cannot store NUL; SQLite could
        ({"name": "A", "village": "Ấp\x1b[31m"}, ["village", "control"]),
    ],
)
def test_bad_farmer_is_rejected_and_nothing_stored(client, admin_headers, db, body, words):
    rejected(client.post(f"{API}/farmers", json=body, headers=admin_headers), 422, *words)
    assert rows(db, "farmers") == {"farmers": 0}


def test_duplicate_code_is_a_conflict(client, admin_headers, db):
    first = client.post(f"{API}/farmers", json={"name": "A", "code": "F-7"}, headers=admin_headers)
    assert first.status_code == 201
    again = client.post(f"{API}/farmers", json={"name": "B", "code": "F-7"}, headers=admin_headers)
    rejected(again, 409, "F-7", "already exists")
    assert rows(db, "farmers") == {"farmers": 1}
    # Farmers without a code are many; only codes must be unique.
    for name in ("C", "D"):
        assert (
            client.post(f"{API}/farmers", json={"name": name}, headers=admin_headers).status_code
            == 201
        )
    assert rows(db, "farmers") == {"farmers": 3}


def test_only_admin_creates_farmers(client, factory, db):
    farmer = factory.farmer()
    for headers in (factory.token("operator"), factory.token("farmer", farmer)):
        rejected(client.post(f"{API}/farmers", json={"name": "X"}, headers=headers), 403)
    rejected(client.post(f"{API}/farmers", json={"name": "X"}), 401, "token")
    assert rows(db, "farmers") == {"farmers": 1}
