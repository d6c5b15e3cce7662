"""Harvest lots and their lineage (lots milled or mixed from other lots)."""

from sqlmodel import Session, select

from traceability.errors import Conflict, Forbidden, InvalidInput, NotFound
from traceability.models import (
    FarmField,
    Lot,
    LotCreate,
    LotField,
    LotParent,
    LotPublic,
    Role,
    User,
)
from traceability.services import access
from traceability.services.common import get_by, page, unique_or_conflict
from traceability.services.fields import first_sown, season_on


def create_lot(session: Session, *, data: LotCreate, user: User | None = None) -> Lot:
    """Record a lot harvested from fields, or made from parent lots, or both."""
    if not data.field_codes and not data.parent_lots:
        raise InvalidInput("a lot comes from at least one field (field_codes) or lot (parent_lots)")
    if data.code in data.parent_lots:
        raise InvalidInput("a lot cannot be its own parent")
    fields = _own_fields(session, codes=data.field_codes, user=user)
    _harvested_in_a_season(session, fields=fields, day=data.harvested_on)
    parents = _own_parents(session, codes=data.parent_lots, user=user)
    late = [p.code for p in parents if p.harvested_on > data.harvested_on]
    if late:
        raise InvalidInput(f"parent lot {', '.join(late)} was harvested after this lot's date")
    if session.exec(select(Lot.id).where(Lot.code == data.code)).first() is not None:
        raise Conflict(f"a lot with code '{data.code}' already exists")

    lot = Lot(
        code=data.code,
        product_name=data.product_name,
        harvested_on=data.harvested_on,
        harvested_at=data.harvested_at,
        quantity_kg=data.quantity_kg,
        gtin=data.gtin,
        brand=data.brand,
        shelf_life_days=data.shelf_life_days,
        created_by=user.id if user else None,
    )
    session.add(lot)
    with unique_or_conflict(session, f"a lot with code '{data.code}' already exists"):
        session.flush()
        for field in fields:
            season = season_on(session, field_id=field.id, day=data.harvested_on)
            session.add(
                LotField(lot_id=lot.id, field_id=field.id, season_id=season.id if season else None)
            )
        for parent in parents:
            session.add(LotParent(lot_id=lot.id, parent_id=parent.id))
    session.commit()
    session.refresh(lot)
    return lot


def _harvested_in_a_season(session: Session, *, fields: list[FarmField], day) -> None:
    """Refuse a harvest dated before the first season of a field was sown (a wrong year)."""
    for field in fields:
        sown = first_sown(session, field_id=field.id)
        if sown is not None and day < sown:
            raise InvalidInput(
                f"harvested_on {day.isoformat()} is before the first season of field "
                f"'{field.code}' was sown ({sown.isoformat()})"
            )


def _own_fields(session: Session, *, codes: list[str], user: User | None) -> list[FarmField]:
    """The fields ``codes`` name, each one ``user`` manages."""
    fields = session.exec(select(FarmField).where(FarmField.code.in_(codes))).all()
    missing = sorted(set(codes) - {f.code for f in fields})
    if missing:
        raise NotFound(f"field {', '.join(missing)} does not exist")
    for field in fields:
        access.ensure_manages_field(session, user, field)
    return list(fields)


def _own_parents(session: Session, *, codes: list[str], user: User | None) -> list[Lot]:
    """The parent lots ``codes`` name, each one grown on fields ``user`` manages."""
    parents = session.exec(select(Lot).where(Lot.code.in_(codes))).all()
    missing = sorted(set(codes) - {p.code for p in parents})
    if missing:
        raise NotFound(f"parent lot {', '.join(missing)} does not exist")
    if user is None or user.role is Role.admin:
        return list(parents)
    for parent in parents:
        # A milled lot has no fields of its own: its owners are those of its ancestors' fields.
        lineage = [parent.id] + [a.id for a, _depth, _child in ancestors(session, lot=parent)]
        owners = session.exec(
            select(FarmField.farmer_id).join(LotField).where(LotField.lot_id.in_(lineage))
        ).all()
        try:
            access.ensure_manages_farmers(session, user, owners, f"parent lot '{parent.code}'")
        except Forbidden as exc:
            raise Forbidden(f"parent lot '{parent.code}' is not from your fields") from exc
    return list(parents)


def lot_public(session: Session, lot: Lot) -> LotPublic:
    """The API shape of a lot, with its fields, seasons and parents."""
    links = session.exec(
        select(FarmField.code, LotField.season_id)
        .join(LotField, LotField.field_id == FarmField.id)
        .where(LotField.lot_id == lot.id)
        .order_by(FarmField.code)
    ).all()
    parents = session.exec(
        select(Lot.code)
        .join(LotParent, LotParent.parent_id == Lot.id)
        .where(LotParent.lot_id == lot.id)
    ).all()
    return LotPublic(
        id=lot.id,
        code=lot.code,
        product_name=lot.product_name,
        harvested_on=lot.harvested_on,
        harvested_at=lot.harvested_at,
        quantity_kg=lot.quantity_kg,
        gtin=lot.gtin,
        brand=lot.brand,
        shelf_life_days=lot.shelf_life_days,
        field_codes=[code for code, _ in links],
        season_ids=sorted({s for _, s in links if s is not None}),
        parent_lots=sorted(parents),
        created_at=lot.created_at,
    )


def get_lot(session: Session, *, code: str) -> Lot:
    """The lot with this code."""
    return get_by(session, Lot, "lot", code=code)


def list_lots(
    session: Session,
    *,
    season_id: int | None = None,
    field_code: str | None = None,
    offset: int,
    limit: int,
) -> tuple[list[Lot], int]:
    """A page of lots, optionally of one season or one field."""
    stmt = select(Lot).order_by(Lot.id)
    if season_id is not None or field_code:
        sub = select(LotField.lot_id).join(FarmField, FarmField.id == LotField.field_id)
        if season_id is not None:
            sub = sub.where(LotField.season_id == season_id)
        if field_code:
            sub = sub.where(FarmField.code == field_code)
        stmt = stmt.where(Lot.id.in_(sub))
    return page(session, stmt, offset=offset, limit=limit)


def ancestors(session: Session, *, lot: Lot, max_depth: int = 20) -> list[tuple[Lot, int, int]]:
    """Every lot this one was made from, as ``(lot, depth, child_id)``, nearest first."""
    out: list[tuple[Lot, int, int]] = []
    seen = {lot.id}
    frontier = [lot.id]
    for depth in range(1, max_depth + 1):
        if not frontier:
            break
        rows = session.exec(
            select(Lot, LotParent.lot_id)
            .join(LotParent, LotParent.parent_id == Lot.id)
            .where(LotParent.lot_id.in_(frontier))
            .order_by(Lot.code)
        ).all()
        frontier = []
        for parent, child_id in rows:
            if parent.id in seen:
                continue
            seen.add(parent.id)
            out.append((parent, depth, child_id))
            frontier.append(parent.id)
    return out
