"""Domain errors and bad requests turned into clear 4xx answers; a database away, a 503."""

import logging
import threading

import psycopg
from fastapi import APIRouter, FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from traceability.errors import (
    AgritraceError,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    Unauthenticated,
)

log = logging.getLogger(__name__)

_STATUS = {NotFound: 404, Conflict: 409, Forbidden: 403, InvalidInput: 422, Unauthenticated: 401}


def _plain(error: dict) -> dict:
    # A length checked after a text's own validators (an optional text, models.py) is
    # reported by pydantic as "items"; a person sent characters.
    if error.get("type") == "too_long" and isinstance(error.get("input"), str):
        limit = (error.get("ctx") or {}).get("max_length")
        return {
            **error,
            "type": "string_too_long",
            "msg": f"String should have at most {limit} characters",
        }
    return error


def _describe(error: dict) -> str:
    where = ".".join(str(p) for p in error.get("loc", ()) if p != "body") or "body"
    return f"{where}: {error.get('msg', 'invalid')}"


#: The body of every 422, as :func:`install`'s handler writes it (FastAPI's default
#: document says ``detail`` is a list; here it is one sentence, with the list beside it).
VALIDATION_ERROR_SCHEMA = {
    "title": "HTTPValidationError",
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "title": "Detail"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {
                        "type": "array",
                        "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]},
                    },
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}


#: Schemas already built in this process, by the routes they describe: every app that
#: ``create_app`` makes has the same routes, and building one costs a second or more.
_BUILT: dict[tuple, dict] = {}
_BUILDING = threading.Lock()


def _routes_key(app: FastAPI) -> tuple:
    return (app.title, app.version) + tuple(
        (
            getattr(r, "path", ""),
            tuple(sorted(getattr(r, "methods", None) or ())),
            getattr(getattr(r, "endpoint", None), "__module__", ""),
            getattr(getattr(r, "endpoint", None), "__qualname__", ""),
            getattr(r, "include_in_schema", False),
        )
        for r in app.routes
    )


def _document(app: FastAPI) -> None:
    """Make ``/openapi.json`` declare the 422 body that is really answered."""
    generate = app.openapi

    def openapi() -> dict:
        with _BUILDING:  # a visit during the start's build waits for it, not a second build
            return build()

    def build() -> dict:
        if app.openapi_schema is None:
            key = _routes_key(app)
            built = _BUILT.get(key)
            if built is not None:
                app.openapi_schema = built
                return built
            schema = generate()
            schemas = schema.get("components", {}).get("schemas", {})
            if "HTTPValidationError" in schemas:
                schemas["HTTPValidationError"] = VALIDATION_ERROR_SCHEMA
            _BUILT[key] = schema
        return app.openapi_schema

    app.openapi = openapi


def install(app: FastAPI) -> None:
    """Register the handlers on ``app``."""
    _document(app)

    @app.exception_handler(AgritraceError)
    async def domain_error(_request: Request, exc: AgritraceError) -> JSONResponse:
        code = next((c for cls, c in _STATUS.items() if isinstance(exc, cls)), 400)
        headers = {"WWW-Authenticate": "Bearer"} if code == 401 else None
        return JSONResponse({"detail": str(exc)}, status_code=code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_plain(e) for e in exc.errors()]
        detail = "; ".join(_describe(e) for e in errors[:10])
        clean = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")}
            for e in errors
        ]
        return JSONResponse({"detail": detail, "errors": clean}, status_code=422)

    @app.exception_handler(IntegrityError)
    async def integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        # Services check what they can; a race past those checks still ends as a 409, not a 500.
        return JSONResponse({"detail": f"conflicts with stored data: {exc.orig}"}, status_code=409)

    @app.exception_handler(DataError)
    async def data_error(_request: Request, exc: DataError) -> JSONResponse:
        # PostgreSQL refusing a value (an id beyond INTEGER, a string too long) is bad input.
        reason = str(exc.orig).splitlines()[0] if exc.orig else "invalid value"
        if "NUL" in reason:  # the driver's words name PostgreSQL; a person sent a NUL
            reason = "text must not contain NUL characters"
        return JSONResponse(
            {"detail": f"a value does not fit the database: {reason}"}, status_code=422
        )

    @app.exception_handler(OperationalError)
    @app.exception_handler(PoolTimeout)
    @app.exception_handler(psycopg.OperationalError)  # the scans' read pool uses the driver
    async def unavailable(_request: Request, exc: Exception) -> JSONResponse:
        # The database is away, busy or out of connections: the same request may succeed
        # in a moment, and the client is told so rather than shown a server error.
        log.warning("database unavailable: %s", str(exc).splitlines()[0] if str(exc) else exc)
        return JSONResponse(
            {"detail": "the database is unavailable; try again shortly"},
            status_code=503,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(OverflowError)
    async def overflow(_request: Request, exc: OverflowError) -> JSONResponse:
        # SQLite's driver raises this for integers beyond 64 bits, before any SQL runs.
        return JSONResponse({"detail": f"a number is out of range: {exc}"}, status_code=422)


_APPEND_ONLY = (
    "diary entries are append-only: they are never edited or deleted; "
    "POST a new entry with 'corrects' (and 'retracts': true to withdraw one)"
)


def refuse_changes(router: APIRouter, path: str, allow: str) -> None:
    """Answer PUT, PATCH and DELETE on a diary ``path`` with a 405 saying how to correct."""

    def append_only() -> None:
        raise HTTPException(
            status.HTTP_405_METHOD_NOT_ALLOWED, _APPEND_ONLY, headers={"Allow": allow}
        )

    router.add_api_route(
        path, append_only, methods=["PUT", "PATCH", "DELETE"], include_in_schema=False
    )
