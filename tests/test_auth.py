"""Bearer tokens: how they are checked, kept, revoked and expire (the route × role table is
in test_access.py)."""

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from tests.record_helpers import API, rejected

# The transparency log is public too: a checkpoint is worth the copies others keep of it.
PUBLIC_TAGS = {"trace", "health", "transparency"}


@dataclass
class World:
    """A farmer to make users for."""

    me: object


@pytest.fixture
def world(factory) -> World:
    return World(me=factory.farmer())


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
        stored += conn.execute(text("SELECT * FROM tokens")).mappings().all()
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


# ---------------------------------------------------------------- token lifetimes


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_revoked_token_is_refused_at_once(client, admin_headers, world):
    body = {"name": "Chị Hai", "role": "farmer", "farmer_id": world.me.id}
    user = client.post(f"{API}/users", json=body, headers=admin_headers).json()
    first = _bearer(user["token"])
    second = client.post(f"{API}/users/{user['id']}/tokens", json={}, headers=admin_headers)
    assert second.status_code == 201 and second.json()["token"] != user["token"]
    other = _bearer(second.json()["token"])
    mine = client.get(f"{API}/tokens", headers=first).json()
    assert [t["id"] for t in mine["data"]] == [user["token_id"], second.json()["id"]]
    assert "token_hash" not in str(mine) and user["token"] not in str(mine)

    # The token's own user revokes it; the next request with it is refused.
    r = client.delete(f"{API}/tokens/{user['token_id']}", headers=first)
    assert r.status_code == 200 and r.json()["revoked_at"]
    rejected(client.get(f"{API}/me", headers=first), 401, "revoked")
    assert client.get(f"{API}/me", headers=other).status_code == 200  # the phone's still works
    # Another user may not revoke it; an admin may.
    stranger = client.post(
        f"{API}/users", json={"name": "x", "role": "admin"}, headers=admin_headers
    ).json()
    r = client.delete(f"{API}/tokens/{second.json()['id']}", headers=admin_headers)
    assert r.status_code == 200
    rejected(client.get(f"{API}/me", headers=other), 401, "revoked")
    rejected(client.delete(f"{API}/tokens/424242", headers=_bearer(stranger["token"])), 404)


def test_another_users_token_cannot_be_revoked(client, factory, world, db):
    owner = factory.token("farmer", world.me)
    other = factory.token("farmer", factory.farmer())
    with db.connect() as conn:
        token_id = conn.execute(text("SELECT min(id) FROM tokens")).scalar_one()
    rejected(client.delete(f"{API}/tokens/{token_id}", headers=other), 403, "own")
    assert client.get(f"{API}/me", headers=owner).status_code == 200


def test_an_expired_token_is_refused_with_a_clear_message(client, admin_headers, world, db):
    body = {
        "name": "Chị Hai",
        "role": "farmer",
        "farmer_id": world.me.id,
        "token_expires_at": "2099-01-01T00:00:00+07:00",
    }
    user = client.post(f"{API}/users", json=body, headers=admin_headers).json()
    assert user["token_expires_at"].startswith("2098-12-31T17:00:00")
    headers = _bearer(user["token"])
    assert client.get(f"{API}/me", headers=headers).status_code == 200
    with db.begin() as conn:
        conn.execute(
            text("UPDATE tokens SET expires_at = :t"), {"t": datetime(2026, 1, 1, tzinfo=UTC)}
        )
    r = client.get(f"{API}/me", headers=headers)
    rejected(r, 401, "expired", "2026-01-01")
    assert r.headers["www-authenticate"] == "Bearer"
    past = {"expires_at": "2020-01-01T00:00:00+00:00"}
    r = client.post(f"{API}/users/{user['id']}/tokens", json=past, headers=admin_headers)
    rejected(r, 422, "past")
    naive = {"expires_at": "2099-01-01T00:00:00"}
    r = client.post(f"{API}/users/{user['id']}/tokens", json=naive, headers=admin_headers)
    rejected(r, 422, "offset")


@pytest.mark.parametrize("value", ["short", "x" * 31])
def test_a_short_bootstrap_token_is_refused_at_startup(monkeypatch, value):
    from pydantic import ValidationError

    from traceability.api.main import create_app
    from traceability.config import get_settings

    monkeypatch.setenv("AGRITRACE_ADMIN_TOKEN", value)
    get_settings.cache_clear()
    with pytest.raises(ValidationError, match="at least 32 characters"):
        create_app()
    monkeypatch.setenv("AGRITRACE_ADMIN_TOKEN", "x" * 32)
    get_settings.cache_clear()
    assert create_app()
    monkeypatch.setenv("AGRITRACE_ADMIN_TOKEN", "")
    get_settings.cache_clear()
    assert get_settings().admin_token is None


def test_cli_refuses_a_short_bootstrap_token(monkeypatch):
    from typer.testing import CliRunner

    from agritrace.cli import app
    from traceability.config import get_settings

    monkeypatch.setenv("AGRITRACE_ADMIN_TOKEN", "admin")
    get_settings.cache_clear()
    result = CliRunner().invoke(app, ["db", "current"])
    assert result.exit_code == 2
    assert "AGRITRACE_ADMIN_TOKEN must be at least 32 characters" in result.output


def test_cli_creates_a_user_and_revokes_its_token(monkeypatch, db, factory):
    from typer.testing import CliRunner

    from agritrace.cli import app
    from traceability.config import get_settings

    monkeypatch.setenv("AGRITRACE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    from traceability.db import get_engine

    get_engine.cache_clear()
    runner = CliRunner()
    made = runner.invoke(
        app, ["organisations", "create", "DV-1", "Đội bay Giá Rai", "--kind", "drone_service"]
    )
    assert made.exit_code == 0, made.output
    wrong = runner.invoke(app, ["users", "create", "Anh Năm", "--role", "operator"])
    assert wrong.exit_code != 0 and "organisation" in wrong.output
    made = runner.invoke(
        app, ["users", "create", "Anh Năm", "--role", "operator", "--organisation", "DV-1"]
    )
    assert made.exit_code == 0, made.output
    token_id = int(made.output.split(" token ")[1].split(":")[0])
    revoked = runner.invoke(app, ["users", "revoke", str(token_id)])
    assert revoked.exit_code == 0 and "revoked" in revoked.output
    with db.connect() as conn:
        assert conn.execute(
            text("SELECT revoked_at IS NOT NULL FROM tokens WHERE id = :i"), {"i": token_id}
        ).scalar_one()
    assert runner.invoke(app, ["users", "revoke", "999999"]).exit_code != 0
    get_engine.cache_clear()
