"""Append-only, hash-chained production diaries.

Each entry's hash covers its content and the hash of the field's previous
entry, so an edit made behind the API's back breaks the chain from that entry
on. A correction is a new entry naming the one it corrects; readers see the
corrected view unless they ask for everything.
"""

import hashlib
from dataclasses import dataclass
from datetime import datetime
from enum import Enum

import orjson
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from traceability import canonical
from traceability.errors import Conflict, InvalidInput, NotFound
from traceability.models import (
    Activity,
    ChainBreak,
    DiaryEntriesPublic,
    DiaryEntry,
    DiaryEntryCreate,
    DiaryEntryPublic,
    DiaryVerification,
    FarmField,
    InputKind,
    InputProduct,
    Unit,
    User,
)
from traceability.services import applications
from traceability.services.common import local_day, page
from traceability.services.fields import ensure_owner, get_field, season_on

GENESIS = "0" * 64

# Activities that use an input of a given kind; a spray of urea is a data-entry slip.
_KIND_OF_ACTIVITY = {
    Activity.spray: {InputKind.pesticide, InputKind.fertilizer},
    Activity.fertilize: {InputKind.fertilizer},
    Activity.seed: {InputKind.seed},
}


def _iso(ts: datetime | None) -> str | None:
    return ts.isoformat(timespec="microseconds") if ts else None


# Fields added after entries were first hashed: each is hashed only when it holds a value,
# so every entry written before it existed keeps the hash it was written with.
_HASHED_WHEN_SET = ("counterparty", "applied_by", "chained", "straw_handling", "straw_t_per_ha")


def entry_hash(entry: DiaryEntry, names: "EntryNames | None" = None) -> str:
    """The entry's hash in its own ``hash_version``: v1 (orjson over row ids, entries
    written before v2) or v2 (RFC 8785 over what things are; ``names`` required)."""
    if (getattr(entry, "hash_version", None) or 1) >= 2:
        if names is None:
            raise ValueError("a v2 entry hash needs the entry's names (field, product, ...)")
        return entry_hash_v2(entry, names)
    return entry_hash_v1(entry)


@dataclass(frozen=True, slots=True)
class EntryNames:
    """What a v2 hash names that the entry's row holds only as ids: the field's code, the
    product's code, and the place in the chain of the entry it corrects."""

    field_code: str
    product_code: str | None = None
    corrects_seq: int | None = None


def entry_hash_v2(entry: DiaryEntry, names: EntryNames) -> str:
    """SHA-256 of the RFC 8785 bytes of the entry's v2 canonical object."""
    straw = entry.straw_handling
    return canonical.entry_hash_v2(
        canonical.entry_v2(
            field_code=names.field_code,
            chain_seq=entry.chain_seq,
            prev_hash=entry.prev_hash,
            occurred_at=entry.occurred_at,
            recorded_at=entry.recorded_at,
            activity=str(entry.activity),
            product_code=names.product_code,
            quantity=entry.quantity,
            unit=str(entry.unit) if entry.unit else None,
            area_ha=entry.area_ha,
            note=entry.note,
            counterparty=entry.counterparty,
            applied_by=entry.applied_by,
            straw_handling=straw.value if isinstance(straw, Enum) else straw,
            corrects_seq=names.corrects_seq,
            retracts=bool(entry.retracts),
            source=entry.source,
            mission=entry.mission_id,
            client_id=entry.client_id,
            author_role=entry.author_role,
            chained=entry.chained,
            straw_t_per_ha=getattr(entry, "straw_t_per_ha", None),
        )
    )


def names_in_chain(rows: list, *, field_code: str, product_codes: dict[int, str]) -> dict:
    """Each row's :class:`EntryNames`, by row id, for the rows of one field's chain
    (a correction names an entry of its own field, so the chain holds its target)."""
    seq_of = {r.id: r.chain_seq for r in rows}
    return {
        r.id: EntryNames(
            field_code=field_code,
            product_code=product_codes.get(r.input_id) if r.input_id is not None else None,
            corrects_seq=seq_of.get(r.corrects_id) if r.corrects_id is not None else None,
        )
        for r in rows
    }


