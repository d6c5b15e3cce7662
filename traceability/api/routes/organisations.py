"""Organisations, tokens and administrative units."""

from typing import Annotated

from fastapi import APIRouter, Query

from traceability import adminunits
from traceability.api.deps import AdminUser, CurrentUser, PagingDep, SessionDep
from traceability.errors import NotFound
from traceability.models import (
    AdminUnitLevel,
    AdminUnitPublic,
    AdminUnitsPublic,
    OrganisationCreate,
    OrganisationKind,
    OrganisationPublic,
    OrganisationsPublic,
    OrganisationUpdate,
    Role,
    TokenCreate,
    TokenPublic,
    TokensPublic,
    TokenWithSecret,
)
from traceability.services import lot_identity, users
from traceability.services import organisations as svc

router = APIRouter()


@router.post(
    "/organisations", status_code=201, response_model=OrganisationPublic, tags=["organisations"]
)
def create_organisation(data: OrganisationCreate, session: SessionDep, _user: AdminUser):
    """Record a cooperative, a drone service or the office (admin)."""
    return svc.create_organisation(session, data=data)


@router.get("/organisations", response_model=OrganisationsPublic, tags=["organisations"])
def list_organisations(
    session: SessionDep, _user: CurrentUser, paging: PagingDep, kind: OrganisationKind | None = None
):
    """Organisations, by code, optionally of one kind."""
    rows, count = svc.list_organisations(
        session, kind=kind, offset=paging.offset, limit=paging.limit
    )
    return OrganisationsPublic(
        data=[OrganisationPublic.model_validate(r) for r in rows], count=count
    )


@router.get("/organisations/{code}", response_model=OrganisationPublic, tags=["organisations"])
def read_organisation(code: str, session: SessionDep, _user: CurrentUser):
    """One organisation."""
    return svc.get_organisation(session, code=code)


@router.patch("/organisations/{code}", response_model=OrganisationPublic, tags=["organisations"])
def update_organisation(
    code: str, data: OrganisationUpdate, session: SessionDep, user: CurrentUser
):
    """A cooperative's public facts: address (village, commune), brand, VietGAP certificate
    (the cooperative itself, or the admin)."""
    return lot_identity.update_organisation(session, code=code, data=data, user=user)


@router.post(
    "/users/{user_id}/tokens", status_code=201, response_model=TokenWithSecret, tags=["tokens"]
)
def issue_token(user_id: int, data: TokenCreate, session: SessionDep, _user: AdminUser):
    """A new token for a user, optionally expiring; the secret is in this answer only (admin)."""
    token, secret = users.issue_token(session, user_id=user_id, expires_at=data.expires_at)
    return TokenWithSecret(**TokenPublic.model_validate(token).model_dump(), token=secret)


@router.get("/tokens", response_model=TokensPublic, tags=["tokens"])
def list_tokens(
    session: SessionDep,
    user: CurrentUser,
    paging: PagingDep,
    user_id: Annotated[int | None, Query(description="tokens of this user (admin)")] = None,
):
    """Tokens, never their secrets: an admin's of anyone, everyone else's of themself."""
    if user.role is not Role.admin:
        user_id = user.id if user.id is not None else -1
    rows, count = users.list_tokens(
        session, user_id=user_id, offset=paging.offset, limit=paging.limit
    )
    return TokensPublic(data=[TokenPublic.model_validate(r) for r in rows], count=count)


@router.delete("/tokens/{token_id}", response_model=TokenPublic, tags=["tokens"])
def revoke_token(token_id: int, session: SessionDep, user: CurrentUser):
    """Revoke a token at once (admin, or the token's own user)."""
    return users.revoke_token(session, token_id=token_id, by=user)


@router.get("/admin-units", response_model=AdminUnitsPublic, tags=["admin-units"])
def list_admin_units(
    _user: CurrentUser,
    level: AdminUnitLevel | None = None,
    parent_code: Annotated[str | None, Query(description="communes of this province")] = None,
):
    """The province and communes fields are placed in (two levels since July 2025)."""
    rows = [
        AdminUnitPublic(**vars(u)) for u in adminunits.units(level=level, parent_code=parent_code)
    ]
    return AdminUnitsPublic(data=rows, count=len(rows))


@router.get("/admin-units/{code}", response_model=AdminUnitPublic, tags=["admin-units"])
def read_admin_unit(code: str, _user: CurrentUser):
    """One administrative unit."""
    unit = adminunits.get(code)
    if unit is None:
        raise NotFound(f"administrative unit with code '{code}' does not exist")
    return AdminUnitPublic(**vars(unit))
