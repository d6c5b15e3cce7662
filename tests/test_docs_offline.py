"""The API documentation at /docs works without the internet: everything from this server."""

import re

import pytest

from tests.test_app_e2e import browser, server  # noqa: F401  (fixtures)

OFF_HOST = re.compile(r"""(?:src|href|url)\s*[=:(]\s*["']?\s*(?:https?:)?//""", re.I)


def test_the_reference_lists_every_operation_in_one_document_without_script(client):
    """/docs is drawn by the server: each operation of /openapi.json once, under its tag,
    with its parameters; no script, nothing from outside; in Vietnamese and English."""
    schema = client.get("/openapi.json").json()
    expected = {
        (method.upper(), path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("get", "head", "post", "put", "patch", "delete")
    }
    for lang, heading in (("vi", "Tài liệu API"), ("en", "API documentation")):
        r = client.get("/docs", params={"lang": lang})
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        html = r.text
        assert heading in html and "<script" not in html
        assert not re.findall(r"https?://", html), "the page names an outside URL"
        listed = re.findall(r'<span class="m m-\w+">(\w+)</span> <code>([^<]+)</code>', html)
        assert len(listed) == len(expected) and set(listed) == expected
        # Swagger UI's tag anchors (the landing page links /docs#/diary) still land.
        assert 'id="/diary"' in html and 'href="/docs/try' in html
    html = client.get("/docs").text
    lot = html[html.index("<code>/api/v1/lots/{code}/proof</code>") :]
    assert "<code>code</code> *" in lot[: lot.index("</details>")]


def test_swagger_ui_references_nothing_off_the_host(client):
    r = client.get("/docs/try")
    assert r.status_code == 200
    html = r.text
    assert not re.findall(r"https?://", html), "the page names an outside URL"
    assert not OFF_HOST.search(html)
    for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
        assert asset.startswith("/docs/static/"), asset
        got = client.get(asset)
        assert got.status_code == 200 and len(got.content) > 500, asset


def test_swagger_ui_licence_is_served_and_unknown_files_are_not(client):
    licence = client.get("/docs/static/LICENSE")
    assert licence.status_code == 200 and "Apache License" in licence.text
    r = client.get("/docs/static/../../main.py")
    assert r.status_code == 404
    r = client.get("/docs/static/index.html")
    assert r.status_code == 404 and "index.html" in r.json()["detail"]
    assert client.get("/redoc").status_code == 404


@pytest.mark.integration
def test_docs_render_operations_with_outside_hosts_blocked(server, browser):  # noqa: F811
    base_url, _engine = server
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    outside: list[str] = []

    def only_this_host(route):
        url = route.request.url
        if url.startswith(base_url) or url.startswith("data:"):
            route.continue_()
        else:
            outside.append(url)
            route.abort()

    context.route("**/*", only_this_host)
    page = context.new_page()
    page.goto(f"{base_url}/docs/try")
    page.wait_for_selector(".opblock", timeout=15_000)
    operations = page.locator(".opblock").count()
    assert operations > 40, f"only {operations} operations rendered"
    assert "/api/v1/missions/{mission_id}/map.svg" in page.content()
    assert outside == [], f"the page asked outside hosts: {outside}"
    context.close()


def test_the_schema_is_built_while_the_server_starts_and_once_per_process(monkeypatch):
    """A started app builds /openapi.json beside its start; a second app with the same
    routes reuses it instead of building it again (each build costs a second or more)."""
    import time

    import fastapi.openapi.utils as openapi_utils
    from fastapi.testclient import TestClient

    from traceability.api import errors
    from traceability.api.main import create_app

    built = []
    generate = openapi_utils.get_openapi

    def counted(*args, **kwargs):
        built.append(1)
        return generate(*args, **kwargs)

    monkeypatch.setattr("fastapi.applications.get_openapi", counted)
    monkeypatch.setattr(errors, "_BUILT", {})
    first = create_app()
    with TestClient(first):
        for _ in range(200):  # the start's thread, not a request, builds it
            if first.openapi_schema is not None:
                break
            time.sleep(0.05)
        assert first.openapi_schema is not None and built == [1]
    second = create_app()
    with TestClient(second) as client:
        assert client.get("/openapi.json").json()["paths"] == first.openapi_schema["paths"]
    assert built == [1]
    assert "HTTPValidationError" in second.openapi_schema["components"]["schemas"]
