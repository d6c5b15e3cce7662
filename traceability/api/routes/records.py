"""Farmers, input products, drones and users."""

from fastapi import APIRouter, HTTPException, status

from traceability.api.deps import (
    AdminUser,
    CurrentUser,
    FleetUser,
    OfficeUser,
    OperatorUser,
    PagingDep,
    SessionDep,
)
from traceability.models import (
    DroneCreate,
    DronePublic,
    DronesPublic,
    FarmerCreate,
    FarmerPublic,
    FarmersPublic,
    InputKind,
    InputProductCreate,
    InputProductPublic,
    InputProductsPublic,
    InputRegistration,
    UserCreate,
    UserPublic,
    UserWithToken,
)
from traceability.services import access, catalog, organisations, users

router = APIRouter()


@router.post("/farmers", status_code=201, response_model=FarmerPublic, tags=["farmers"])
def create_farmer(data: FarmerCreate, session: SessionDep, user: CurrentUser):
    """Record a farmer (admin, or a cooperative adding a member)."""
    access.creates_farmers(user)
    org_id = organisations.resolve(
        session, code=data.organisation_code, kind=organisations.FARMER_KIND, what="a farmer"
    )
    farmer = catalog.create_farmer(
        session, data=data, organisation_id=access.farmer_organisation(user, org_id)
    )
    return organisations.with_code(session, farmer, FarmerPublic)


@router.get("/farmers", response_model=FarmersPublic, tags=["farmers"])
def list_farmers(
    session: SessionDep,
    user: CurrentUser,
    paging: PagingDep,
    village: str | None = None,
    q: str | None = None,
):
    """Farmers: all for admins and the office, a cooperative's members, a farmer themself."""
    access.reads_farmers(user)
    rows, count = catalog.list_farmers(
        session,
        village=village,
        q=q,
        ids=access.farmer_scope(user),
        offset=paging.offset,
        limit=paging.limit,
    )
    return FarmersPublic(data=organisations.with_codes(session, rows, FarmerPublic), count=count)


@router.get("/farmers/{farmer_id}", response_model=FarmerPublic, tags=["farmers"])
def read_farmer(farmer_id: int, session: SessionDep, user: CurrentUser):
    """One farmer (admin, office, their cooperative, or the farmer themself)."""
    access.ensure_reads_farmer(session, user, farmer_id)
    farmer = catalog.get_farmer(session, farmer_id=farmer_id)
    return organisations.with_code(session, farmer, FarmerPublic)


@router.post("/inputs", status_code=201, response_model=InputProductPublic, tags=["inputs"])
def create_input(data: InputProductCreate, session: SessionDep, _user: AdminUser):
    """Add an input product to the catalogue (admin)."""
    return catalog.create_input(session, data=data)


@router.get("/inputs", response_model=InputProductsPublic, tags=["inputs"])
def list_inputs(
    session: SessionDep, _user: CurrentUser, paging: PagingDep, kind: InputKind | None = None
):
    """The input product catalogue."""
    rows, count = catalog.list_inputs(session, kind=kind, offset=paging.offset, limit=paging.limit)
    return InputProductsPublic(
        data=[InputProductPublic.model_validate(r) for r in rows], count=count
    )


@router.patch("/inputs/{code}", response_model=InputProductPublic, tags=["inputs"])
def record_registration(code: str, data: InputRegistration, session: SessionDep, _user: OfficeUser):
    """Record a product's registration number as its label or certificate prints it
    (office or admin); null clears it."""
    return catalog.record_registration(session, code=code, registration_no=data.registration_no)


@router.get("/inputs/{code}", response_model=InputProductPublic, tags=["inputs"])
def read_input(code: str, session: SessionDep, _user: CurrentUser):
    """One input product."""
    return catalog.get_input(session, code=code)


@router.post("/drones", status_code=201, response_model=DronePublic, tags=["drones"])
def create_drone(data: DroneCreate, session: SessionDep, user: OperatorUser):
    """Register a drone (admin, or an operator for its own organisation)."""
    org_id = organisations.resolve(
        session, code=data.organisation_code, kind=organisations.DRONE_KIND, what="a drone"
    )
    drone = catalog.create_drone(
        session, data=data, organisation_id=access.drone_organisation(user, org_id)
    )
    return organisations.with_code(session, drone, DronePublic)


@router.get("/drones", response_model=DronesPublic, tags=["drones"])
def list_drones(
    session: SessionDep, user: FleetUser, paging: PagingDep, operator: str | None = None
):
    """The fleet: all of it for admins and the office, an operator's own organisation's."""
    rows, count = catalog.list_drones(
        session,
        operator=operator,
        codes=access.drone_scope(user),
        offset=paging.offset,
        limit=paging.limit,
    )
    return DronesPublic(data=organisations.with_codes(session, rows, DronePublic), count=count)


@router.get("/drones/{code}", response_model=DronePublic, tags=["drones"])
def read_drone(code: str, session: SessionDep, user: FleetUser):
    """One drone (admin, office, or an operator of its organisation)."""
    drone = catalog.get_drone(session, code=code)
    access.ensure_reads_drone(user, drone)
    return organisations.with_code(session, drone, DronePublic)


@router.post("/users", status_code=201, response_model=UserWithToken, tags=["users"])
def create_user(data: UserCreate, session: SessionDep, _user: AdminUser):
    """Create an API user with its first token; the token is in this answer only (admin)."""
    user, secret = users.create_user(session, data=data)
    token = users.first_token(session, user_id=user.id)
    return UserWithToken(
        **organisations.with_code(session, user, UserPublic).model_dump(),
        token=secret,
        token_id=token.id,
        token_expires_at=token.expires_at,
    )


@router.get("/users", tags=["users"])
def list_users(session: SessionDep, _user: AdminUser, paging: PagingDep):
    """API users (admin)."""
    rows, count = users.list_users(session, offset=paging.offset, limit=paging.limit)
    return {"data": organisations.with_codes(session, rows, UserPublic), "count": count}


@router.get("/me", response_model=UserPublic, tags=["users"])
def me(user: CurrentUser, session: SessionDep):
    """Who the token belongs to."""
    if user.id is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "the bootstrap admin token is not a stored user"
        )
    return organisations.with_code(session, user, UserPublic)
