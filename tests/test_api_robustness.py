"""The API documents itself and answers garbage with a 4xx, never a 500, on every route."""

import re

import pytest
from fastapi.testclient import TestClient

from tests.record_helpers import all_rows

MALFORMED = [
    b"",
    b"{not json",
    b'{"a":',
    b"null",
    b"[]",
    b"42",
    b'"text"',
    b"true",
    b"\xff\xfe\x00garbage",
    b'{"code": 1e400}',
    b'{"code": NaN, "name": Infinity}',
    b"[" * 50_000 + b"]" * 50_000,
    b'{"a": ' * 5_000 + b"1" + b"}" * 5_000,
]
GARBAGE_VALUES = [
    None,
    {},
    [],
    "",
    "x" * 10_000,
    10**30,
    -(10**30),
    1e308,
    True,
    "☃\x00",
    [[[[1]]]],
]


@pytest.fixture
def raw_client(db):
    """A client that returns a server error as a response instead of raising it."""
    from traceability.api.main import create_app

    app = create_app(engine=db)

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _routes(client, method):
    spec = client.get("/openapi.json").json()
    return [(path, ops[method]) for path, ops in spec["paths"].items() if method in ops]


def _concrete(path, value="X-1"):
    return re.sub(r"\{[^}]+\}", value, path)


def test_openapi_document_builds(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["openapi"].startswith("3.") and spec["info"]["title"] == "agritrace"
    for route in (
        "/api/v1/fields",
        "/api/v1/diary",
        "/api/v1/fields/{code}/diary/verify",
        "/api/v1/lots",
    ):
        assert route in spec["paths"], route
    assert client.get("/docs").status_code == 200


def test_malformed_bodies_never_cause_a_server_error(raw_client, admin_headers, factory, db):
    factory.field(code="X-1")  # so that path parameters name something real
    before = all_rows(db)
    errors = []
    for path, _op in _routes(raw_client, "post"):
        url = _concrete(path)
        for body in MALFORMED:
            r = raw_client.post(
                url, content=body, headers={**admin_headers, "Content-Type": "application/json"}
            )
            if not 400 <= r.status_code < 500:
                errors.append(f"POST {path} {body[:30]!r}: {r.status_code} {r.text[:120]}")
            elif "detail" not in r.json():
                errors.append(f"POST {path} {body[:30]!r}: no detail in {r.text[:120]}")
    assert not errors, "\n".join(errors)
    assert all_rows(db) == before


def _schema_properties(spec, op):
    content = op.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return []
    schema = content["schema"]
    if "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return list(schema.get("properties", {}))


def test_wrongly_typed_fields_never_cause_a_server_error(raw_client, admin_headers, factory, db):
    factory.field(code="X-1")
    spec = raw_client.get("/openapi.json").json()
    before = all_rows(db)
    errors = []
    for path, op in _routes(raw_client, "post"):
        props = _schema_properties(spec, op)
        if not props:
            continue
        for value in GARBAGE_VALUES:
            # Every property garbage at once, then each alone beside plausible neighbours.
            bodies = [dict.fromkeys(props, value)] + [{p: value} for p in props]
            for body in bodies:
                r = raw_client.post(_concrete(path), json=body, headers=admin_headers)
                if not 400 <= r.status_code < 500:
                    errors.append(f"POST {path} {str(body)[:60]}: {r.status_code} {r.text[:120]}")
    assert not errors, "\n".join(errors[:20])
    assert all_rows(db) == before


def test_garbage_in_paths_and_queries_never_causes_a_server_error(
    raw_client, admin_headers, factory
):
    factory.field(code="X-1")
    errors = []
    values = ["9" * 30, "-1", "0", "abc", "%25", "..", "x" * 300, "1e400", "nan"]
    for path, op in _routes(raw_client, "get"):
        params = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
        for value in values:
            urls = [_concrete(path, value)] if "{" in path else []
            urls += [_concrete(path) + f"?{name}={value}" for name in params]
            for url in urls:
                r = raw_client.get(url, headers=admin_headers)
                if r.status_code >= 500:
                    errors.append(f"GET {url[:80]}: {r.status_code} {r.text[:120]}")
    assert not errors, "\n".join(errors[:20])
