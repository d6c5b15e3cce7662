"""Who may send what, and what a browser may do with the answer: three ASGI middlewares.

- :class:`SecurityHeaders` puts ``X-Content-Type-Options: nosniff``, a
  Content-Security-Policy (:data:`POLICY`, which the pages satisfy: scripts and styles
  from this server only, nothing framed) and ``Referrer-Policy`` on every answer. A page
  with inline scripts of its own (``/docs``) sets its own policy with their hashes
  (:func:`policy`), which is kept.
- :class:`SameOrigin` refuses (403) a write that a browser says comes from another site:
  ``Sec-Fetch-Site: cross-site``, or an ``Origin`` (or, without one, a ``Referer``) that
  is not this server's. A page on another site can thus neither sign a visitor in with
  the attacker's token nor sign them out. Scripts send neither header and pass.
- :class:`AuthFirst` authenticates a request to an upload address (a flight log, an
  import of fields or zones: up to ``max_upload_bytes``) before a byte of its body is
  read, by the same rule as :func:`traceability.api.deps.current_user`. Without it, an
  anonymous client could make the server read 64 MiB to be told 401.
"""

import base64
import hashlib
import inspect
import re
from collections.abc import Collection
from typing import Any
from urllib.parse import urlsplit

from fastapi import HTTPException
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from traceability.api.deps import current_engine, current_user
from traceability.api.limits import ASGIApp, Receive, Scope, Send, _answer
from traceability.config import get_settings
from traceability.errors import Forbidden, Unauthenticated

#: The one inline script handler a page uses: the label's "print" button.
_INLINE_HANDLERS = ("window.print()",)


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def policy(*, script_hashes: Collection[str] = (), images: str = "'self'") -> str:
    """The Content-Security-Policy of a page; ``script_hashes`` admit its inline scripts.

    >>> "frame-ancestors 'none'" in policy()
    True
    """
    handlers = " ".join(map(_sha256, _INLINE_HANDLERS))
    scripts = " ".join(["'self'", *map(_sha256, script_hashes)])
    return "; ".join(
        [
            "default-src 'self'",
            # 'unsafe-hashes' admits inline handlers whose exact text is hashed here, no other.
            f"script-src {scripts} 'unsafe-hashes' {handlers}",
            # Templates set a few style attributes; a style cannot run code.
            "style-src 'self' 'unsafe-inline'",
            f"img-src {images}",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def page_policy(html: str, *, images: str = "'self'") -> str:
    """The policy of a page whose inline ``<script>`` blocks are its own (their hashes)."""
    return policy(script_hashes=_INLINE_SCRIPT.findall(html), images=images)


#: The policy of every answer that does not set its own.
POLICY = policy()
_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", POLICY.encode()),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)


class SecurityHeaders:
    """``nosniff``, the CSP, no framing and the referrer policy on every answer."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers += [(k, v) for k, v in _HEADERS if k not in present]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_headers)


# ---------------------------------------------------------------- writes from another site

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else ""


def cross_site(headers: dict[bytes, bytes], *, public_base_url: str = "") -> str | None:
    """Why a request's headers show it was sent by a page on another site, or None.

    ``Origin`` and ``Referer`` are compared with the ``Host`` the request was sent to and
    with ``AGRITRACE_PUBLIC_BASE_URL`` (behind a proxy that terminates TLS).

    >>> cross_site({b"host": b"a.vn:8000", b"origin": b"http://a.vn:8000"}) is None
    True
    >>> cross_site({b"host": b"api:8000", b"origin": b"https://a.vn"}, public_base_url="https://a.vn/")
    >>> cross_site({b"host": b"a.vn", b"origin": b"https://evil.example"})
    'it was sent from https://evil.example, another site'
    """
    fetch_site = headers.get(b"sec-fetch-site", b"").decode("latin-1").lower()
    if fetch_site == "cross-site":
        return "the browser says it was sent from another site (Sec-Fetch-Site: cross-site)"
    sent_from = headers.get(b"origin") or headers.get(b"referer")
    if sent_from is None:
        return None  # not a browser, or one that sent its own address bar's request
    source = sent_from.decode("latin-1")
    host = headers.get(b"host", b"").decode("latin-1").lower()
    own = {f"http://{host}", f"https://{host}", _origin(public_base_url)}
    if _origin(source) in own:
        return None
    shown = _origin(source) or source[:100] or "an empty origin"
    return f"it was sent from {shown}, another site"


class SameOrigin:
    """403 for a write (POST, PUT, PATCH, DELETE) a browser sent from another site."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in _SAFE_METHODS:
            settings = await _resolved(scope["app"], get_settings)
            why = cross_site(dict(scope["headers"]), public_base_url=settings.public_base_url)
            if why is not None:
                await _answer(send, 403, f"refused: {why}; use this site's own pages")
                return
        await self.app(scope, receive, send)


# ---------------------------------------------------------------- uploads: the token first


async def _resolved(app: Any, dependency: Any) -> Any:
    """``dependency``'s value for ``app``, through the app's overrides (``main.bind``)."""
    value = app.dependency_overrides.get(dependency, dependency)()
    return await value if inspect.isawaitable(value) else value


class AuthFirst:
    """On ``paths``, 401 (or 403) before the body is read, by ``current_user``'s rule."""

    def __init__(self, app: ASGIApp, *, paths: Collection[str]) -> None:
        self.app = app
        self.paths = frozenset(paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] in self.paths:
            refused = await self._refusal(scope)
            if refused is not None:
                status, detail = refused
                extra = {401: [(b"www-authenticate", b"Bearer")], 503: [(b"retry-after", b"5")]}
                await _answer(send, status, detail, extra.get(status, []))
                return
        await self.app(scope, receive, send)

    async def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        """``(status, reason)`` when the caller may not send here, else None."""
        app = scope["app"]
        engine = await _resolved(app, current_engine)
        settings = await _resolved(app, get_settings)
        request = Request(scope)

        def check() -> None:
            with Session(engine) as session:
                current_user(request, session, settings, request.headers.get("authorization"))

        try:
            await run_in_threadpool(check)
        except HTTPException as exc:
            return exc.status_code, str(exc.detail)
        except Unauthenticated as exc:
            return 401, str(exc)
        except Forbidden as exc:
            return 403, str(exc)
        except SQLAlchemyError:
            # As errors.py answers a database away: try again, and nothing of the body read.
            return 503, "the database is unavailable; try again shortly"
        return None
