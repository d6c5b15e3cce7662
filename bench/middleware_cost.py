"""CPU per request added by the safety middlewares (headers, same-origin, upload token).

    .venv/bin/python bench/middleware_cost.py [--requests 20000] [--rounds 5]

Calls the whole application in this process, at the ASGI level (no network, no test
client), with ``GET /healthz`` and ``POST /api/v1/farmers`` (no token: a 401 from the
route), in alternating rounds: the app as served, and the same app without
:class:`SecurityHeaders`, :class:`SameOrigin` and :class:`AuthFirst` (the ceiling the
added cost is read against, in the same run). Reports CPU microseconds per request
(``time.process_time``), the lowest of the rounds.
"""

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from traceability.api.main import create_app  # noqa: E402
from traceability.api.security import AuthFirst, SameOrigin, SecurityHeaders  # noqa: E402
from traceability.db import make_engine, migrate  # noqa: E402

SAFETY = (SecurityHeaders, SameOrigin, AuthFirst)


def _scope(method: str, path: str) -> dict:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"bench"), (b"origin", b"http://bench")],
        "client": ("127.0.0.1", 1),
        "server": ("bench", 80),
    }


async def _run(app, method: str, path: str, n: int) -> float:
    """CPU microseconds per request over ``n`` requests."""
    scope = _scope(method, path)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict) -> None:
        pass

    started = time.process_time()
    for _ in range(n):
        await app(scope, receive, send)
    return (time.process_time() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    engine = make_engine(f"sqlite:///{tempfile.mkdtemp()}/bench.db")
    migrate(engine)
    served = create_app(engine=engine)
    bare = create_app(engine=engine)
    bare.user_middleware = [m for m in bare.user_middleware if m.cls not in SAFETY]
    apps = {"served": served, "without": bare}
    for method, path in (("GET", "/healthz"), ("POST", "/api/v1/farmers")):
        best = {name: float("inf") for name in apps}
        for _ in range(args.rounds):
            for name, app in apps.items():
                us = asyncio.run(_run(app, method, path, args.requests))
                best[name] = min(best[name], us)
        added = best["served"] - best["without"]
        print(
            f"{method} {path}: {best['served']:.1f} us served, {best['without']:.1f} us "
            f"without the three ({added:+.1f} us, {added / best['without']:+.1%})"
        )


if __name__ == "__main__":
    main()
