"""Organisations and who belongs to them; administrative units; fields placed in communes."""

import pytest
from sqlalchemy import text

from tests.factories import feature, rectangle_lonlat
from tests.record_helpers import API, rejected

ORGS = [
    {"code": "HTX-TP", "name": "HTX Nông nghiệp Tân Phong", "kind": "cooperative"},
    {
        "code": "DV-PL",
        "name": "Đội dịch vụ máy bay nông nghiệp Phước Long",
        "kind": "drone_service",
    },
    {"code": "SNN-CM", "name": "Sở Nông nghiệp và Môi trường Cà Mau", "kind": "office"},
]
PUBLIC_FACTS = (
    "address",
    "brand",
    "certificate_standard",
    "certificate_no",
    "certificate_issuer",
    "certificate_valid_from",
    "certificate_valid_to",
)


@pytest.fixture
def orgs(client, admin_headers):
    for org in ORGS:
        r = client.post(f"{API}/organisations", json=org, headers=admin_headers)
        assert r.status_code == 201, r.text
        # A producer's public facts (address, brand, certificate) are unset until given.
        unset = dict.fromkeys(PUBLIC_FACTS)
        assert r.json()["id"] and r.json() | {"id": 0, "created_at": 0} == unset | org | {
            "id": 0,
            "created_at": 0,
        }
    return {o["kind"]: o["code"] for o in ORGS}


def test_organisations_created_listed_and_read(client, admin_headers, orgs):
    listed = client.get(f"{API}/organisations", headers=admin_headers).json()
    assert listed["count"] == 3 and [o["code"] for o in listed["data"]] == sorted(orgs.values())
    coops = client.get(f"{API}/organisations?kind=cooperative", headers=admin_headers).json()
    assert [o["code"] for o in coops["data"]] == ["HTX-TP"]
    one = client.get(f"{API}/organisations/DV-PL", headers=admin_headers).json()
    assert one["name"] == "Đội dịch vụ máy bay nông nghiệp Phước Long"
    rejected(client.get(f"{API}/organisations/NOPE", headers=admin_headers), 404, "NOPE")
    rejected(client.post(f"{API}/organisations", json=ORGS[0], headers=admin_headers), 409)
    bad = {"code": "X", "name": "x", "kind": "bank"}
    rejected(client.post(f"{API}/organisations", json=bad, headers=admin_headers), 422, "kind")


@pytest.mark.parametrize(
    ("role", "kind", "ok"),
    [
        ("cooperative", "cooperative", True),
        ("operator", "drone_service", True),
        ("office", "office", True),
        ("cooperative", "drone_service", False),
        ("operator", "office", False),
        ("office", "cooperative", False),
    ],
)
def test_a_user_belongs_to_an_organisation_of_its_kind(
    client, admin_headers, orgs, db, role, kind, ok
):
    body = {"name": "Chị Ba", "role": role, "organisation_code": orgs[kind]}
    r = client.post(f"{API}/users", json=body, headers=admin_headers)
    if ok:
        assert r.status_code == 201, r.text
        user = r.json()
        assert user["organisation_code"] == orgs[kind] and user["token_id"] and user["token"]
        me = client.get(f"{API}/me", headers={"Authorization": f"Bearer {user['token']}"})
        assert me.json()["organisation_code"] == orgs[kind] and me.json()["role"] == role
    else:
        rejected(r, 422, role, orgs[kind])
        with db.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 0


@pytest.mark.parametrize("role", ["cooperative", "operator", "office"])
def test_organisation_roles_need_an_organisation(client, admin_headers, role):
    body = {"name": "x", "role": role}
    rejected(client.post(f"{API}/users", json=body, headers=admin_headers), 422, "organisation")


def test_farmer_user_takes_the_farmer_records_organisation(client, admin_headers, orgs, factory):
    farmer = factory.farmer()
    body = {"name": "x", "role": "farmer", "farmer_id": farmer.id, "organisation_code": "HTX-TP"}
    rejected(client.post(f"{API}/users", json=body, headers=admin_headers), 422, "farmer")
    missing = {"name": "x", "role": "operator", "organisation_code": "NOPE"}
    rejected(client.post(f"{API}/users", json=missing, headers=admin_headers), 422, "NOPE")


