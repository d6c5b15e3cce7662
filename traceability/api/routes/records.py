"""Farmers, input products, drones and users."""

from fastapi import APIRouter, HTTPException, status

from traceability.api.deps import AdminUser, CurrentUser, OperatorUser, PagingDep, SessionDep
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
    Role,
    UserCreate,
    UserPublic,
    UserWithToken,
)
from traceability.services import catalog, users

router = APIRouter()


@router.post("/farmers", status_code=201, response_model=FarmerPublic, tags=["farmers"])
def create_farmer(data: FarmerCreate, session: SessionDep, _user: AdminUser):
    """Record a farmer (admin)."""
    return catalog.create_farmer(session, data=data)


@router.get("/farmers", response_model=FarmersPublic, tags=["farmers"])
def list_farmers(
    session: SessionDep,
    user: CurrentUser,
    paging: PagingDep,
    village: str | None = None,
    q: str | None = None,
):
    """Farmers (admin); a farmer sees only themself."""
    if user.role is Role.farmer:
        farmer = catalog.get_farmer(session, farmer_id=user.farmer_id)
        return FarmersPublic(data=[FarmerPublic.model_validate(farmer)], count=1)
    if user.role is not Role.admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "farmers' records are for admins")
    rows, count = catalog.list_farmers(
        session, village=village, q=q, offset=paging.offset, limit=paging.limit
    )
    return FarmersPublic(data=[FarmerPublic.model_validate(r) for r in rows], count=count)


@router.get("/farmers/{farmer_id}", response_model=FarmerPublic, tags=["farmers"])
def read_farmer(farmer_id: int, session: SessionDep, user: CurrentUser):
    """One farmer (admin, or the farmer themself)."""
    if user.role is not Role.admin and not (
        user.role is Role.farmer and user.farmer_id == farmer_id
    ):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "you may read only your own farmer record")
    return catalog.get_farmer(session, farmer_id=farmer_id)


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


@router.get("/inputs/{code}", response_model=InputProductPublic, tags=["inputs"])
def read_input(code: str, session: SessionDep, _user: CurrentUser):
    """One input product."""
    return catalog.get_input(session, code=code)


@router.post("/drones", status_code=201, response_model=DronePublic, tags=["drones"])
def create_drone(data: DroneCreate, session: SessionDep, _user: OperatorUser):
    """Register a drone (admin, operator)."""
    return catalog.create_drone(session, data=data)


@router.get("/drones", response_model=DronesPublic, tags=["drones"])
def list_drones(
    session: SessionDep, _user: OperatorUser, paging: PagingDep, operator: str | None = None
):
    """The fleet (admin, operator)."""
    rows, count = catalog.list_drones(
        session, operator=operator, offset=paging.offset, limit=paging.limit
    )
    return DronesPublic(data=[DronePublic.model_validate(r) for r in rows], count=count)


@router.get("/drones/{code}", response_model=DronePublic, tags=["drones"])
def read_drone(code: str, session: SessionDep, _user: OperatorUser):
    """One drone (admin, operator)."""
    return catalog.get_drone(session, code=code)


@router.post("/users", status_code=201, response_model=UserWithToken, tags=["users"])
def create_user(data: UserCreate, session: SessionDep, _user: AdminUser):
    """Create an API user; the token is in this answer only (admin)."""
    user, token = users.create_user(session, data=data)
    return UserWithToken(**UserPublic.model_validate(user).model_dump(), token=token)


@router.get("/users", tags=["users"])
def list_users(session: SessionDep, _user: AdminUser, paging: PagingDep):
    """API users (admin)."""
    rows, count = users.list_users(session, offset=paging.offset, limit=paging.limit)
    return {"data": [UserPublic.model_validate(r) for r in rows], "count": count}


@router.get("/me", response_model=UserPublic, tags=["users"])
def me(user: CurrentUser):
    """Who the token belongs to."""
    if user.id is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "the bootstrap admin token is not a stored user"
        )
    return user
