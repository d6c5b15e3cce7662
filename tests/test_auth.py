"""Who may do what: every route of the record × every role, and how tokens are kept."""

import hashlib
import itertools
from dataclasses import dataclass

import pytest
from sqlalchemy import text

from tests.factories import feature, rectangle_lonlat
from tests.record_helpers import API, rejected

ALL = frozenset({"admin", "operator", "farmer"})
ADMIN = frozenset({"admin"})
ADMIN_FARMER = frozenset({"admin", "farmer"})
ADMIN_OPERATOR = frozenset({"admin", "operator"})
RECORD_TAGS = {"farmers", "inputs", "drones", "users", "fields", "seasons", "diary", "lots"}
PUBLIC_TAGS = {"trace", "health"}

_n = itertools.count(1)


@dataclass
class World:
    """The records every route of the table is called on."""

    me: object
    other: object
    mine: object
    theirs: object
    season: object
    entry: object
    their_entry: object
    lot: object
    product: object
    drone: object
    device: object = None

    def fill(self, template: str) -> str:
        return template.format(
            farmer_id=self.me.id,
            other_farmer_id=self.other.id,
            mine=self.mine.code,
            theirs=self.theirs.code,
            season_id=self.season.id,
            entry_id=self.entry.id,
            their_entry_id=self.their_entry.id,
            lot=self.lot.code,
            input=self.product.code,
            drone=self.drone.code,
            device_id=self.device.id if self.device else 0,
        )


def _field_feature(w: World) -> dict:
    n = next(_n)
    return feature(f"NEW-{n}", w.me.id, rectangle_lonlat(20_000 + n * 300.0, 0, 100, 100))


def _season(code_attr):
    return lambda w: {
        "field_code": getattr(w, code_attr).code,
        "crop": "lúa",
        "sown_on": "2026-01-05",
    }


def _entry(code_attr):
    return lambda w: {
        "field_code": getattr(w, code_attr).code,
        "occurred_at": "2026-02-01T08:00:00+07:00",
        "activity": "observe",
    }


def _lot(code_attr):
    return lambda w: {
        "code": f"LOT-NEW-{next(_n)}",
        "field_codes": [getattr(w, code_attr).code],
        "harvested_on": "2026-04-10",
        "quantity_kg": 100.0,
        "product_name": "Lúa",
    }


# (method, path, body, roles that may) — anonymous and unknown tokens may nothing here.
TABLE = [
    ("POST", "/farmers", lambda w: {"name": "Mới"}, ADMIN),
    ("GET", "/farmers", None, ADMIN_FARMER),
    ("GET", "/farmers/{farmer_id}", None, ADMIN_FARMER),
    ("GET", "/farmers/{other_farmer_id}", None, ADMIN),
    (
        "POST",
        "/inputs",
        lambda w: {"code": f"IN-{next(_n)}", "name": "x", "kind": "fertilizer", "unit": "kg"},
        ADMIN,
    ),
    ("GET", "/inputs", None, ALL),
    ("GET", "/inputs/{input}", None, ALL),
    ("POST", "/drones", lambda w: {"code": f"DR-{next(_n)}"}, ADMIN_OPERATOR),
    ("GET", "/drones", None, ADMIN_OPERATOR),
    ("GET", "/drones/{drone}", None, ADMIN_OPERATOR),
    ("POST", "/users", lambda w: {"name": "new", "role": "operator"}, ADMIN),
    ("GET", "/users", None, ADMIN),
    ("GET", "/me", None, ALL),
    ("POST", "/fields", _field_feature, ADMIN),
    (
        "POST",
        "/fields/import",
        lambda w: {"type": "FeatureCollection", "features": [_field_feature(w)]},
        ADMIN,
    ),
    ("GET", "/fields", None, ALL),
    ("GET", "/fields/{mine}", None, ALL),
    ("POST", "/seasons", _season("mine"), ADMIN_FARMER),
    ("POST", "/seasons", _season("theirs"), ADMIN),
    ("GET", "/seasons", None, ALL),
    ("GET", "/seasons/{season_id}", None, ALL),
    ("POST", "/diary", _entry("mine"), ADMIN_FARMER),
    ("POST", "/diary", _entry("theirs"), ADMIN),
    ("GET", "/diary", None, ALL),
    ("GET", "/diary/{entry_id}", None, ALL),
    ("GET", "/diary/{their_entry_id}", None, ADMIN_OPERATOR),
    ("GET", "/fields/{mine}/diary", None, ALL),
    ("GET", "/fields/{theirs}/diary", None, ADMIN_OPERATOR),
    ("GET", "/fields/{mine}/diary/verify", None, ALL),
    ("GET", "/fields/{theirs}/diary/verify", None, ADMIN_OPERATOR),
    ("POST", "/lots", _lot("mine"), ADMIN_FARMER),
    ("POST", "/lots", _lot("theirs"), ADMIN),
    ("GET", "/lots", None, ALL),
    ("GET", "/lots/{lot}", None, ALL),
    ("POST", "/farmers/{farmer_id}/signin-link", None, ADMIN),
    ("GET", "/farmers/{farmer_id}/devices", None, ADMIN),
    ("DELETE", "/farmers/{farmer_id}/devices/{device_id}", None, ADMIN),
    ("POST", "/diary/check", _entry("mine"), ADMIN_FARMER),
    ("POST", "/diary/check", _entry("theirs"), ADMIN),
]


@pytest.fixture
def world(factory) -> World:
    me, other = factory.farmer(), factory.farmer()
    mine, theirs = factory.field(farmer=me), factory.field(farmer=other)
    season = factory.season(mine)
    return World(
        me=me,
        other=other,
        mine=mine,
        theirs=theirs,
        season=season,
        entry=factory.entry(mine),
        their_entry=factory.entry(theirs),
        lot=factory.lot(fields_=[mine]),
        product=factory.input(),
        drone=factory.drone(),
        device=_device(factory, me),
    )