def entry_hash_v1(entry: DiaryEntry) -> str:
    """SHA-256 over the entry's content and its predecessor's hash (hash version 1)."""
    content = {
        "field_id": entry.field_id,
        "season_id": entry.season_id,
        "chain_seq": entry.chain_seq,
        "occurred_at": _iso(entry.occurred_at),
        "recorded_at": _iso(entry.recorded_at),
        "activity": str(entry.activity),
        "input_id": entry.input_id,
        "quantity": entry.quantity,
        "unit": str(entry.unit) if entry.unit else None,
        "area_ha": entry.area_ha,
        "note": entry.note,
        "corrects_id": entry.corrects_id,
        "retracts": bool(entry.retracts),
        "source": entry.source,
        "mission_id": entry.mission_id,
        "client_id": entry.client_id,
        "author_id": entry.author_id,
        "prev_hash": entry.prev_hash,
    }
    for key in _HASHED_WHEN_SET:
        # Absent from records written before these keys existed (and from their copies).
        value = getattr(entry, key, None)
        if value is not None:
            # An enum (straw_handling) by its value; chained limits as the JSON they are.
            content[key] = value.value if isinstance(value, Enum) else value
    return hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _same_request(entry: DiaryEntry, data: DiaryEntryCreate, field_id: int) -> bool:
    return (
        entry.field_id == field_id
        and entry.activity == data.activity
        and entry.occurred_at == data.occurred_at
        and entry.quantity == data.quantity
    )


def append_entry(
    session: Session,
    *,
    data: DiaryEntryCreate,
    user: User | None = None,
    source: str = "manual",
    mission_id: str | None = None,
    commit: bool = True,
    chained: dict | None = None,
) -> tuple[DiaryEntry, bool]:
    """Append an entry to a field's diary; returns ``(entry, created)``.

    An entry whose ``client_id`` was already recorded is returned as it is
    (``created`` False): a phone that re-sends after a lost answer records
    nothing twice.

    The entry carries in its hash what a verdict will rest on: its product's PHI and
    dose limit as they stand now, and whatever ``chained`` adds (a drone line's
    measured figures).
    """
    field = get_field(session, code=data.field_code)
    ensure_owner(field, user)
    known = _known(session, data=data, field=field)
    if known is not None:
        return known, False
    product, unit = _product_and_unit(session, data=data)
    target = _check_correction(session, data=data, field=field)
    season = season_on(session, field_id=field.id, day=local_day(data.occurred_at))
    entry = DiaryEntry(
        field_id=field.id,
        season_id=season.id if season else None,
        chain_seq=0,
        occurred_at=data.occurred_at,
        activity=data.activity,
        input_id=product.id if product else None,
        quantity=data.quantity,
        unit=unit,
        area_ha=data.area_ha,
        note=data.note,
        counterparty=data.counterparty,
        applied_by=data.applied_by,
        straw_handling=data.straw_handling,
        straw_t_per_ha=data.straw_t_per_ha,
        corrects_id=data.corrects,
        retracts=data.retracts,
        source=source,
        mission_id=mission_id,
        client_id=data.client_id,
        author_id=user.id if user else None,
        author_role=str(user.role) if user else None,
        chained=limits_in_force(product, chained),
        prev_hash=GENESIS,
        hash_version=2,
    )
    names = EntryNames(
        field_code=field.code,
        product_code=product.code if product else None,
        corrects_seq=target.chain_seq if target else None,
    )
    return _chain(session, entry=entry, field=field, names=names, commit=commit)


def limits_in_force(product: InputProduct | None, extra: dict | None = None) -> dict | None:
    """What an entry chains besides its own content: its product's PHI and dose limit now.

    >>> limits_in_force(None) is None
    True
    >>> limits_in_force(InputProduct(code="P", name="P", kind="pesticide", unit="L", phi_days=14))
    {'product': 'P', 'phi_days': 14, 'max_dose_per_ha': None}
    """
    out = dict(extra or {})
    if product is not None:
        out |= {
            "product": product.code,
            "phi_days": product.phi_days,
            "max_dose_per_ha": product.max_dose_per_ha,
        }
    return out or None


