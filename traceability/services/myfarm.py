"""What a farmer's phone shows: their fields and seasons, their diary with the drones'
work on their fields, their lots. Reads only; writes go through the diary service."""

from dataclasses import dataclass
from datetime import date, datetime

from sqlmodel import Session, select

from traceability.errors import NotFound
from traceability.models import (
    FarmField,
    InputProduct,
    Lot,
    LotField,
    Mission,
    MissionField,
    Season,
)
from traceability.services import applications, diary
from traceability.services.fields import season_on

# A phone shows the most recent part of a diary; older seasons stay in the API.
TIMELINE_LENGTH = 150


@dataclass(frozen=True, slots=True)
class MyField:
    """One of the farmer's fields with the season under way today."""

    field: FarmField
    season: Season | None


@dataclass(frozen=True, slots=True)
class TimelineItem:
    """One line of a farmer's timeline: a diary entry or a drone mission on a field."""

    at: datetime
    kind: str  # "entry" or "drone"
    field_code: str
    activity: str
    product_code: str | None
    quantity: float | None
    unit: str | None
    dose_per_ha: float | None
    dose_unit: str | None
    area_ha: float | None
    coverage_pct: float | None = None
    entry_id: int | None = None
    note: str | None = None
    counterparty: str | None = None
    applied_by: str | None = None
    straw_handling: str | None = None
    straw_t_per_ha: float | None = None
    corrects: int | None = None
    drone_code: str | None = None
    status: str | None = None


def my_fields(session: Session, *, farmer_id: int, today: date) -> list[MyField]:
    """The farmer's fields, by code, each with its season under way on ``today``."""
    rows = session.exec(
        select(FarmField).where(FarmField.farmer_id == farmer_id).order_by(FarmField.code)
    ).all()
    return [MyField(f, season_on(session, field_id=f.id, day=today)) for f in rows]


def my_field(session: Session, *, farmer_id: int, code: str) -> FarmField:
    """One of the farmer's fields; another farmer's field is as unknown as a missing one."""
    field = session.exec(
        select(FarmField).where(FarmField.code == code, FarmField.farmer_id == farmer_id)
    ).first()
    if field is None:
        raise NotFound(f"you have no field '{code}'")
    return field


def catalogue(session: Session) -> list[InputProduct]:
    """Every product of the catalogue, by name."""
    return list(session.exec(select(InputProduct).order_by(InputProduct.name)).all())


def timeline(session: Session, *, field_ids: list[int]) -> list[TimelineItem]:
    """The fields' diaries (corrected view) and the drone missions on them, newest first.

    A drone's diary line is shown as its mission, which also says how much of the field
    the drone covered.
    """
    if not field_ids:
        return []
    total = diary.list_entries(session, field_ids=field_ids, limit=1).count
    entries = diary.list_entries(
        session,
        field_ids=field_ids,
        offset=max(0, total - TIMELINE_LENGTH),
        limit=TIMELINE_LENGTH,
    ).data
    missions = session.exec(
        select(Mission, MissionField, FarmField.code)
        .join(MissionField, MissionField.mission_pk == Mission.id)
        .join(FarmField, FarmField.id == MissionField.field_id)
        .where(MissionField.field_id.in_(field_ids))
        .order_by(Mission.started_at.desc())
        .limit(TIMELINE_LENGTH)
    ).all()
    flown = {(m.mission_id, code) for m, _mf, code in missions}
    items = [
        TimelineItem(
            at=e.occurred_at,
            kind="entry",
            field_code=e.field_code,
            activity=str(e.activity),
            product_code=e.input_code,
            quantity=e.quantity,
            unit=str(e.unit) if e.unit else None,
            dose_per_ha=e.dose_per_ha,
            dose_unit=str(e.unit) if e.unit else None,
            area_ha=e.area_ha,
            entry_id=e.id if e.source != "drone" else None,
            note=e.note,
            counterparty=e.counterparty,
            applied_by=e.applied_by,
            straw_handling=str(e.straw_handling) if e.straw_handling else None,
            straw_t_per_ha=e.straw_t_per_ha,
            corrects=e.corrects,
        )
        for e in entries
        if not (e.mission_id and (e.mission_id, e.field_code) in flown)
    ]
    for m, mf, code in missions:
        # Without the tank mix the amount and dose are litres of mix, and say so.
        amount = applications.drone_amount(m, mf)
        items.append(
            TimelineItem(
                at=m.ended_at or m.started_at or m.created_at,
                kind="drone",
                field_code=code,
                activity=str(m.type) if m.type else "spray",
                product_code=m.product_code,
                quantity=amount.quantity,
                unit=amount.unit,
                dose_per_ha=amount.dose_per_ha,
                dose_unit=amount.unit,
                area_ha=mf.treated_area_ha,
                coverage_pct=mf.coverage_pct,
                drone_code=m.drone_code,
                status=str(m.status),
            )
        )
    return sorted(items, key=lambda i: i.at, reverse=True)


def my_lots(session: Session, *, farmer_id: int) -> list[Lot]:
    """Lots harvested from the farmer's fields, newest first."""
    sub = (
        select(LotField.lot_id)
        .join(FarmField, FarmField.id == LotField.field_id)
        .where(FarmField.farmer_id == farmer_id)
    )
    return list(
        session.exec(
            select(Lot).where(Lot.id.in_(sub)).order_by(Lot.harvested_on.desc(), Lot.id.desc())
        ).all()
    )


def entry_of_farmer(session: Session, *, entry_id: int, field_ids: list[int]):
    """A diary entry of one of the farmer's fields (for a correction form)."""
    entry = diary.get_entry(session, entry_id=entry_id)
    field = session.exec(select(FarmField).where(FarmField.code == entry.field_code)).one()
    if field.id not in field_ids:
        raise NotFound(f"diary entry {entry_id} does not exist")
    return entry
