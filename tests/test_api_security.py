"""What a request may do before its body is read, and what a browser may do with an answer.

- an upload address authenticates before it reads a byte of body (counted at the ASGI
  level, on both backends; over a real socket in ``test_api_limits.py``);
- a write a browser sends from another site (sign in, sign out) is a 403;
- every answer carries ``nosniff``, a Content-Security-Policy and no framing; ``/docs``
  admits its own inline scripts by their SHA-256, worked out here with ``hashlib``.

``test_security_e2e.py`` opens every kind of page in Chromium under that policy.
"""

import asyncio
import base64
import hashlib
import re

import pytest
from sqlmodel import Session

from tests.conftest import ADMIN_TOKEN
from tests.record_helpers import API
from traceability.models import Role, User
from traceability.services import signin

UPLOADS = [f"{API}/ingest/logs", f"{API}/fields/import", f"{API}/zones/import"]


# ---------------------------------------------------------------- uploads: the token first


def _scope(path: str, headers: list[tuple[bytes, bytes]]) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"testserver"), *headers],
        "client": ("127.0.0.1", 40000),
        "server": ("testserver", 80),
    }


def _post(app, path: str, headers: list[tuple[bytes, bytes]], body: bytes):
    """``(status, body, bytes the app received)``: the body offered in 64 KiB chunks."""
    chunks = [body[i : i + 65536] for i in range(0, len(body), 65536)]
    received = 0
    sent: list[dict] = []

    async def receive() -> dict:
        nonlocal received
        if not chunks:
            return {"type": "http.disconnect"}
        chunk = chunks.pop(0)
        received += len(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(chunks)}

    async def send(message: dict) -> None:
        sent.append(message)

    length = [(b"content-length", str(len(body)).encode())]
    asyncio.run(app(_scope(path, [*length, *headers]), receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    answer = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, answer.decode(), received


@pytest.fixture
def app(db):
    from traceability.api.main import create_app

    return create_app(engine=db)


BODY = b"--x\r\n" + b"[" * (3 * 2**20)


@pytest.mark.parametrize("path", UPLOADS)
@pytest.mark.parametrize(
    ("authorization", "status", "words"),
    [
        (None, 401, "missing token"),
        (b"Basic YWRtaW46YWRtaW4=", 401, "Bearer <token>"),
        (b"Bearer not-a-token-of-anyone", 401, "unknown token"),
    ],
)
def test_an_upload_without_a_valid_token_is_refused_before_its_body_is_read(
    app, path, authorization, status, words
):
    headers = [(b"authorization", authorization)] if authorization else []
    code, answer, received = _post(app, path, headers, BODY)
    assert (code, received) == (status, 0), answer
    assert words in answer


@pytest.mark.parametrize("path", UPLOADS)
def test_a_revoked_token_or_the_office_is_refused_before_the_body(app, factory, db, path):
    office = factory.token("office")["Authorization"].encode()
    code, answer, received = _post(app, path, [(b"authorization", office)], BODY)
    assert (code, received) == (403, 0) and "writes none" in answer
    headers = factory.token("operator")
    token = headers["Authorization"].split()[1]
    with Session(db) as session:
        user = session.query(User).filter(User.role == Role.operator).one()
        user.active = False
        session.commit()
    code, answer, received = _post(
        app, path, [(b"authorization", f"Bearer {token}".encode())], BODY
    )
    assert (code, received) == (401, 0) and "revoked" in answer


@pytest.mark.parametrize("path", UPLOADS)
def test_an_admin_upload_is_read_and_answered_by_the_route(app, path):
    code, answer, received = _post(
        app, path, [(b"authorization", f"Bearer {ADMIN_TOKEN}".encode())], BODY
    )
    assert received == len(BODY)
    assert code in (400, 422), answer  # not a flight log nor GeoJSON: the route said so


def test_with_the_database_away_an_upload_is_a_503_unread(tmp_path):
    from traceability.api.main import create_app
    from traceability.db import make_engine

    engine = make_engine(f"sqlite:///{tmp_path}/missing/agritrace.db")  # cannot be opened
    app = create_app(engine=engine)
    token = [(b"authorization", b"Bearer some-token-of-someone")]
    code, answer, received = _post(app, UPLOADS[0], token, BODY)
    assert (code, received) == (503, 0) and "try again" in answer


# ---------------------------------------------------------------- writes from another site

EVIL = "https://evil.example"


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Referer": f"{EVIL}/prize.html"},
        {"Origin": "http://testserver.evil.example"},
    ],
    ids=["origin", "null-origin", "sec-fetch-site", "referer", "lookalike"],
)
def test_signing_in_from_another_site_is_refused(client, headers):
    r = client.post("/signin", data={"token": ADMIN_TOKEN}, headers=headers, follow_redirects=False)
    assert r.status_code == 403, r.text
    assert "another site" in r.json()["detail"]
    assert "set-cookie" not in r.headers