def _by_client_id(session: Session, *, client_id: str, farmer_id: int) -> DiaryEntry | None:
    """The entry a farmer's phones recorded under ``client_id``, if any.

    A client_id is unique per farmer: another farmer's phone may use the same one, and
    looking it up across farmers would tell that farmer it exists.
    """
    return session.exec(
        select(DiaryEntry)
        .join(FarmField, FarmField.id == DiaryEntry.field_id)
        .where(DiaryEntry.client_id == client_id, FarmField.farmer_id == farmer_id)
    ).first()


def _known(session: Session, *, data: DiaryEntryCreate, field: FarmField) -> DiaryEntry | None:
    """The entry already recorded under ``data.client_id`` for the field's farmer, if any.

    Raises ``Conflict`` when that client_id was used for a different entry.
    """
    if not data.client_id:
        return None
    known = _by_client_id(session, client_id=data.client_id, farmer_id=field.farmer_id)
    if known is not None and not _same_request(known, data, field.id):
        raise Conflict(f"client_id '{data.client_id}' was already used for another entry")
    return known


def _product_and_unit(
    session: Session, *, data: DiaryEntryCreate
) -> tuple[InputProduct | None, Unit | None]:
    """The entry's catalogue product and its unit, checked against the activity."""
    product, unit = None, data.unit
    if data.input_code:
        product = session.exec(
            select(InputProduct).where(InputProduct.code == data.input_code)
        ).first()
        if product is None:
            raise InvalidInput(f"input product '{data.input_code}' does not exist")
        allowed = _KIND_OF_ACTIVITY.get(data.activity)
        if allowed and product.kind not in allowed:
            raise InvalidInput(
                f"activity '{data.activity}' cannot use {product.kind} '{product.code}'"
            )
        if unit is None:
            unit = product.unit
        elif unit != product.unit:
            raise InvalidInput(
                f"unit '{unit}' does not match '{product.code}', "
                f"which is measured in {product.unit}"
            )
    if data.quantity is not None and unit is None:
        raise InvalidInput("a quantity needs a unit (L or kg) or an input_code")
    if data.straw_handling is not None and data.activity != Activity.straw:
        raise InvalidInput("straw_handling belongs to a 'straw' entry only")
    if data.straw_t_per_ha is not None and data.activity != Activity.straw:
        raise InvalidInput("straw_t_per_ha belongs to a 'straw' entry only")
    return product, unit


def _check_correction(
    session: Session, *, data: DiaryEntryCreate, field: FarmField
) -> DiaryEntry | None:
    """The entry a correction names: one of the same field that nothing has corrected yet."""
    if data.corrects is None:
        if data.retracts:
            raise InvalidInput("retracts needs corrects: the entry being withdrawn")
        return None
    target = session.get(DiaryEntry, data.corrects)
    if target is None or target.field_id != field.id:
        raise InvalidInput(f"entry {data.corrects} is not an entry of field '{field.code}'")
    newer = session.exec(select(DiaryEntry.id).where(DiaryEntry.corrects_id == target.id)).first()
    if newer is not None:
        raise Conflict(
            f"entry {target.id} was already corrected by entry {newer}; correct that one"
        )
    return target


