"""Farmers, input products and drones: the simple records."""

from typing import Any

from sqlmodel import Session, select

from traceability.errors import InvalidInput
from traceability.models import (
    Drone,
    DroneCreate,
    Farmer,
    FarmerCreate,
    InputKind,
    InputProduct,
    InputProductCreate,
    Unit,
)
from traceability.services.common import add_unique, get_by, page


def create_farmer(
    session: Session, *, data: FarmerCreate, organisation_id: int | None = None
) -> Farmer:
    """Record a new farmer, a member of the cooperative ``organisation_id`` if given."""
    farmer = Farmer(
        **data.model_dump(exclude={"organisation_code"}), organisation_id=organisation_id
    )
    return add_unique(session, farmer, f"a farmer with code '{data.code}' already exists")


def get_farmer(session: Session, *, farmer_id: int) -> Farmer:
    """The farmer with this id."""
    return get_by(session, Farmer, "farmer", id=farmer_id)


def list_farmers(
    session: Session,
    *,
    village: str | None = None,
    q: str | None = None,
    ids: Any = None,
    offset: int,
    limit: int,
) -> tuple[list[Farmer], int]:
    """A page of farmers, optionally of one village, matching a name, or among ``ids``."""
    stmt = select(Farmer).order_by(Farmer.id)
    if ids is not None:
        stmt = stmt.where(Farmer.id.in_(ids))
    if village:
        stmt = stmt.where(Farmer.village == village)
    if q:
        stmt = stmt.where(Farmer.name.ilike(f"%{q}%"))
    return page(session, stmt, offset=offset, limit=limit)


def create_input(session: Session, *, data: InputProductCreate) -> InputProduct:
    """Record a new input product."""
    if data.kind is InputKind.seed and data.unit is not Unit.kg:
        raise InvalidInput("seed is measured in kg, not L")
    product = InputProduct(**data.model_dump())
    return add_unique(session, product, f"an input product with code '{data.code}' already exists")


def record_registration(
    session: Session, *, code: str, registration_no: str | None
) -> InputProduct:
    """Record (or, with None, clear) the registration number of the product ``code``.

    Only the number changes: a diary entry chains the PHI and dose limit it was made
    under, never the registration number, so no stored entry's hash moves.
    """
    product = get_input(session, code=code)
    product.registration_no = registration_no
    session.add(product)
    session.commit()
    session.refresh(product)
    return product


def get_input(session: Session, *, code: str) -> InputProduct:
    """The input product with this code."""
    return get_by(session, InputProduct, "input product", code=code)


def list_inputs(
    session: Session, *, kind: InputKind | None = None, offset: int, limit: int
) -> tuple[list[InputProduct], int]:
    """A page of input products, optionally of one kind."""
    stmt = select(InputProduct).order_by(InputProduct.code)
    if kind:
        stmt = stmt.where(InputProduct.kind == kind)
    return page(session, stmt, offset=offset, limit=limit)


def create_drone(
    session: Session, *, data: DroneCreate, organisation_id: int | None = None
) -> Drone:
    """Register a drone of the fleet, of the drone service ``organisation_id`` if given."""
    drone = Drone(**data.model_dump(exclude={"organisation_code"}), organisation_id=organisation_id)
    return add_unique(session, drone, f"a drone with code '{data.code}' already exists")


def get_drone(session: Session, *, code: str) -> Drone:
    """The drone with this code."""
    return get_by(session, Drone, "drone", code=code)


def list_drones(
    session: Session,
    *,
    operator: str | None = None,
    codes: Any = None,
    offset: int,
    limit: int,
) -> tuple[list[Drone], int]:
    """A page of drones, optionally of one operator or among ``codes``."""
    stmt = select(Drone).order_by(Drone.code)
    if codes is not None:
        stmt = stmt.where(Drone.code.in_(codes))
    if operator:
        stmt = stmt.where(Drone.operator == operator)
    return page(session, stmt, offset=offset, limit=limit)
