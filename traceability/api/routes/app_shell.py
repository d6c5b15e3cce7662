"""What makes the farmers' app an app: its static files, manifest and service worker."""

import orjson
from fastapi import APIRouter, Request, Response

from traceability.api import pages
from traceability.api.pages import STATIC_TYPES, Lang, static_url
from traceability.errors import NotFound
from traceability.words import LANGS, gettext

router = APIRouter(include_in_schema=False)


@router.get("/app/static/{name}")
def static_file(name: str, request: Request) -> Response:
    """The app's script, stylesheet and icons; versioned URLs are cached for a year."""
    media_type = STATIC_TYPES.get(name)
    if media_type is None:
        raise NotFound(f"no static file '{name}'")
    body, gz, version = pages.static_file(name)
    headers = {"Vary": "Accept-Encoding", "ETag": f'"{version}"'}
    headers["Cache-Control"] = (
        "public, max-age=31536000, immutable"
        if request.query_params.get("v") == version
        else "public, max-age=300"
    )
    if "gzip" in request.headers.get("accept-encoding", "") and not name.endswith(".png"):
        return Response(gz, media_type=media_type, headers=headers | {"Content-Encoding": "gzip"})
    return Response(body, media_type=media_type, headers=headers)


@router.get("/app/manifest.webmanifest")
def manifest(request: Request, lang: Lang = None) -> Response:
    """The web app manifest: installable on the home screen, opening full screen."""
    lang = pages.request_lang(request, lang)
    data = {
        "name": gettext(lang, "app.app_name"),
        "short_name": gettext(lang, "app.app_name"),
        "lang": lang,
        "start_url": "/app/" + ("?lang=en" if lang == "en" else ""),
        "scope": "/app/",
        "display": "standalone",
        "background_color": "#f6f8f6",
        "theme_color": "#1b5e20",
        "icons": [
            {"src": static_url("icon-192.png"), "sizes": "192x192", "type": "image/png"},
            {"src": static_url("icon-512.png"), "sizes": "512x512", "type": "image/png"},
            {"src": static_url("icon.svg"), "sizes": "any", "type": "image/svg+xml"},
        ],
    }
    return Response(orjson.dumps(data), media_type="application/manifest+json")


@router.get("/app/sw.js")
def service_worker() -> Response:
    """The service worker, with the version of the files it caches written in."""
    body = pages.templates.get_template("app/sw.js").render(
        # A page asked for without signal and never cached: said in both languages.
        offline=" · ".join(gettext(lang, "app.offline") for lang in LANGS),
        version=pages.app_version(),
        precache=[static_url(n) for n in STATIC_TYPES if not n.endswith("512.png")],
    )
    # Browsers check for a new worker on navigation; it must never come from a cache.
    return Response(
        body, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )
