"""One-time sign-in links for farmers' phones, and the device tokens they create.

A cooperative (or an admin) issues a link; opening it on the phone spends it and
gives that phone a device token of role ``farmer``. The device token is an API user
tied to the farmer, so everything the API allows a farmer works from the phone, and
revoking the device (``active`` false) signs that phone out at once.
"""

import secrets
from datetime import timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from traceability.errors import Forbidden, InvalidInput, NotFound
from traceability.models import Farmer, Role, SigninLink, User, utcnow
from traceability.services import access, users
from traceability.services.users import hash_token

LINK_PATH = "/app/signin/"


def can_issue_signin_link(user: User, farmer: Farmer) -> bool:
    """Whether ``user`` may issue a sign-in link for ``farmer`` (see ``services.access``)."""
    return access.issues_signin_links(user, farmer)


def link_url(base_url: str, token: str) -> str:
    """The URL a sign-in link opens.

    >>> link_url("https://trace.example.vn/", "abc")
    'https://trace.example.vn/app/signin/abc'
    """
    return f"{base_url.rstrip('/')}{LINK_PATH}{token}"


def issue_link(
    session: Session, *, farmer_id: int, user: User, valid_hours: int
) -> tuple[SigninLink, str]:
    """A new one-time link for the farmer; returns the row and its token (shown once)."""
    farmer = session.get(Farmer, farmer_id)
    if farmer is None:
        raise NotFound(f"farmer {farmer_id} does not exist")
    if not can_issue_signin_link(user, farmer):
        raise Forbidden(f"you may not issue sign-in links for farmer {farmer_id}")
    token = secrets.token_urlsafe(32)
    link = SigninLink(
        farmer_id=farmer.id,
        token_hash=hash_token(token),
        created_by=user.id,
        expires_at=utcnow() + timedelta(hours=valid_hours),
    )
    session.add(link)
    session.commit()
    session.refresh(link)
    return link, token


def valid_link(session: Session, *, token: str) -> SigninLink | None:
    """The unused, unexpired link with this token, if any."""
    link = session.exec(
        select(SigninLink).where(SigninLink.token_hash == hash_token(token))
    ).first()
    if link is None or link.used_at is not None or link.expires_at <= utcnow():
        return None
    return link


def redeem(session: Session, *, token: str) -> tuple[User, str]:
    """Spend the link: a new device token for its farmer; returns the user and its token.

    The link is marked used by one conditional UPDATE, so two phones opening it at
    the same moment cannot both be signed in.
    """
    now = utcnow()
    spent = session.execute(
        update(SigninLink)
        .where(
            SigninLink.token_hash == hash_token(token),
            SigninLink.used_at.is_(None),
            SigninLink.expires_at > now,
        )
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        session.rollback()
        raise InvalidInput("this sign-in link was already used or has expired")
    link = session.exec(select(SigninLink).where(SigninLink.token_hash == hash_token(token))).one()
    device = User(
        name=f"phone (sign-in link {link.id})", role=Role.farmer, farmer_id=link.farmer_id
    )
    session.add(device)
    session.flush()
    _token, device_token = users.new_token(session, user=device, expires_at=None)
    link.device_user_id = device.id
    session.add(link)
    session.commit()
    session.refresh(device)
    return device, device_token


def list_devices(session: Session, *, farmer_id: int) -> list[User]:
    """The phones signed in for a farmer through sign-in links, newest first."""
    return list(
        session.exec(
            select(User)
            .join(SigninLink, SigninLink.device_user_id == User.id)
            .where(SigninLink.farmer_id == farmer_id)
            .order_by(User.id.desc())
        ).all()
    )


def revoke_device(session: Session, *, farmer_id: int, device_id: int) -> None:
    """Sign one of the farmer's phones out: its device token stops working at once."""
    device = next(
        (d for d in list_devices(session, farmer_id=farmer_id) if d.id == device_id), None
    )
    if device is None:
        raise NotFound(f"farmer {farmer_id} has no device {device_id}")
    device.active = False
    session.add(device)
    session.commit()
