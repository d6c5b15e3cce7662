"""Request dependencies: the database session, the caller, paging."""

import math
import secrets
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query, Request, status
from fastapi.exceptions import RequestValidationError
from sqlalchemy.engine import Engine
from sqlmodel import Session

from traceability.config import Settings, get_settings
from traceability.db import get_engine, get_read_session, get_replica, get_session
from traceability.errors import InvalidInput
from traceability.models import Role, User
from traceability.services import access
from traceability.services.users import authenticate

SessionDep = Annotated[Session, Depends(get_session)]
#: Reads that may be served by the read replica (reports, the resolver): never written through.
ReadSessionDep = Annotated[Session, Depends(get_read_session)]


# The buyer's scan is the hottest route: its dependencies are ``async``, so FastAPI calls
# them on the event loop, where a plain function would cost a worker thread each.
async def current_engine() -> Engine:
    """The database the requests read (an app bound elsewhere overrides it: ``bind``)."""
    return get_engine()


async def current_settings() -> Settings:
    """The app's settings (an app built with its own overrides it: ``bind``)."""
    return get_settings()


async def current_replica() -> Engine | None:
    """The read replica the buyer's scans read from, if there is one (``bind`` overrides it)."""
    return get_replica()


EngineDep = Annotated[Engine, Depends(current_engine)]
ReplicaDep = Annotated[Engine | None, Depends(current_replica)]
#: The one way a route reads settings: those bound to its app, never the process's directly
#: (a demo on --port 8601 would otherwise link to the default port).
SettingsDep = Annotated[Settings, Depends(current_settings)]
FastSettingsDep = SettingsDep


def current_user(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    authorization: Annotated[str | None, Header()] = None,
) -> User:
    """The authenticated caller; 401 when the bearer token is missing, unknown, revoked or
    expired, 403 when the office tries to write."""
    if not authorization:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing token: send 'Authorization: Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    scheme, _, token = authorization.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "the Authorization header must be 'Bearer <token>'",
            headers={"WWW-Authenticate": "Bearer"},
        )
    admin_token = settings.admin_token
    if admin_token and secrets.compare_digest(token.encode(), admin_token.encode()):
        return User(id=None, name="admin (bootstrap token)", role=Role.admin)
    user = authenticate(session, token=token)
    access.ensure_may_write(user, request.method, request.url.path)
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def require(*roles: Role):
    """A dependency admitting only callers with one of ``roles`` (admin always)."""

    def check(user: CurrentUser) -> User:
        if user.role is not Role.admin and user.role not in roles:
            allowed = ", ".join(["admin", *[str(r) for r in roles]])
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"this needs the role {allowed}; you are {user.role}"
            )
        return user

    return Depends(check)


AdminUser = Annotated[User, require()]
OperatorUser = Annotated[User, require(Role.operator)]
FarmerUser = Annotated[User, require(Role.farmer)]
# Fields of a cooperative's members are recorded by the cooperative (or an admin).
CooperativeUser = Annotated[User, require(Role.cooperative)]
# The province's catalogue of products (registration numbers): the office (or an admin).
OfficeUser = Annotated[User, require(Role.office)]
# The fleet's records (drones, rejects, zones): operators, and the office reading them.
FleetUser = Annotated[User, require(Role.operator, Role.office)]


# Rows a list returns when the request does not say (fewer if page_size_max is lower).
DEFAULT_PAGE_SIZE = 50


class Paging:
    """``?offset=&limit=`` on every list; ``limit`` at most ``Settings.page_size_max``."""

    def __init__(
        self,
        settings: SettingsDep,
        offset: Annotated[int, Query(ge=0, description="rows to skip")] = 0,
        limit: Annotated[
            int | None,
            Query(
                ge=1,
                description=f"rows to return ({DEFAULT_PAGE_SIZE} unless given; "
                "at most AGRITRACE_PAGE_SIZE_MAX, 500 unless set)",
            ),
        ] = None,
    ):
        # Checked here rather than with Query(le=...): the setting is read when the request
        # comes, not frozen when this module is imported; the answer is the same 422.
        most = settings.page_size_max
        if limit is not None and limit > most:
            raise RequestValidationError(
                [
                    {
                        "type": "less_than_equal",
                        "loc": ("query", "limit"),
                        "msg": f"Input should be less than or equal to {most}",
                        "input": limit,
                        "ctx": {"le": most},
                    }
                ]
            )
        self.offset = offset
        self.limit = min(DEFAULT_PAGE_SIZE, most) if limit is None else limit


PagingDep = Annotated[Paging, Depends()]


def bbox_query(
    bbox: Annotated[str | None, Query(description="min_lon,min_lat,max_lon,max_lat")] = None,
) -> tuple[float, float, float, float] | None:
    """``?bbox=`` on lists of geometries, checked: four finite numbers, min <= max."""
    if bbox is None:
        return None
    try:
        parts = tuple(float(v) for v in bbox.split(","))
    except ValueError:
        parts = ()
    if len(parts) != 4 or not all(math.isfinite(v) for v in parts):
        raise InvalidInput("bbox must be four numbers 'min_lon,min_lat,max_lon,max_lat'")
    minx, miny, maxx, maxy = parts
    if minx > maxx or miny > maxy:
        raise InvalidInput("bbox must be 'min_lon,min_lat,max_lon,max_lat' with min <= max")
    return parts  # type: ignore[return-value]


BBoxDep = Annotated[tuple[float, float, float, float] | None, Depends(bbox_query)]


def corrected_view(view: str) -> bool:
    """A diary's ``view``: ``corrected`` (True) or ``all`` (False); anything else a 422."""
    if view not in ("corrected", "all"):
        raise InvalidInput(f"view must be 'corrected' or 'all', not '{view}'")
    return view == "corrected"