def _chain(
    session: Session, *, entry: DiaryEntry, field: FarmField, names: EntryNames, commit: bool
) -> tuple[DiaryEntry, bool]:
    """Give ``entry`` the next position of its field's chain and write it with the head."""
    # Appends to one field's chain take turns: the field row is locked until this transaction
    # ends (PostgreSQL; SQLite has one writer anyway). Without it, concurrent writers race for
    # the same chain position and, after a few lost retries, an entry would be refused.
    session.exec(select(FarmField.id).where(FarmField.id == field.id).with_for_update()).one()
    if entry.client_id:
        # Looked up again inside the lock: a client_id is unique per farmer, which no database
        # constraint can say (drone lines have no author), so two writers of the same line
        # (two ingesters re-measuring one mission) are told apart here.
        known = _by_client_id(session, client_id=entry.client_id, farmer_id=field.farmer_id)
        if known is not None:
            return known, False
    for _attempt in range(5):
        last = session.exec(
            select(DiaryEntry.chain_seq, DiaryEntry.hash)
            .where(DiaryEntry.field_id == field.id)
            .order_by(DiaryEntry.chain_seq.desc())
        ).first()
        entry.chain_seq = (last[0] + 1) if last else 1
        entry.prev_hash = last[1] if last else GENESIS
        entry.hash = entry_hash(entry, names)
        nested = session.begin_nested()
        try:
            session.add(entry)
            session.flush()
            # The entry and the field's head move together, inside one savepoint: on SQLite
            # the driver commits when an outermost savepoint is released, so anything written
            # after it would land in a transaction of its own. The head only ever moves
            # forward, so writers finishing out of order cannot pull it back.
            session.execute(
                update(FarmField)
                .where(FarmField.id == field.id, FarmField.diary_length < entry.chain_seq)
                .values(diary_length=entry.chain_seq, diary_head=entry.hash)
            )
            nested.commit()
        except IntegrityError:
            # Another writer took this chain position (or the client_id) first: retry on top of it.
            nested.rollback()
            if entry.client_id:
                known = _by_client_id(session, client_id=entry.client_id, farmer_id=field.farmer_id)
                if known is not None:
                    return known, False
                if session.exec(
                    select(DiaryEntry.id).where(
                        DiaryEntry.author_id == entry.author_id,
                        DiaryEntry.client_id == entry.client_id,
                    )
                ).first():
                    # The same account (an admin's) used it for another farmer's entry.
                    raise Conflict(f"client_id '{entry.client_id}' was already used") from None
            entry = _fresh_copy(entry)
            continue
        if commit:
            session.commit()
            session.refresh(entry)
        return entry, True
    raise Conflict(f"the diary of field '{field.code}' is busy; try again")


def _fresh_copy(entry: DiaryEntry) -> DiaryEntry:
    """A new, unsaved entry with ``entry``'s content (a rolled-back one cannot be re-added)."""
    return DiaryEntry(**{k: v for k, v in entry.model_dump().items() if k != "id"})


def entry_public(entry: DiaryEntry, *, field_code: str, input_code: str | None, corrected_by=None):
    """The API shape of a diary entry."""
    dose = applications.dose_per_ha(entry.quantity, entry.area_ha)
    return DiaryEntryPublic(
        id=entry.id,
        field_code=field_code,
        season_id=entry.season_id,
        occurred_at=entry.occurred_at,
        recorded_at=entry.recorded_at,
        activity=entry.activity,
        input_code=input_code,
        quantity=entry.quantity,
        unit=entry.unit,
        area_ha=entry.area_ha,
        dose_per_ha=dose,
        note=entry.note,
        counterparty=entry.counterparty,
        applied_by=entry.applied_by,
        straw_handling=entry.straw_handling,
        straw_t_per_ha=entry.straw_t_per_ha,
        corrects=entry.corrects_id,
        retracts=entry.retracts,
        corrected_by=corrected_by,
        source=entry.source,
        mission_id=entry.mission_id,
        client_id=entry.client_id,
        hash=entry.hash,
        prev_hash=entry.prev_hash,
    )


def _entries_stmt(*, corrected_view: bool):
    stmt = (
        select(DiaryEntry, FarmField.code, InputProduct.code, applications.corrected_by())
        .join(FarmField, FarmField.id == DiaryEntry.field_id)
        .outerjoin(InputProduct, InputProduct.id == DiaryEntry.input_id)
    )
    if corrected_view:
        stmt = stmt.where(applications.stands())
    return stmt


