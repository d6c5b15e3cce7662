"""Health and metrics of the API: ``/healthz``, ``/readyz``, ``/metrics`` and request timing.

- ``/healthz`` answers without touching anything (liveness);
- ``/readyz`` runs ``SELECT 1`` on the database: 200 when it answers, 503 when not;
- ``/metrics`` is Prometheus text: requests by method, route template and status, their
  latency, and the process's own metrics. With several worker processes
  (``agritrace serve --workers N``) every worker writes to ``PROMETHEUS_MULTIPROC_DIR``
  and the answer adds them up.

Routes are counted by their template (``/api/v1/lots/{code}``), never by the path asked,
so that scanning random codes cannot grow the number of series.
"""

import os
import secrets
import time
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from traceability.api.deps import SessionDep, current_user
from traceability.config import Settings, get_settings
from traceability.models import Role

REQUESTS = Counter(
    "agritrace_http_requests", "HTTP requests answered.", ["method", "route", "status"]
)
LATENCY = Histogram(
    "agritrace_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
#: What a request matching no route is counted as.
UNMATCHED = "(unmatched)"

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """Liveness: answers without touching the database."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "the database does not answer"}})
def readyz(session: SessionDep) -> JSONResponse:
    """Readiness: 200 when the database answers ``SELECT 1``, else 503."""
    try:
        session.execute(text("SELECT 1")).scalar_one()
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0][:200]
        body = {"status": "not ready", "checks": {"database": False}, "reason": reason}
        return JSONResponse(body, status_code=503)
    return JSONResponse({"status": "ready", "checks": {"database": True}})


def metrics_reader(
    request: Request,
    session: SessionDep,
    settings: Annotated[Settings, Depends(get_settings)],
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    """The office, the admin, or a scraper with ``AGRITRACE_METRICS_TOKEN``: the routes and
    counts of every request are not for anyone who asks."""
    scheme, _, token = (authorization or "").partition(" ")
    wanted = settings.metrics_token
    if (
        wanted
        and scheme.lower() == "bearer"
        and secrets.compare_digest(token.strip().encode(), wanted.encode())
    ):
        return
    user = current_user(request, session, settings, authorization)
    if user.role not in (Role.admin, Role.office):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            "metrics are read by the office, the admin or with AGRITRACE_METRICS_TOKEN; "
            f"you are {user.role}",
        )


@router.get(
    "/metrics",
    response_class=Response,
    dependencies=[Depends(metrics_reader)],
    responses={401: {"description": "no token"}, 403: {"description": "not office or admin"}},
)
def metrics() -> Response:
    """Prometheus metrics of this process (or of every worker, with several): office,
    admin, or ``Authorization: Bearer $AGRITRACE_METRICS_TOKEN``."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)


def route_template(scope: Scope) -> str:
    """The template of the route that answered (``/api/v1/lots/{code}``), whole.

    An included router's route knows only its own part (``/lots/{code}``); the router's
    prefix is what the path asked holds in front of that part, filled in.
    """
    route = scope.get("route")
    own = getattr(route, "path_format", None) or getattr(route, "path", None)
    if not own:
        return UNMATCHED
    try:
        filled = own.format(**{k: v for k, v in scope.get("path_params", {}).items()})
    except (KeyError, IndexError, ValueError):
        return own
    path = scope.get("path", "")
    return path[: len(path) - len(filled)] + own if path.endswith(filled) else own


class TimingMiddleware:
    """Count and time every HTTP request by method, route template and status."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Pass the request on; record it once the answer has started."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = route_template(scope)
            method = scope["method"]
            LATENCY.labels(method, route).observe(time.perf_counter() - started)
            REQUESTS.labels(method, route, str(status[0])).inc()


def install(app: FastAPI) -> None:
    """Add the health routes and request timing to ``app``."""
    app.include_router(router)
    app.add_middleware(TimingMiddleware)
