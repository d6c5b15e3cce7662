"""Small helpers every service uses: lookups by key, paging, conflict handling."""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from typing import Any, TypeVar

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, SQLModel, select

from traceability.errors import Conflict, NotFound
from traceability.timezone import VN_TZ

T = TypeVar("T", bound=SQLModel)

# Farmers count days (sowing, harvest, seasons) on the local calendar: an entry at 06:00 in
# Bạc Liêu is still the previous day in UTC. The one definition is traceability.timezone.
LOCAL_TZ = VN_TZ


def local_day(ts: datetime) -> date:
    """The local calendar day of an aware timestamp.

    >>> from datetime import UTC
    >>> local_day(datetime(2026, 1, 4, 23, 0, tzinfo=UTC))
    datetime.date(2026, 1, 5)
    """
    return ts.astimezone(LOCAL_TZ).date()


def get_by(session: Session, model: type[T], label: str, **where: Any) -> T:
    """The one row of ``model`` matching ``where``, or ``NotFound`` naming it."""
    row = session.exec(select(model).filter_by(**where)).first()
    if row is None:
        key, value = next(iter(where.items()))
        raise NotFound(f"{label} with {key} '{value}' does not exist")
    return row


def page(session: Session, stmt, *, offset: int, limit: int) -> tuple[list, int]:
    """One page of ``stmt``'s rows and the count of all of them."""
    count = session.exec(select(func.count()).select_from(stmt.order_by(None).subquery())).one()
    rows = list(session.exec(stmt.offset(offset).limit(limit)).all())
    return rows, count


def add_unique(session: Session, row: T, message: str) -> T:
    """Insert ``row`` and commit; ``Conflict(message)`` if its key is taken."""
    session.add(row)
    with unique_or_conflict(session, message):
        pass
    session.commit()
    session.refresh(row)
    return row


@contextmanager
def unique_or_conflict(session: Session, message: str) -> Iterator[None]:
    """Turn a unique-constraint violation in the block into ``Conflict(message)``.

    The session is rolled back, so nothing half-written remains.
    """
    try:
        yield
        session.flush()
    except IntegrityError as exc:
        session.rollback()
        raise Conflict(message) from exc


def add_all_new(session: Session, rows: list[T], *, label: str) -> list[T]:
    """Insert ``rows`` (records with a ``code``), all or nothing: every code must be new."""
    model = type(rows[0]) if rows else None
    if model is not None:
        codes = [r.code for r in rows]
        existing = session.exec(select(model.code).where(model.code.in_(codes))).all()
        if existing:
            raise Conflict(f"{label} code already exists: {', '.join(sorted(existing))}")
    session.add_all(rows)
    with unique_or_conflict(session, f"a {label} code in the import already exists"):
        pass
    session.commit()
    for row in rows:
        session.refresh(row)
    return rows
