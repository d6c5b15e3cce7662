"""Organisations: cooperatives with member farmers, drone services with drones, the office."""

from collections.abc import Iterable
from typing import TypeVar

from pydantic import BaseModel
from sqlmodel import Session, select

from traceability.errors import InvalidInput
from traceability.models import (
    Organisation,
    OrganisationCreate,
    OrganisationKind,
    Role,
)
from traceability.services.common import add_unique, get_by, page

P = TypeVar("P", bound=BaseModel)

# The kind of organisation each role belongs to; admin and farmer users carry none of
# their own (a farmer belongs to a cooperative through their farmer record).
KIND_OF_ROLE = {
    Role.cooperative: OrganisationKind.cooperative,
    Role.operator: OrganisationKind.drone_service,
    Role.office: OrganisationKind.office,
}
# What each record's organisation must be: members of a cooperative, drones of a service.
FARMER_KIND = OrganisationKind.cooperative
DRONE_KIND = OrganisationKind.drone_service


def create_organisation(session: Session, *, data: OrganisationCreate) -> Organisation:
    """Record a new organisation."""
    org = Organisation(**data.model_dump())
    return add_unique(session, org, f"an organisation with code '{data.code}' already exists")


def get_organisation(session: Session, *, code: str) -> Organisation:
    """The organisation with this code."""
    return get_by(session, Organisation, "organisation", code=code)


def list_organisations(
    session: Session, *, kind: OrganisationKind | None = None, offset: int, limit: int
) -> tuple[list[Organisation], int]:
    """A page of organisations, optionally of one kind."""
    stmt = select(Organisation).order_by(Organisation.code)
    if kind:
        stmt = stmt.where(Organisation.kind == kind)
    return page(session, stmt, offset=offset, limit=limit)


def resolve(session: Session, *, code: str | None, kind: OrganisationKind, what: str) -> int | None:
    """The id of the organisation ``code`` names, checked to be of ``kind``; None for None.

    ``what`` names the record in the error, e.g. "a drone".
    """
    if code is None:
        return None
    org = session.exec(select(Organisation).where(Organisation.code == code)).first()
    if org is None:
        raise InvalidInput(f"organisation_code '{code}' does not exist")
    if org.kind is not kind:
        raise InvalidInput(
            f"{what} belongs to a {kind} organisation; '{code}' is a {org.kind} organisation"
        )
    return org.id


def resolve_for_role(session: Session, *, code: str | None, role: Role) -> int | None:
    """The organisation id of a new user of ``role``: required and of the matching kind."""
    kind = KIND_OF_ROLE.get(role)
    if kind is None:
        if code is not None and role is Role.farmer:
            raise InvalidInput(
                "a farmer user takes the organisation of their farmer record; "
                "do not give organisation_code"
            )
        return resolve_any(session, code=code)
    if code is None:
        raise InvalidInput(f"a user of role {role} needs organisation_code (a {kind} organisation)")
    return resolve(session, code=code, kind=kind, what=f"a user of role {role}")


def resolve_any(session: Session, *, code: str | None) -> int | None:
    """The id of the organisation ``code`` names, whatever its kind."""
    if code is None:
        return None
    return get_by(session, Organisation, "organisation", code=code).id


def codes(session: Session, ids: Iterable[int | None]) -> dict[int, str]:
    """``{organisation id: code}`` for the ids given."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(
        session.exec(
            select(Organisation.id, Organisation.code).where(Organisation.id.in_(wanted))
        ).all()
    )


def with_codes(session: Session, rows: list, schema: type[P]) -> list[P]:
    """Rows that hold an ``organisation_id`` shown as ``schema`` with ``organisation_code``."""
    by_id = codes(session, (r.organisation_id for r in rows))
    return [
        schema.model_validate(r).model_copy(
            update={"organisation_code": by_id.get(r.organisation_id)}
        )
        for r in rows
    ]


def with_code(session: Session, row, schema: type[P]) -> P:
    """One row with an ``organisation_id`` shown as ``schema`` with ``organisation_code``."""
    return with_codes(session, [row], schema)[0]