def _device(factory, farmer):
    """A phone signed in for ``farmer`` through a sign-in link."""
    from traceability.models import Role, User
    from traceability.services import signin

    admin = User(id=None, name="admin", role=Role.admin, token_hash="")
    _link, token = signin.issue_link(
        factory.session, farmer_id=farmer.id, user=admin, valid_hours=1
    )
    return signin.redeem(factory.session, token=token)[0]


@pytest.fixture
def tokens(factory, world) -> dict[str, dict[str, str]]:
    return {
        "admin": factory.token("admin"),
        "operator": factory.token("operator"),
        "farmer": factory.token("farmer", world.me),
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "allowed"),
    TABLE,
    ids=[f"{m} {p}" + (f" [{sorted(a)}]" if m == "POST" else "") for m, p, _, a in TABLE],
)
def test_route_by_role(client, world, tokens, method, path, body, allowed):
    url = API + world.fill(path)
    wrong = []
    for role, headers in [
        ("anonymous", {}),
        ("unknown token", {"Authorization": "Bearer nope"}),
    ] + list(tokens.items()):
        r = client.request(method, url, json=body(world) if body else None, headers=headers)
        expected = (200, 201, 204) if role in allowed else (401,) if role not in tokens else (403,)
        if r.status_code not in expected:
            wrong.append(f"{role}: {r.status_code} {r.text[:160]}")
        elif r.status_code in (401, 403):
            assert r.json()["detail"], r.text  # a refusal says why
    assert not wrong, f"{method} {path}: " + "; ".join(wrong)


def test_table_covers_every_route_of_the_record(client):
    spec = client.get("/openapi.json").json()
    routes = {
        (m.upper(), p)
        for p, ops in spec["paths"].items()
        for m, op in ops.items()
        if set(op.get("tags", [])) & RECORD_TAGS
    }
    table = {
        (
            m,
            API
            + p.replace("{other_farmer_id}", "{farmer_id}").replace(
                "{their_entry_id}", "{entry_id}"
            ),
        )
        for m, p, _, _ in TABLE
    }
    table = {(m, p.replace("{mine}", "{code}").replace("{theirs}", "{code}")) for m, p in table}
    table = {
        (m, p.replace("{input}", "{code}").replace("{drone}", "{code}").replace("{lot}", "{code}"))
        for m, p in table
    }
    assert routes - table == set(), "routes of the record missing from the table"


def test_anonymous_reads_nothing_but_the_public_trace(client):
    # Every route of the whole API, not only the record's: only trace pages are public.
    spec = client.get("/openapi.json").json()
    leaks = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            if set(op.get("tags", [])) & PUBLIC_TAGS:
                continue
            url = path.replace("{", "").replace("}", "")  # any value: auth comes first
            for headers in (
                {},
                {"Authorization": "Bearer not-a-token"},
                {"Authorization": "Basic YTpi"},
            ):
                r = client.request(method.upper(), url, json={}, headers=headers)
                if r.status_code != 401:
                    leaks.append(f"{method.upper()} {path} {headers}: {r.status_code}")
    assert not leaks


def test_bootstrap_admin_token(client, admin_headers, world):
    assert client.get(f"{API}/farmers", headers=admin_headers).status_code == 200
    assert (
        client.post(f"{API}/farmers", json={"name": "A"}, headers=admin_headers).status_code == 201
    )
    rejected(client.get(f"{API}/me", headers=admin_headers), 404, "bootstrap")


@pytest.mark.parametrize(
    "value",
    ["Bearer", "Bearer ", "Token abc", "bearer", "Basic dXNlcjpwYXNz", "Bearer  ", "abc"],
)
def test_malformed_authorization(client, value):
    r = client.get(f"{API}/fields", headers={"Authorization": value})
    rejected(r, 401)
    assert r.headers["www-authenticate"] == "Bearer"


def test_revoked_token(client, factory, db):
    headers = factory.token("operator")
    assert client.get(f"{API}/drones", headers=headers).status_code == 200
    with db.begin() as conn:
        conn.execute(text("UPDATE users SET active = :f"), {"f": False})
    rejected(client.get(f"{API}/drones", headers=headers), 401, "revoked")


def test_tokens_are_stored_hashed(client, admin_headers, world, db):
    r = client.post(
        f"{API}/users",
        json={"name": "Chị Hai", "role": "farmer", "farmer_id": world.me.id},
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert len(token) >= 40  # 256 bits of randomness, URL-safe
    with db.connect() as conn:
        stored = conn.execute(text("SELECT * FROM users")).mappings().all()
    dump = repr([dict(row) for row in stored])
    assert token not in dump
    assert hashlib.sha256(token.encode()).hexdigest() in dump
    # The token works, and is never shown again.
    me = client.get(f"{API}/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["role"] == "farmer" and "token" not in me.json()
    assert token not in client.get(f"{API}/users", headers=admin_headers).text
    assert "token_hash" not in client.get(f"{API}/users", headers=admin_headers).text


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"name": "x", "role": "farmer"}, ["farmer_id"]),
        ({"name": "x", "role": "farmer", "farmer_id": 424242}, ["424242"]),
        ({"name": "x", "role": "operator", "farmer_id": 1}, ["farmer_id"]),
        ({"name": "x", "role": "root"}, ["role"]),
        ({"name": "", "role": "admin"}, ["name"]),
    ],
)
def test_bad_user(client, admin_headers, db, body, words):
    rejected(client.post(f"{API}/users", json=body, headers=admin_headers), 422, *words)
    with db.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 0
