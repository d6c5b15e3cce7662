"""API users and their bearer tokens."""

import hashlib
import secrets
from datetime import datetime

from sqlmodel import Session, select

from traceability.errors import Forbidden, InvalidInput, NotFound, Unauthenticated
from traceability.models import Farmer, Role, Token, User, UserCreate, utcnow
from traceability.services import organisations
from traceability.services.common import get_by, page


def hash_token(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, *, data: UserCreate) -> tuple[User, str]:
    """Create a user and return it with its first token (shown only this once)."""
    if data.role is Role.farmer:
        if data.farmer_id is None:
            raise InvalidInput("a farmer user needs farmer_id")
        if session.get(Farmer, data.farmer_id) is None:
            raise InvalidInput(f"farmer_id {data.farmer_id} does not exist")
    elif data.farmer_id is not None:
        raise InvalidInput("only a farmer user is tied to a farmer_id")
    org_id = organisations.resolve_for_role(session, code=data.organisation_code, role=data.role)
    user = User(name=data.name, role=data.role, farmer_id=data.farmer_id, organisation_id=org_id)
    session.add(user)
    session.flush()
    _token, secret = new_token(session, user=user, expires_at=data.token_expires_at)
    session.commit()
    session.refresh(user)
    return user, secret


def new_token(session: Session, *, user: User, expires_at: datetime | None) -> tuple[Token, str]:
    """A new token of ``user`` (flushed, not committed) and its secret."""
    if expires_at is not None and expires_at <= utcnow():
        raise InvalidInput("expires_at is in the past")
    secret = secrets.token_urlsafe(32)
    token = Token(user_id=user.id, token_hash=hash_token(secret), expires_at=expires_at)
    session.add(token)
    session.flush()
    return token, secret


def issue_token(
    session: Session, *, user_id: int, expires_at: datetime | None = None
) -> tuple[Token, str]:
    """A new token for an existing user, with its secret (shown only this once)."""
    user = get_by(session, User, "user", id=user_id)
    if not user.active:
        raise InvalidInput(f"user {user_id} is deactivated")
    token, secret = new_token(session, user=user, expires_at=expires_at)
    session.commit()
    session.refresh(token)
    return token, secret


def authenticate(session: Session, *, token: str) -> User:
    """The user holding ``token``; ``Unauthenticated`` saying why when there is none."""
    row = session.exec(
        select(Token, User)
        .join(User, User.id == Token.user_id)
        .where(Token.token_hash == hash_token(token))
    ).first()
    if row is None:
        raise Unauthenticated("unknown token")
    stored, user = row
    if stored.revoked_at is not None or not user.active:
        raise Unauthenticated("this token was revoked")
    if stored.expires_at is not None and stored.expires_at <= utcnow():
        raise Unauthenticated(
            f"this token expired at {stored.expires_at.isoformat()}; ask for a new one"
        )
    return user


def user_for_token(session: Session, *, token: str) -> User | None:
    """The user holding a valid ``token``, if any."""
    try:
        return authenticate(session, token=token)
    except Unauthenticated:
        return None


def get_user(session: Session, *, user_id: int) -> User:
    """The user with this id."""
    return get_by(session, User, "user", id=user_id)


def list_users(session: Session, *, offset: int, limit: int) -> tuple[list[User], int]:
    """A page of users."""
    return page(session, select(User).order_by(User.id), offset=offset, limit=limit)


def list_tokens(
    session: Session, *, user_id: int | None = None, offset: int, limit: int
) -> tuple[list[Token], int]:
    """A page of tokens (never their secrets), optionally of one user."""
    stmt = select(Token).order_by(Token.id)
    if user_id is not None:
        stmt = stmt.where(Token.user_id == user_id)
    return page(session, stmt, offset=offset, limit=limit)


def revoke_token(session: Session, *, token_id: int, by: User | None = None) -> Token:
    """Revoke a token at once; ``by`` (when given) must be an admin or the token's own user.

    Revoking a token already revoked keeps its first revocation time.
    """
    token = session.get(Token, token_id)
    if token is None:
        raise NotFound(f"token {token_id} does not exist")
    if by is not None and by.role is not Role.admin and by.id != token.user_id:
        raise Forbidden("only an admin or the token's own user may revoke it")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.add(token)
        session.commit()
        session.refresh(token)
    return token


def first_token(session: Session, *, user_id: int) -> Token:
    """The oldest token of a user (the one issued with it)."""
    return session.exec(select(Token).where(Token.user_id == user_id).order_by(Token.id)).one()
