"""The phones of a farmer: one-time sign-in links for the app, and signed-in devices."""

from datetime import datetime

from fastapi import APIRouter, Response
from sqlmodel import Session

from traceability.api.deps import CurrentUser, SessionDep, SettingsDep
from traceability.errors import Forbidden, NotFound
from traceability.models import (
    DevicePublic,
    DevicesPublic,
    Farmer,
    SigninLinkCreate,
    SigninLinkPublic,
    User,
)
from traceability.services import access, signin

router = APIRouter()


def _link_public(base: str, token: str, expires_at: datetime) -> SigninLinkPublic:
    url = signin.link_url(base, token)
    return SigninLinkPublic(
        url=url, expires_at=expires_at, qr_png_url=f"{url}/qr.png", qr_svg_url=f"{url}/qr.svg"
    )


@router.post(
    "/farmers/{farmer_id}/signin-link",
    status_code=201,
    response_model=SigninLinkPublic,
    tags=["farmers"],
)
def issue_signin_link(
    farmer_id: int,
    session: SessionDep,
    settings: SettingsDep,
    user: CurrentUser,
    data: SigninLinkCreate | None = None,
):
    """A one-time link (and QR code) that signs the farmer's phone in to the app (admin, or
    the farmer's cooperative)."""
    data = data or SigninLinkCreate()
    link, token = signin.issue_link(
        session, farmer_id=farmer_id, user=user, valid_hours=data.valid_hours
    )
    return _link_public(settings.public_base_url, token, link.expires_at)


def _may_manage(session: Session, user: User, farmer_id: int, *, reading: bool = False) -> None:
    farmer = session.get(Farmer, farmer_id)
    if farmer is None:
        raise NotFound(f"farmer {farmer_id} does not exist")
    allowed = access.reads_devices if reading else access.issues_signin_links
    if not allowed(user, farmer):
        raise Forbidden(f"you may not manage the phones of farmer {farmer_id}")


@router.get("/farmers/{farmer_id}/devices", response_model=DevicesPublic, tags=["farmers"])
def list_devices(farmer_id: int, session: SessionDep, user: CurrentUser):
    """The phones signed in for a farmer (whoever may issue their sign-in links, the office)."""
    _may_manage(session, user, farmer_id, reading=True)
    rows = signin.list_devices(session, farmer_id=farmer_id)
    return DevicesPublic(
        data=[DevicePublic.model_validate(r.model_dump()) for r in rows], count=len(rows)
    )


@router.delete("/farmers/{farmer_id}/devices/{device_id}", status_code=204, tags=["farmers"])
def revoke_device(farmer_id: int, device_id: int, session: SessionDep, user: CurrentUser):
    """Sign one phone out: its device token stops working at once."""
    _may_manage(session, user, farmer_id)
    signin.revoke_device(session, farmer_id=farmer_id, device_id=device_id)
    return Response(status_code=204)
