"""The FastAPI application: routers, error handlers, health."""

from fastapi import FastAPI

from traceability.api import errors
from traceability.api.routes import app as farmers_app
from traceability.api.routes import diary, fields, lots, missions, records, reports, trace

API_PREFIX = "/api/v1"


def create_app() -> FastAPI:
    """A new agritrace application (the database comes from settings or a dependency override)."""
    app = FastAPI(
        title="agritrace",
        summary="Farm produce traced to what was done on the field, by hand and by drone.",
        version="0.1.0",
    )
    errors.install(app)
    for module in (records, fields, diary, lots, missions, reports):
        app.include_router(module.router, prefix=API_PREFIX)
    # The trace router holds both /api/v1/trace/... and the public pages (/t/..., /01/...).
    app.include_router(trace.router)
    farmers_app.install(app, API_PREFIX)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """Liveness: answers without touching the database."""
        return {"status": "ok"}

    return app
