"""What a request may be before the application sees it: its size, its pace, its characters.

Two small ASGI middlewares, outermost in the stack, so nothing of a refused request is
parsed or authenticated:

- :class:`BodyLimit` answers 413 when ``Content-Length`` says a body is larger than the
  limit, and also while reading a chunked body as soon as it passes the limit; a body
  that does not arrive within the read timeout (longer for a large body arriving at a
  fair pace, :data:`MIN_RATE`) gets 408. The body is read (at most the limit) before
  the application runs and handed to it whole.
- :class:`CleanText` writes the path and query in Unicode NFC (one village typed on two
  phones is one village) and turns NUL, which no stored text can hold and PostgreSQL
  refuses, into U+FFFD: such a code is simply not found.
"""

import asyncio
import unicodedata
from collections.abc import Awaitable, Callable, Collection
from typing import Any
from urllib.parse import parse_qsl, urlencode

import orjson

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class _TooLarge(Exception):
    pass


async def _answer(
    send: Send, status: int, detail: str, headers: Collection[tuple[bytes, bytes]] = ()
) -> None:
    """A JSON error answered before the application runs; the connection is closed after."""
    body = orjson.dumps({"detail": detail})
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def _mib(n: int) -> str:
    return f"{n / 2**20:g} MiB ({n:,} bytes)"


class BodyLimit:
    """413 for a body over the limit (``upload_paths`` have a larger one), 408 for a slow one."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        upload_bytes: int,
        upload_paths: Collection[str] = (),
        timeout_s: float = 30.0,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_bytes = upload_bytes
        self.upload_paths = tuple(upload_paths)
        self.timeout_s = timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        length = headers.get(b"content-length")
        if length is None and b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)  # no body
            return
        limit = self.upload_bytes if scope["path"] in self.upload_paths else self.max_bytes
        too_large = f"the request body is larger than the {_mib(limit)} this address accepts"
        if length is not None:
            if not length.isdigit():
                await _answer(send, 400, "Content-Length is not a number of bytes")
                return
            if int(length) > limit:
                await _answer(send, 413, too_large)
                return
        try:
            async with asyncio.timeout(self.timeout_s) as deadline:
                body = await _read_body(receive, limit, deadline, self.timeout_s)
        except _TooLarge:
            await _answer(send, 413, too_large)
            return
        except TimeoutError:
            await _answer(send, 408, f"the request body did not arrive within {self.timeout_s:g} s")
            return
        if body is None:
            return  # the client went away
        await self.app(scope, _replay(body, receive), send)


#: A body arriving at least this fast is never cut by the timeout: the deadline moves
#: on by a second for every 64 KiB received (a large upload on a slow link still lands,
#: a client sending a byte now and then does not hold a connection for long).
MIN_RATE = 65_536


async def _read_body(
    receive: Receive, limit: int, deadline: asyncio.Timeout, timeout_s: float
) -> bytes | None:
    """The whole body, or None when the client disconnected; :class:`_TooLarge` past ``limit``."""
    start = asyncio.get_running_loop().time()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
        deadline.reschedule(start + timeout_s + size / MIN_RATE)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands over the body read, then waits for what the server says."""
    sent = False

    async def replay() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def clean_text(value: str) -> str:
    """``value`` in NFC, with NUL as U+FFFD.

    >>> clean_text("Gia\\u0301 Rai\\x00") == "Giá Rai\\ufffd"
    True
    """
    if value.isascii():
        return value.replace("\x00", "\ufffd") if "\x00" in value else value
    return unicodedata.normalize("NFC", value).replace("\x00", "\ufffd")


class CleanText:
    """Path and query in NFC, NUL as U+FFFD, before routing and validation."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            path = clean_text(scope["path"])
            query = scope.get("query_string", b"")
            if b"%" in query or not query.isascii():
                pairs = parse_qsl(query.decode("utf-8", "replace"), keep_blank_values=True)
                query = urlencode([(clean_text(k), clean_text(v)) for k, v in pairs]).encode()
            if path != scope["path"] or query != scope.get("query_string", b""):
                scope = {**scope, "path": path, "query_string": query}
        await self.app(scope, receive, send)