def list_entries(
    session: Session,
    *,
    field_code: str | None = None,
    season_id: int | None = None,
    field_ids: list[int] | None = None,
    activity: Activity | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    corrected_view: bool = True,
    offset: int = 0,
    limit: int = 100,
) -> DiaryEntriesPublic:
    """A page of diary entries, oldest first, in the corrected view by default."""
    stmt = _entries_stmt(corrected_view=corrected_view)
    if field_code:
        field = get_field(session, code=field_code)
        stmt = stmt.where(DiaryEntry.field_id == field.id)
    if field_ids is not None:
        stmt = stmt.where(DiaryEntry.field_id.in_(field_ids))
    if season_id is not None:
        stmt = stmt.where(DiaryEntry.season_id == season_id)
    if activity:
        stmt = stmt.where(DiaryEntry.activity == activity)
    if since:
        stmt = stmt.where(DiaryEntry.occurred_at >= since)
    if until:
        stmt = stmt.where(DiaryEntry.occurred_at <= until)
    stmt = stmt.order_by(DiaryEntry.occurred_at, DiaryEntry.id)
    rows, count = page(session, stmt, offset=offset, limit=limit)
    data = [
        entry_public(e, field_code=fc, input_code=ic, corrected_by=cb) for e, fc, ic, cb in rows
    ]
    return DiaryEntriesPublic(data=data, count=count)


def get_entry(session: Session, *, entry_id: int) -> DiaryEntryPublic:
    """One diary entry, with the id of the entry that corrected it, if any."""
    stmt = _entries_stmt(corrected_view=False).where(DiaryEntry.id == entry_id)
    row = session.exec(stmt).first()
    if row is None:
        raise NotFound(f"diary entry {entry_id} does not exist")
    e, fc, ic, cb = row
    return entry_public(e, field_code=fc, input_code=ic, corrected_by=cb)


def product_codes(session: Session) -> dict[int, str]:
    """Every catalogue product's code, by id (what a v2 hash names)."""
    return dict(session.execute(select(InputProduct.id, InputProduct.code)).all())


def head_mismatch(head: tuple[int, str | None], last_seq: int, last_hash: str) -> str | None:
    """Why the stored chain does not end at the field's recorded ``(length, head hash)``,
    or None if it does."""
    length, head_hash = head
    if length == last_seq and (head_hash or GENESIS) == last_hash:
        return None
    return (
        f"the field's diary ends at entry {length}, but the stored chain ends at "
        f"entry {last_seq}: its newest entries were deleted or replaced"
    )


def verify_chain(session: Session, *, field_code: str) -> DiaryVerification:
    """Recompute a field's hash chain and report every place it does not hold."""
    field = get_field(session, code=field_code)
    entries = session.exec(
        select(DiaryEntry).where(DiaryEntry.field_id == field.id).order_by(DiaryEntry.chain_seq)
    ).all()
    names = names_in_chain(entries, field_code=field.code, product_codes=product_codes(session))
    breaks: list[ChainBreak] = []
    prev, prev_seq = GENESIS, 0
    for entry in entries:
        # Compare with the previous entry, not with the row count: one deleted entry is one
        # break, not a break reported again at every later entry.
        if entry.chain_seq != prev_seq + 1:
            missing = entry.chain_seq - prev_seq - 1
            what = (
                f"entry {prev_seq + 1} is missing"
                if missing == 1
                else f"entries {prev_seq + 1} to {entry.chain_seq - 1} are missing"
                if missing > 1
                else f"position {entry.chain_seq} follows {prev_seq}: the chain was renumbered"
            )
            breaks.append(
                ChainBreak(
                    entry_id=entry.id,
                    chain_seq=entry.chain_seq,
                    problem=f"{what} before it (deleted?)",
                )
            )
        if entry.prev_hash != prev:
            breaks.append(
                ChainBreak(
                    entry_id=entry.id,
                    chain_seq=entry.chain_seq,
                    problem="does not link to the previous entry's hash",
                )
            )
        if entry_hash(entry, names[entry.id]) != entry.hash:
            breaks.append(
                ChainBreak(
                    entry_id=entry.id,
                    chain_seq=entry.chain_seq,
                    problem="content does not match its hash: edited after it was recorded",
                )
            )
        prev, prev_seq = entry.hash, entry.chain_seq
    head_break = head_mismatch((field.diary_length, field.diary_head), prev_seq, prev)
    if head_break:
        breaks.append(
            ChainBreak(
                entry_id=entries[-1].id if entries else None, chain_seq=prev_seq, problem=head_break
            )
        )
    return DiaryVerification(
        field_code=field.code,
        entries=len(entries),
        valid=not breaks,
        head_hash=entries[-1].hash if entries else None,
        breaks=breaks,
    )
