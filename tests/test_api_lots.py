"""Harvest lots: from fields, from parent lots, lineage, GTINs, farmers' limits, bad input."""

import pytest

from tests.record_helpers import API, rejected, rows
from traceability.services import lots as lot_svc

LOT_TABLES = ("lots", "lot_fields", "lot_parents")


def _lot(code, fields=(), parents=(), **kw):
    return {
        "code": code,
        "field_codes": [f.code for f in fields],
        "parent_lots": list(parents),
        "harvested_on": "2026-04-10",
        "quantity_kg": 5200.0,
        "product_name": "Lúa ST25",
    } | kw


def _post(client, headers, body, status=201):
    r = client.post(f"{API}/lots", json=body, headers=headers)
    assert r.status_code == status, r.text
    return r.json()


def test_lot_from_fields(client, admin_headers, factory):
    a, b = factory.field(), factory.field()
    season = factory.season(a, sown_on="2026-01-05")
    body = _post(client, admin_headers, _lot("LOT-1", [b, a], gtin="8934567890120"))
    assert body["id"] > 0 and body["code"] == "LOT-1"
    assert body["field_codes"] == sorted([a.code, b.code])
    assert body["season_ids"] == [season.id]  # b had no season under way
    assert body["gtin"] == "08934567890120"  # GTIN-13 kept as 14 digits
    assert body["parent_lots"] == [] and body["quantity_kg"] == 5200.0
    got = client.get(f"{API}/lots/LOT-1", headers=admin_headers)
    assert got.status_code == 200 and got.json() == body


def test_lot_from_parents_and_lineage(client, admin_headers, factory, session):
    a, b = factory.field(), factory.field()
    _post(client, admin_headers, _lot("PADDY-A", [a]))
    _post(client, admin_headers, _lot("PADDY-B", [b]))
    milled = _post(
        client,
        admin_headers,
        _lot("RICE-1", parents=["PADDY-B", "PADDY-A"], harvested_on="2026-04-20", quantity_kg=6000),
    )
    assert milled["parent_lots"] == ["PADDY-A", "PADDY-B"] and milled["field_codes"] == []
    bag = _post(client, admin_headers, _lot("BAG-1", parents=["RICE-1"], harvested_on="2026-05-01"))
    assert bag["parent_lots"] == ["RICE-1"]

    lineage = lot_svc.ancestors(session, lot=lot_svc.get_lot(session, code="BAG-1"))
    assert [(lot.code, depth) for lot, depth, _ in lineage] == [
        ("RICE-1", 1),
        ("PADDY-A", 2),
        ("PADDY-B", 2),
    ]


def test_lot_from_fields_and_parents(client, admin_headers, factory, db):
    a, b = factory.field(), factory.field()
    _post(client, admin_headers, _lot("OLD", [a]))
    mixed = _post(client, admin_headers, _lot("MIX", [b], parents=["OLD"]))
    assert mixed["field_codes"] == [b.code] and mixed["parent_lots"] == ["OLD"]
    assert rows(db, *LOT_TABLES) == {"lots": 2, "lot_fields": 2, "lot_parents": 1}


def test_list_filters_and_paging(client, admin_headers, factory):
    a, b = factory.field(), factory.field()
    winter = factory.season(a, sown_on="2025-11-20")
    spring = factory.season(a, sown_on="2026-04-20")
    _post(client, admin_headers, _lot("W-1", [a], harvested_on="2026-03-01"))
    _post(client, admin_headers, _lot("W-2", [a, b], harvested_on="2026-03-02"))
    _post(client, admin_headers, _lot("S-1", [a], harvested_on="2026-08-01"))
    _post(client, admin_headers, _lot("B-1", [b]))

    def codes(**params):
        r = client.get(f"{API}/lots", params=params, headers=admin_headers)
        assert r.status_code == 200, r.text
        return [lot["code"] for lot in r.json()["data"]], r.json()["count"]

    assert codes() == (["W-1", "W-2", "S-1", "B-1"], 4)
    assert codes(season_id=winter.id) == (["W-1", "W-2"], 2)
    assert codes(season_id=spring.id) == (["S-1"], 1)
    assert codes(field_code=b.code) == (["W-2", "B-1"], 2)
    assert codes(limit=2, offset=1) == (["W-2", "S-1"], 4)


@pytest.mark.parametrize(
    "gtin",
    ["8934567890120", "08934567890120", "96385074", "036000291452", " 8934567890120 "],
)
def test_valid_gtins(client, admin_headers, factory, gtin):
    field = factory.field()
    body = _post(client, admin_headers, _lot("G-1", [field], gtin=gtin))
    assert len(body["gtin"]) == 14 and body["gtin"].lstrip("0") == gtin.strip().lstrip("0")


