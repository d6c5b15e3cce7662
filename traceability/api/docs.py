"""The API's documentation at ``/docs``, served whole from this package.

FastAPI's default page loads Swagger UI from a CDN and stays blank on a machine without
internet (a cooperative's office, a demo in the field). Swagger UI's distribution
(``swagger-ui-dist`` 5, Apache-2.0: ``static/swagger-ui/LICENSE`` and ``NOTICE``) lives
under ``static/swagger-ui`` and is served from ``/docs/static/``. ReDoc is not served.
"""

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI, Request, Response
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html

from traceability.api import security
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
        ("/docs", docs_page),
        ("/docs/oauth2-redirect", oauth2_redirect),
        ("/docs/static/{name}", static_file),
    ):
        app.add_api_route(path, endpoint, methods=["GET", "HEAD"], include_in_schema=False)