def test_farmers_and_drones_carry_their_organisation(client, admin_headers, orgs):
    r = client.post(
        f"{API}/farmers",
        json={"name": "Lê Văn Tư", "organisation_code": "HTX-TP"},
        headers=admin_headers,
    )
    assert r.status_code == 201 and r.json()["organisation_code"] == "HTX-TP"
    farmer_id = r.json()["id"]
    got = client.get(f"{API}/farmers/{farmer_id}", headers=admin_headers).json()
    assert got["organisation_code"] == "HTX-TP"
    r = client.post(
        f"{API}/drones",
        json={"code": "BL-DR-900", "organisation_code": "DV-PL"},
        headers=admin_headers,
    )
    assert r.status_code == 201 and r.json()["organisation_code"] == "DV-PL"
    listed = client.get(f"{API}/drones", headers=admin_headers).json()["data"]
    assert [d["organisation_code"] for d in listed] == ["DV-PL"]
    # A farmer is a member of a cooperative; a drone belongs to a drone service.
    wrong = {"name": "x", "organisation_code": "DV-PL"}
    rejected(client.post(f"{API}/farmers", json=wrong, headers=admin_headers), 422, "cooperative")
    wrong = {"code": "BL-DR-901", "organisation_code": "HTX-TP"}
    rejected(client.post(f"{API}/drones", json=wrong, headers=admin_headers), 422, "drone_service")


def test_a_cooperative_adds_members_to_itself_only(client, factory, orgs):
    from traceability.services.organisations import get_organisation

    coop = factory.token(
        "cooperative", organisation=get_organisation(factory.session, code="HTX-TP")
    )
    r = client.post(f"{API}/farmers", json={"name": "Thạch Thị Mum"}, headers=coop)
    assert r.status_code == 201 and r.json()["organisation_code"] == "HTX-TP"
    other = factory.organisation("cooperative", code="HTX-KHAC")
    body = {"name": "x", "organisation_code": other.code}
    rejected(client.post(f"{API}/farmers", json=body, headers=coop), 403, "own")
    # ... and records fields for its members, not for others.
    member = r.json()["id"]
    stranger = factory.farmer()
    poly = rectangle_lonlat(0, 0, 80, 120)
    r = client.post(f"{API}/fields", json=feature("M-1", member, poly), headers=coop)
    assert r.status_code == 201, r.text
    poly = rectangle_lonlat(500, 0, 80, 120)
    r = client.post(f"{API}/fields", json=feature("S-1", stranger.id, poly), headers=coop)
    rejected(r, 403, "member")


def test_operator_registers_drones_of_its_own_service(client, factory, orgs):
    from traceability.services.organisations import get_organisation

    operator = factory.token(
        "operator", organisation=get_organisation(factory.session, code="DV-PL")
    )
    r = client.post(f"{API}/drones", json={"code": "BL-DR-950"}, headers=operator)
    assert r.status_code == 201 and r.json()["organisation_code"] == "DV-PL"
    other = factory.organisation("drone_service", code="DV-KHAC")
    body = {"code": "BL-DR-951", "organisation_code": other.code}
    rejected(client.post(f"{API}/drones", json=body, headers=operator), 403, "own")


# ---------------------------------------------------------------- administrative units


def test_admin_units(client, admin_headers):
    units = client.get(f"{API}/admin-units", headers=admin_headers).json()
    by_code = {u["code"]: u for u in units["data"]}
    assert units["count"] == len(by_code) > 10
    assert by_code["96"] == {
        "code": "96",
        "name": "tỉnh Cà Mau",
        "level": "province",
        "parent_code": None,
        "provisional_code": False,
    }
    url = f"{API}/admin-units?level=commune&parent_code=96"
    communes = client.get(url, headers=admin_headers).json()["data"]
    assert all(u["parent_code"] == "96" and u["level"] == "commune" for u in communes)
    names = {u["name"] for u in communes}
    assert {
        "phường Bạc Liêu",
        "xã Hồng Dân",
        "xã Phước Long",
        "xã Vĩnh Lợi",
        "xã Đông Hải",
    } <= names
    assert "phường Giá Rai" in names
    one = client.get(f"{API}/admin-units/31825", headers=admin_headers).json()
    assert one["name"] == "phường Bạc Liêu"
    rejected(client.get(f"{API}/admin-units/95", headers=admin_headers), 404, "95")


def test_fields_carry_a_commune_code_and_their_former_district(client, admin_headers, factory):
    farmer = factory.farmer()
    poly = rectangle_lonlat(0, 0, 80, 120)
    f = feature("GR-9001", farmer.id, poly, commune_code="31957", district="thị xã Giá Rai")
    r = client.post(f"{API}/fields", json=f, headers=admin_headers)
    assert r.status_code == 201, r.text
    props = r.json()["properties"]
    assert (props["commune_code"], props["district"]) == ("31957", "thị xã Giá Rai")
    again = client.get(f"{API}/fields/GR-9001", headers=admin_headers).json()["properties"]
    assert again["commune_code"] == "31957"
    for code in ("96", "31948", "XX"):
        f = feature(f"GR-{code}", farmer.id, rectangle_lonlat(900, 0, 80, 120), commune_code=code)
        rejected(client.post(f"{API}/fields", json=f, headers=admin_headers), 422, code, "commune")
