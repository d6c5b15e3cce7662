"""API users and their bearer tokens."""

import hashlib
import secrets

from sqlmodel import Session, select

from traceability.errors import InvalidInput
from traceability.models import Farmer, Role, User, UserCreate
from traceability.services.common import page


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, *, data: UserCreate) -> tuple[User, str]:
    """Create a user and return it with its token (shown only this once)."""
    if data.role is Role.farmer:
        if data.farmer_id is None:
            raise InvalidInput("a farmer user needs farmer_id")
        if session.get(Farmer, data.farmer_id) is None:
            raise InvalidInput(f"farmer_id {data.farmer_id} does not exist")
    elif data.farmer_id is not None:
        raise InvalidInput("only a farmer user is tied to a farmer_id")
    token = secrets.token_urlsafe(32)
    user = User(
        name=data.name, role=data.role, farmer_id=data.farmer_id, token_hash=hash_token(token)
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    return user, token


def user_for_token(session: Session, *, token: str) -> User | None:
    """The active user holding ``token``, if any."""
    return session.exec(
        select(User).where(User.token_hash == hash_token(token), User.active.is_(True))
    ).first()


def list_users(session: Session, *, offset: int, limit: int) -> tuple[list[User], int]:
    """A page of users."""
    return page(session, select(User).order_by(User.id), offset=offset, limit=limit)
