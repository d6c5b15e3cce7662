"""How a browser signs in to the staff pages (office, operators, cooperatives).

The farmers' app keeps a device token in an HttpOnly cookie after a sign-in link; staff
pages reuse that mechanism with the token staff already have: the API token. It is pasted
once at ``/signin`` and kept in the ``agritrace_staff`` cookie (HttpOnly, SameSite=Strict,
path ``/``), which opens ``/office/``, ``/operator/``, ``/coop/`` and the map images
those pages link to. A request with ``Authorization: Bearer`` is taken the same way, so
scripts and tests reach the pages as they reach the API. The JSON API itself still reads
only ``Authorization``; the cookie opens pages and images, and the only form it posts
(a cooperative's sign-in link) cannot be sent from another site (SameSite=Strict).
"""

import secrets
from typing import Annotated

from fastapi import Depends, HTTPException, Request, Response, status
from sqlmodel import Session

from traceability.api import pages
from traceability.api.deps import SessionDep, SettingsDep
from traceability.config import Settings
from traceability.models import Role, User
from traceability.services import access
from traceability.services.users import user_for_token

COOKIE = "agritrace_staff"
#: Where each role lands after signing in.
HOME = {
    Role.admin: "/office/",
    Role.office: "/office/",
    Role.operator: "/operator/",
    Role.cooperative: "/coop/",
}
#: Maps show records only some callers read: browsers may keep them, shared caches not.
MAP_CACHE = {"Cache-Control": "private, max-age=60"}
#: Staff pages hold records not everyone reads: never in a shared cache.
PRIVATE = {"Cache-Control": "private, no-store", "Vary": "Cookie, Authorization"}


def token_user(session: Session, settings: Settings, token: str) -> User | None:
    """The user of an API token (the bootstrap admin token included), None if invalid."""
    admin = settings.admin_token
    if admin and secrets.compare_digest(token.encode(), admin.encode()):
        return User(id=None, name="admin (bootstrap token)", role=Role.admin)
    return user_for_token(session, token=token)


def page_user(request: Request, session: Session, settings: Settings) -> User | None:
    """The caller, from ``Authorization: Bearer`` or else the staff cookie; None if neither
    holds a valid token."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return token_user(session, settings, token.strip())
    token = request.cookies.get(COOKIE)
    return token_user(session, settings, token) if token else None


def reader(request: Request, session: SessionDep, settings: SettingsDep) -> User:
    """A dependency for images the staff pages show: bearer token or staff cookie."""
    user = page_user(request, session, settings)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing or invalid token: send 'Authorization: Bearer <token>' or sign in at /signin",
            headers={"WWW-Authenticate": "Bearer"},
        )
    access.ensure_may_write(user, request.method)
    return user


ReaderUser = Annotated[User, Depends(reader)]


def gate(
    request: Request, session: Session, settings: Settings, lang: str, *roles: Role
) -> User | Response:
    """The signed-in user if their role is one of ``roles`` (admin always), else the page
    to show instead: sign-in (401) or refusal (403)."""
    user = page_user(request, session, settings)
    if user is None:
        return pages.page(
            "staff/signin.html", lang, 401, headers=PRIVATE, request=request, user=None,
            needed=True, next=request.url.path,
        )  # fmt: skip
    if user.role is not Role.admin and user.role not in roles:
        allowed = ", ".join(["admin", *(str(r) for r in roles)])
        reason = f"this page needs the role {allowed}; you are {user.role}"
        return pages.page(
            "staff/denied.html", lang, 403, headers=PRIVATE, request=request, user=user,
            reason=reason,
        )  # fmt: skip
    return user