@pytest.mark.parametrize(
    "headers",
    [
        {},  # a script: no Origin, no Sec-Fetch-Site
        {"Origin": "http://testserver", "Sec-Fetch-Site": "same-origin"},
        # behind a proxy: the Host is the API's own, the Origin the public address
        {"Origin": "https://trace.example.vn"},
        {"Referer": "http://testserver/signin?lang=en"},
    ],
    ids=["script", "same-origin", "public-address", "own-referer"],
)
def test_signing_in_from_this_site_still_works(client, headers):
    r = client.post("/signin", data={"token": ADMIN_TOKEN}, headers=headers, follow_redirects=False)
    assert r.status_code == 303, r.text
    assert "agritrace_staff=" in r.headers["set-cookie"]


def test_signing_out_from_another_site_is_refused(client):
    client.cookies.set("agritrace_staff", ADMIN_TOKEN)
    r = client.post("/signout", headers={"Origin": EVIL}, follow_redirects=False)
    assert r.status_code == 403 and "set-cookie" not in r.headers
    r = client.post("/signout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303 and 'agritrace_staff=""' in r.headers["set-cookie"]


def test_a_phone_is_not_signed_out_by_another_site(client, factory, db):
    farmer = factory.farmer()
    with Session(db) as session:
        admin = User(id=None, name="admin", role=Role.admin)
        _link, token = signin.issue_link(session, farmer_id=farmer.id, user=admin, valid_hours=1)
        device, device_token = signin.redeem(session, token=token)
        device_id = device.id
    client.cookies.set("agritrace_device", device_token, path="/app")
    r = client.post("/app/signout", headers={"Sec-Fetch-Site": "cross-site"})
    assert r.status_code == 403
    with Session(db) as session:
        assert session.get(User, device_id).active is True
    r = client.post("/app/signout", headers={"Origin": "http://testserver"}, follow_redirects=False)
    assert r.status_code == 303
    with Session(db) as session:
        assert session.get(User, device_id).active is False


def test_a_sign_in_link_cannot_be_spent_from_another_site(client, factory, db):
    farmer = factory.farmer()
    with Session(db) as session:
        admin = User(id=None, name="admin", role=Role.admin)
        _link, token = signin.issue_link(session, farmer_id=farmer.id, user=admin, valid_hours=1)
    r = client.post("/app/signin", data={"token": token}, headers={"Origin": EVIL})
    assert r.status_code == 403
    with Session(db) as session:
        assert signin.valid_link(session, token=token) is not None


# ---------------------------------------------------------------- headers on every answer


def _directives(csp: str) -> dict[str, list[str]]:
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in csp.split(";")) if d}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/healthz", 200),
        ("GET", "/", 200),
        ("GET", "/t/NO-SUCH-LOT", 404),
        ("GET", "/signin", 200),
        ("GET", f"{API}/farmers", 401),
        ("POST", f"{API}/ingest/logs", 401),
        ("POST", "/signin", 403),
        ("GET", "/docs/static/swagger-ui.css", 200),
    ],
)
def test_every_answer_carries_nosniff_a_policy_and_no_framing(client, method, path, status):
    headers = {"Origin": EVIL} if path == "/signin" and method == "POST" else {}
    r = client.request(method, path, headers=headers)
    assert r.status_code == status, r.text
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"
    csp = _directives(r.headers["content-security-policy"])
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["default-src"] == ["'self'"] and csp["object-src"] == ["'none'"]
    assert "'unsafe-inline'" not in csp["script-src"] and "'unsafe-eval'" not in csp["script-src"]


def test_a_body_too_large_is_refused_with_the_headers_too(client, admin_headers):
    r = client.post(f"{API}/farmers", content=b"x" * (2 * 2**20), headers=admin_headers)
    assert r.status_code == 413 and r.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize("path", ["/docs/try", "/docs/oauth2-redirect"])
def test_docs_admit_their_own_inline_scripts_and_no_other(client, path):
    r = client.get(path)
    inline = re.findall(r"<script>(.*?)</script>", r.text, re.S)
    assert inline, "the page has an inline script to admit"
    scripts = _directives(r.headers["content-security-policy"])["script-src"]
    for code in inline:
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in scripts
    assert "'unsafe-inline'" not in scripts
    assert _directives(r.headers["content-security-policy"])["frame-ancestors"] == ["'none'"]


def test_the_print_button_is_the_one_inline_handler_admitted():
    from traceability.api.security import POLICY

    scripts = _directives(POLICY)["script-src"]
    digest = base64.b64encode(hashlib.sha256(b"window.print()").digest()).decode()
    assert scripts == ["'self'", "'unsafe-hashes'", f"'sha256-{digest}'"]