@pytest.mark.parametrize(
    ("gtin", "words"),
    [
        ("8934567890121", ["check digit", "expected 0"]),
        ("96385075", ["check digit", "expected 4"]),
        ("893456789012", ["check digit"]),  # 12 digits of a GTIN-13: the check is off
        ("89345678901", ["8, 12, 13 or 14"]),
        ("89345678901200", ["check digit"]),
        ("893456789O120", ["8, 12, 13 or 14"]),
        ("٨٩٣٤٥٦٧٨٩٠١٢٠", ["8, 12, 13 or 14"]),  # Arabic-Indic digits are not a GTIN
        ("", ["8, 12, 13 or 14"]),
    ],
)
def test_bad_gtin(client, admin_headers, factory, db, gtin, words):
    field = factory.field()
    rejected(
        client.post(f"{API}/lots", json=_lot("G-1", [field], gtin=gtin), headers=admin_headers),
        422,
        "gtin",
        *words,
    )
    r = client.post(
        f"{API}/lots", json=_lot("G-1", [field], gtin=8934567890120), headers=admin_headers
    )
    assert r.status_code == 422, r.text  # a number is not a GTIN string (leading zeros matter)
    assert rows(db, *LOT_TABLES) == dict.fromkeys(LOT_TABLES, 0)


def test_bad_lots(client, admin_headers, factory, db):
    field = factory.field()
    _post(client, admin_headers, _lot("PARENT", [field], harvested_on="2026-04-10"))
    before = rows(db, *LOT_TABLES)
    cases = [
        (_lot("X"), 422, ["field_codes", "parent_lots"]),
        (_lot("X", [field], parents=["X"]), 422, ["own parent"]),
        (_lot("X", parents=["NO-SUCH"]), 404, ["NO-SUCH"]),
        (_lot("X", field_codes=["GR-NONE"]) | {"field_codes": ["GR-NONE"]}, 404, ["GR-NONE"]),
        (_lot("X", parents=["PARENT"], harvested_on="2026-04-01"), 422, ["PARENT", "after"]),
        (_lot("PARENT", [field]), 409, ["PARENT", "already exists"]),
        (_lot("X", [field], quantity_kg=0), 422, ["quantity_kg"]),
        (_lot("X", [field], quantity_kg="lots"), 422, ["quantity_kg"]),
        (_lot("X", [field], harvested_on="2026-02-30"), 422, ["harvested_on"]),
        (_lot("X", [field], product_name=""), 422, ["product_name"]),
        (_lot("X y", [field]), 422, ["code"]),
        (_lot("X", [field], owner="me"), 422, ["owner"]),
    ]
    for body, status, words in cases:
        rejected(client.post(f"{API}/lots", json=body, headers=admin_headers), status, *words)
        assert rows(db, *LOT_TABLES) == before, body


def test_unknown_lot(client, admin_headers):
    rejected(client.get(f"{API}/lots/NOPE", headers=admin_headers), 404, "NOPE")


# ---------------------------------------------------------------- farmers' limits


def test_farmer_records_lots_of_own_fields_only(client, factory, db):
    me, other = factory.farmer(), factory.farmer()
    mine, theirs = factory.field(farmer=me), factory.field(farmer=other)
    headers = factory.token("farmer", me)
    assert _post(client, headers, _lot("MINE", [mine]))["field_codes"] == [mine.code]
    before = rows(db, *LOT_TABLES)
    rejected(
        client.post(f"{API}/lots", json=_lot("THEIRS", [theirs]), headers=headers), 403, theirs.code
    )
    rejected(
        client.post(f"{API}/lots", json=_lot("BOTH", [mine, theirs]), headers=headers),
        403,
        theirs.code,
    )
    assert rows(db, *LOT_TABLES) == before


def test_farmer_mixes_only_own_lots(client, admin_headers, factory, db):
    me, other = factory.farmer(), factory.farmer()
    mine, theirs = factory.field(farmer=me), factory.field(farmer=other)
    _post(client, admin_headers, _lot("THEIR-PADDY", [theirs]))
    # A milled lot has no fields of its own: its owner is found through its parents.
    _post(
        client,
        admin_headers,
        _lot("THEIR-RICE", parents=["THEIR-PADDY"], harvested_on="2026-04-11"),
    )
    headers = factory.token("farmer", me)
    _post(client, headers, _lot("MY-PADDY", [mine]))
    assert _post(client, headers, _lot("MY-RICE", parents=["MY-PADDY"], harvested_on="2026-04-12"))
    before = rows(db, *LOT_TABLES)
    for parent in ("THEIR-PADDY", "THEIR-RICE"):
        body = _lot("STEAL", parents=["MY-PADDY", parent], harvested_on="2026-04-20")
        rejected(client.post(f"{API}/lots", json=body, headers=headers), 403, parent)
    assert rows(db, *LOT_TABLES) == before


def test_operator_and_anonymous_record_no_lots(client, factory, db):
    field = factory.field()
    rejected(
        client.post(f"{API}/lots", json=_lot("OP", [field]), headers=factory.token("operator")), 403
    )
    rejected(client.post(f"{API}/lots", json=_lot("ANON", [field])), 401)
    rejected(client.get(f"{API}/lots"), 401)
    assert rows(db, *LOT_TABLES) == dict.fromkeys(LOT_TABLES, 0)
