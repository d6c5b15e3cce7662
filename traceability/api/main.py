"""The FastAPI application: routers, error handlers, health."""

from collections.abc import Iterator

from fastapi import FastAPI
from sqlalchemy.engine import Engine
from sqlmodel import Session

from traceability.api import docs, errors, health
from traceability.api.deps import current_engine, current_replica, current_settings
from traceability.api.limits import BodyLimit, CleanText
from traceability.api.routes import (
    amendments,
    app_pages,
    app_shell,
    devices,
    diary,
    fields,
    ingest,
    landing,
    lots,
    maps,
    missions,
    organisations,
    records,
    reports,
    resolver,
    staff,
    staff_pages,
    trace,
    transparency,
    zones,
)
from traceability.api.security import AuthFirst, SameOrigin, SecurityHeaders
from traceability.config import Settings, get_settings
from traceability.db import get_read_session, get_session

API_PREFIX = "/api/v1"
#: Where a body may be as large as ``max_upload_bytes``: files, not forms.
UPLOAD_PATHS = ("ingest/logs", "fields/import", "zones/import")


def create_app(
    settings: Settings | None = None, engine: Engine | None = None, replica: Engine | None = None
) -> FastAPI:
    """A new agritrace application.

    Without arguments it reads the process's settings and database (``agritrace serve``);
    given ``settings`` and ``engine`` (the demo, tests) it answers with those only.
    """
    # Bad settings (a bootstrap token too short to be safe) stop the server before it serves.
    limits = settings or get_settings()
    app = FastAPI(
        title="agritrace",
        summary="Farm produce traced to what was done on the field, by hand and by drone.",
        version="0.1.0",
        # Served by traceability.api.docs from this package, not from a CDN.
        docs_url=None,
        redoc_url=None,
        lifespan=docs.lifespan,
    )
    errors.install(app)
    uploads = [f"{API_PREFIX}/{p}" for p in UPLOAD_PATHS]
    # Added last, run first: a refused body is never parsed; an upload's token is checked
    # before its body is read, and a write from another site is refused before either.
    app.add_middleware(CleanText)
    app.add_middleware(
        BodyLimit,
        max_bytes=limits.max_body_bytes,
        upload_bytes=limits.max_upload_bytes,
        upload_paths=uploads,
        timeout_s=limits.body_timeout_s,
    )
    app.add_middleware(AuthFirst, paths=uploads)
    app.add_middleware(SameOrigin)
    docs.install(app)
    # The trace router holds both /api/v1/trace/... and the public pages (/t/..., /01/...).
    # Routes are matched in order, and a buyer's scan is the request that comes most often.
    app.include_router(trace.router)
    app.include_router(resolver.router)
    for module in (
        records,
        fields,
        diary,
        lots,
        amendments,
        missions,
        ingest,
        zones,
        maps,
        reports,
        organisations,
        transparency,
        devices,
    ):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(landing.router)
    app.include_router(transparency.static_router)
    # The office's, operators' and cooperatives' pages (signed in with an API token).
    app.include_router(staff.router)
    app.include_router(staff_pages.router)
    bind(app, engine=engine, settings=settings, replica=replica)
    app_pages.install(app)
    app.include_router(app_shell.router)
    health.install(app)
    # Outermost: every answer carries them, a refusal of the middlewares above included.
    app.add_middleware(SecurityHeaders)
    return app


def bind(
    app: FastAPI,
    *,
    engine: Engine | None = None,
    settings: Settings | None = None,
    replica: Engine | None = None,
) -> None:
    """Make ``app`` answer from ``engine`` and with ``settings`` rather than the process's.

    The session and the engine are both dependencies (the trace routes read through the
    engine's pool of one-statement reads), so they are overridden together, with the read
    replica of ``engine`` (``replica``; none unless given).
    """
    if settings is not None:

        async def own_settings() -> Settings:
            return settings

        app.dependency_overrides[current_settings] = own_settings
    if engine is not None:

        def session_on_engine() -> Iterator[Session]:
            with Session(engine) as session:
                yield session

        async def own_engine() -> Engine:
            return engine

        def read_session() -> Iterator[Session]:
            with Session(replica or engine) as session:
                yield session

        async def own_replica() -> Engine | None:
            return replica

        app.dependency_overrides[get_session] = session_on_engine
        app.dependency_overrides[current_engine] = own_engine
        app.dependency_overrides[get_read_session] = read_session
        app.dependency_overrides[current_replica] = own_replica
