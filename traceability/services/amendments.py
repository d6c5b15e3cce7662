"""A certifying body's reviewer accepting an amendment recorded after a lot.

A correction or withdrawal recorded after a lot was recorded is shown on the lot's
trace but left out of its verdict (``services.trace.amendments``) until a reviewer
accepts it here. Acceptances are append-only: one per amendment, with who accepted it
(published only as a role), when and why (kept, never published).
"""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from traceability.errors import Conflict, InvalidInput, NotFound
from traceability.models import (
    AmendmentAcceptance,
    AmendmentAcceptanceCreate,
    AmendmentAcceptancePublic,
    DiaryEntry,
    Lot,
    LotField,
    User,
)
from traceability.services.lots import ancestors, get_lot


def _amends_lot(session: Session, lot: Lot, entry: DiaryEntry) -> bool:
    """Whether ``entry`` is on a field of ``lot`` or of a lot it came from, recorded after
    that lot was."""
    lots = [lot, *(p for p, _depth, _child in ancestors(session, lot=lot))]
    found = session.execute(
        select(LotField.lot_id)
        .join(Lot, Lot.id == LotField.lot_id)
        .where(
            LotField.lot_id.in_([x.id for x in lots]),
            LotField.field_id == entry.field_id,
            Lot.created_at < entry.recorded_at,
        )
    ).first()
    return found is not None


def accept(
    session: Session, *, code: str, entry_id: int, user: User, data: AmendmentAcceptanceCreate
) -> AmendmentAcceptancePublic:
    """Record that a reviewer accepts amendment ``entry_id`` of lot ``code``."""
    lot = get_lot(session, code=code)
    entry = session.get(DiaryEntry, entry_id)
    if entry is None:
        raise NotFound(f"diary entry {entry_id} does not exist")
    if entry.corrects_id is None:
        raise InvalidInput(
            f"entry {entry_id} corrects no entry: only a correction or a withdrawal is an amendment"
        )
    if not _amends_lot(session, lot, entry):
        raise InvalidInput(
            f"entry {entry_id} is not an amendment of lot '{code}': it was not recorded after "
            "the lot (or a lot it was made from) on one of its fields"
        )
    known = session.execute(
        select(AmendmentAcceptance).where(AmendmentAcceptance.entry_id == entry_id)
    ).scalar_one_or_none()
    if known is not None:
        raise Conflict(f"amendment {entry_id} was already accepted at {known.accepted_at}")
    row = AmendmentAcceptance(
        lot_id=lot.id,
        entry_id=entry_id,
        accepted_by=user.id,
        role=str(user.role),
        reason=data.reason,
    )
    session.add(row)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict(f"amendment {entry_id} was already accepted") from None
    session.refresh(row)
    return AmendmentAcceptancePublic(
        lot_code=lot.code, entry_id=entry_id, role=row.role, accepted_at=row.accepted_at
    )
