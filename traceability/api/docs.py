"""The API's documentation at ``/docs``, served whole from this package.

``/docs`` is the reference drawn by the server from ``/openapi.json``: every operation by
tag, with its parameters, body and answers, in one document with no script, usable as
soon as it arrives (Swagger UI took 2.3-6 s to show anything in Chromium, most of it in
its own script reading the schema). Each operation opens in place (``<details>``); its
anchors are Swagger UI's tag links (``/docs#/diary``).

``/docs/try`` is Swagger UI, for sending requests from the browser. FastAPI's default
page loads it from a CDN and stays blank on a machine without internet (a cooperative's
office, a demo in the field). Swagger UI's distribution (``swagger-ui-dist`` 5,
Apache-2.0: ``static/swagger-ui/LICENSE`` and ``NOTICE``) lives under
``static/swagger-ui`` and is served from ``/docs/static/``. ReDoc is not served.
"""

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html

from traceability.api import pages, security
from traceability.api.pages import Lang
from traceability.errors import NotFound

SWAGGER_DIR = Path(__file__).resolve().parent / "static" / "swagger-ui"
SWAGGER_FILES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "favicon-32x32.png": "image/png",
    "LICENSE": "text/plain; charset=utf-8",
    "NOTICE": "text/plain; charset=utf-8",
}


@lru_cache(maxsize=8)
def _file(name: str) -> bytes:
    return (SWAGGER_DIR / name).read_bytes()


HTTP_METHODS = ("get", "post", "put", "patch", "delete", "head", "options")


def _type(schema: dict) -> str:
    """A schema in a few words: ``Lot``, ``string (date)``, ``array of Field``, ``a | b``."""
    if "$ref" in schema:
        return schema["$ref"].rsplit("/", 1)[-1]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return " | ".join(_type(s) for s in schema[key])
    kind = schema.get("type", "object")
    if kind == "array":
        return f"array of {_type(schema.get('items', {}))}"
    return f"{kind} ({schema['format']})" if "format" in schema else str(kind)


def operations(schema: dict) -> list[tuple[str, list[dict]]]:
    """The schema's operations by their first tag, in the schema's order."""
    tags: dict[str, list[dict]] = {}
    for path, item in schema.get("paths", {}).items():
        for method, op in item.items():
            if method not in HTTP_METHODS:
                continue
            params = [
                {
                    "name": p["name"],
                    "where": p.get("in", ""),
                    "required": p.get("required", False),
                    "type": _type(p.get("schema", {})),
                    "description": p.get("description", ""),
                }
                for p in op.get("parameters", [])
            ]
            content = op.get("requestBody", {}).get("content", {})
            body = ", ".join(f"{ct}: {_type(c.get('schema', {}))}" for ct, c in content.items())
            tags.setdefault((op.get("tags") or ["other"])[0], []).append(
                {
                    "id": op.get("operationId", f"{method}-{path}"),
                    "method": method,
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "params": params,
                    "body": body,
                    "responses": [
                        (c, r.get("description", "")) for c, r in op["responses"].items()
                    ],
                }
            )
    return list(tags.items())


def reference_page(request: Request, lang: Lang = None) -> Response:
    """The API's reference, drawn here from ``/openapi.json``: no script to wait for."""
    lang = pages.request_lang(request, lang)
    app = request.app
    root = request.scope.get("root_path", "")
    schema = app.openapi()
    info = schema.get("info", {})
    switch = [("vi", f"{root}/docs"), ("en", f"{root}/docs?lang=en")]
    return pages.page(
        "api_docs.html",
        lang,
        request=request,
        compress=True,
        title=info.get("title", app.title),
        summary=info.get("summary", ""),
        root=root,
        switch=switch,
        tags=operations(schema),
    )


def docs_page(request: Request) -> Response:
    """Swagger UI, its script, style and icon all from this server."""
    root = request.scope.get("root_path", "")
    app = request.app
    page = get_swagger_ui_html(
        openapi_url=root + app.openapi_url,
        title=f"{app.title} — API",
        swagger_js_url=f"{root}/docs/static/swagger-ui-bundle.js",
        swagger_css_url=f"{root}/docs/static/swagger-ui.css",
        swagger_favicon_url=f"{root}/docs/static/favicon-32x32.png",
        oauth2_redirect_url=f"{root}/docs/oauth2-redirect",
        # The default validator badge calls a server on the internet.
        swagger_ui_parameters={"validatorUrl": None},
    )
    return _own_policy(page)


def _own_policy(page: Response) -> Response:
    """``page`` with a policy admitting its own inline scripts (by hash) and Swagger UI's
    icons, which its stylesheet holds as ``data:`` images."""
    csp = security.page_policy(bytes(page.body).decode(), images="'self' data:")
    page.headers["Content-Security-Policy"] = csp
    return page


def oauth2_redirect() -> Response:
    """Swagger UI's OAuth2 redirect page."""
    return _own_policy(get_swagger_ui_oauth2_redirect_html())


def static_file(name: str) -> Response:
    """One file of Swagger UI's distribution, cached for a day."""
    media_type = SWAGGER_FILES.get(name)
    if media_type is None:
        raise NotFound(f"no documentation file '{name}'")
    return Response(
        _file(name), media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
    )


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Build ``/openapi.json`` while the server starts, beside it, so the first visit of
    ``/docs`` does not wait for it (a second or more)."""
    threading.Thread(target=app.openapi, name="openapi-schema", daemon=True).start()
    yield


def install(app: FastAPI) -> None:
    """Serve ``/docs``, its OAuth2 redirect and its static files on ``app``."""
    for path, endpoint in (
        ("/docs", reference_page),
        ("/docs/try", docs_page),
        ("/docs/oauth2-redirect", oauth2_redirect),
        ("/docs/static/{name}", static_file),
    ):
        app.add_api_route(path, endpoint, methods=["GET", "HEAD"], include_in_schema=False)
