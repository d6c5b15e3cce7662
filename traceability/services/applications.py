"""What was applied on a field, by hand or by drone: one record, one corrected view.

Two rules live here and nowhere else:

- **The corrected view** of a diary. A diary is append-only: a correction is a new
  entry naming the one it corrects (``corrects_id``), a withdrawal is a correction
  with ``retracts``. An entry that a newer one corrects is *replaced*; an entry
  *stands* when it is neither replaced nor a withdrawal. ``replaced`` and
  ``stands`` are SQL expressions, so a list, a report and the trace all ask the
  database the same question.
- **The application record** (:class:`Application`): what was applied, on which
  field, when, how much *in the product's own unit*, from which source. Diary
  entries and drone missions both become applications; a drone's diary line is
  evidence of its mission, not a second application (:func:`applications`).

The buyer's PHI verdict, the missions' diary lines and the office's reports are
all built on these.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Integer,
    and_,
    any_,
    bindparam,
    exists,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from traceability.models import (
    DiaryEntry,
    InputKind,
    InputProduct,
    Mission,
    MissionField,
)

# ---------------------------------------------------------------- the corrected view

_newer = aliased(DiaryEntry, name="newer_entry")


def replaced(entry: Any = DiaryEntry) -> ColumnElement[bool]:
    """SQL: ``entry`` has been corrected (or withdrawn) by a newer entry."""
    return exists().where(_newer.corrects_id == entry.id)


def stands(entry: Any = DiaryEntry) -> ColumnElement[bool]:
    """SQL: ``entry`` is part of the corrected view (neither replaced nor a withdrawal)."""
    return and_(not_(replaced(entry)), entry.retracts.is_(False))


def corrected_by(entry: Any = DiaryEntry) -> ColumnElement[int]:
    """SQL: the id of the entry that corrected ``entry``, or NULL."""
    return select(func.min(_newer.id)).where(_newer.corrects_id == entry.id).scalar_subquery()


# ---------------------------------------------------------------- the application record

# Diary lines of trade, not of work on the field: buying a pesticide is not spraying it.
NOT_APPLIED = frozenset({"purchase", "sale"})


def puts_on_field(result: Any = MissionField) -> ColumnElement[bool]:
    """SQL: a mission's result on a field is an application: it put something there.

    The rule :func:`applications` applies to rows, for a report that aggregates in SQL.
    """
    return or_(
        func.coalesce(result.treated_area_ha, 0) != 0,
        func.coalesce(result.applied_amount, 0) != 0,
    )


_evidence_mission = aliased(Mission, name="evidence_mission")
_evidence_result = aliased(MissionField, name="evidence_result")


def is_evidence(entry: Any = DiaryEntry) -> ColumnElement[bool]:
    """SQL: ``entry`` is a drone's line of a mission that put something on its field."""
    return exists().where(
        _evidence_mission.mission_id == entry.mission_id,
        _evidence_result.mission_pk == _evidence_mission.id,
        _evidence_result.field_id == entry.field_id,
        puts_on_field(_evidence_result),
    )


def applied(entry: Any = DiaryEntry) -> ColumnElement[bool]:
    """SQL: ``entry`` is an application of the record (:func:`applications`' rule): it
    stands in the corrected view, is not a purchase or sale, and is not the evidence of
    a mission, which is the application itself."""
    return and_(stands(entry), entry.activity.not_in(sorted(NOT_APPLIED)), not_(is_evidence(entry)))


Source = Literal["diary", "drone"]


@dataclass(frozen=True, slots=True)
class Product:
    """The catalogue facts an application needs about its product."""

    code: str
    name: str
    kind: InputKind
    unit: str
    active_ingredient: str | None
    registration_no: str | None
    phi_days: int | None
    max_dose_per_ha: float | None
    nitrogen_pct: float | None = None
    registration_status: str = "unknown"
    application_method: str | None = None

    @property
    def banned(self) -> bool:
        """Whether the permitted list has withdrawn it (applying it fails any verdict)."""
        return self.registration_status == "banned"

    def public(self) -> dict[str, Any]:
        """The product as the buyer's trace shows it."""
        return {
            "code": self.code,
            "name": self.name,
            "kind": str(self.kind),
            "active_ingredient": self.active_ingredient,
            "registration_no": self.registration_no,
            "phi_days": self.phi_days,
            "registration_status": self.registration_status,
            "application_method": self.application_method,
        }


@dataclass(frozen=True, slots=True)
class Application:
    """One application of an input on one field.

    ``quantity`` and ``dose_per_ha`` are in ``unit``: the product's own unit when
    ``in_product_unit``; otherwise (a drone spray whose tank mix was not reported)
    what left the drone, litres of tank mix.
    """

    source: Source
    field_id: int
    at: datetime | None
    activity: str
    method: Literal["manual", "drone"]
    product: Product | None
    product_code: str | None
    quantity: float | None
    unit: str | None
    in_product_unit: bool
    area_ha: float | None
    dose_per_ha: float | None
    entry_id: int | None = None
    entry_hash: str | None = None
    mission_id: str | None = None
    drone_code: str | None = None
    status: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    first_fix_at: datetime | None = None
    last_fix_at: datetime | None = None
    coverage_pct: float | None = None
    applied_amount: float | None = None
    applied_unit: str | None = None
    evidence_entry_ids: tuple[int, ...] = ()
    # When the record of it was made (an entry's recorded_at, a mission's first message).
    recorded_at: datetime | None = None

    @property
    def is_pesticide(self) -> bool | None:
        """True for a pesticide, None for a spray of an unknown product, False otherwise."""
        if self.product is not None:
            return self.product.kind == InputKind.pesticide
        # A spray with no product named (or naming one we do not know) could have been anything.
        return None if self.activity == "spray" else False


# Statements are built once: composing a SELECT of twenty columns costs more Python
# time per request than PostgreSQL takes to answer it.
PRODUCT_COLUMNS = (
    InputProduct.id.label("p_id"),
    InputProduct.code.label("p_code"),
    InputProduct.name.label("p_name"),
    InputProduct.kind.label("p_kind"),
    InputProduct.unit.label("p_unit"),
    InputProduct.phi_days.label("p_phi"),
    InputProduct.active_ingredient.label("p_ai"),
    InputProduct.registration_no.label("p_reg"),
    InputProduct.max_dose_per_ha.label("p_max_dose"),
    InputProduct.nitrogen_pct.label("p_n_pct"),
    InputProduct.registration_status.label("p_status"),
    InputProduct.application_method.label("p_method"),
)
FIELD_IDS = bindparam("ids", expanding=True)
# The same ids as one PostgreSQL array: a cooperative's 1,500 fields bound one by one
# cost psycopg 45 ms per query just to read the statement's 1,500 placeholders.
FIELD_ID_ARRAY = bindparam("ids", type_=ARRAY(Integer))


def of_fields(conn: Any, column: Any) -> ColumnElement[bool]:
    """SQL: ``column`` is one of the ids bound as ``ids`` (a list), as one array where
    the database has arrays (PostgreSQL), else as an expanded ``IN``."""
    if conn.dialect.name == "postgresql":
        return column == any_(FIELD_ID_ARRAY)
    return column.in_(FIELD_IDS)


# Every diary row of the fields (the trace checks each field's whole hash chain), each
# with whether it stands in the corrected view.
ALL_DIARY_ROWS = select(
    *DiaryEntry.__table__.columns, *PRODUCT_COLUMNS, stands().label("stands")
).outerjoin(InputProduct, InputProduct.id == DiaryEntry.input_id)
DIARY_ROWS = ALL_DIARY_ROWS.where(DiaryEntry.field_id.in_(FIELD_IDS)).order_by(
    DiaryEntry.field_id, DiaryEntry.chain_seq
)

# A mission's catalogue product: the one it was linked to, else the one its code names.
MISSION_PRODUCT = or_(
    InputProduct.id == Mission.product_id,
    and_(Mission.product_id.is_(None), InputProduct.code == Mission.product_code),
)
ALL_MISSION_ROWS = (
    select(
        Mission.mission_id,
        Mission.drone_code,
        Mission.type,
        Mission.product_code,
        Mission.status,
        Mission.started_at,
        Mission.ended_at,
        Mission.first_fix_at,
        Mission.last_fix_at,
        Mission.created_at.label("mission_created_at"),
        Mission.amount_unit,
        Mission.product_unit,
        MissionField.field_id,
        MissionField.treated_area_ha,
        MissionField.coverage_pct,
        MissionField.applied_amount,
        MissionField.dose_per_ha,
        MissionField.product_amount,
        MissionField.product_dose_per_ha,
        *PRODUCT_COLUMNS,
    )
    .join(MissionField, MissionField.mission_pk == Mission.id)
    .outerjoin(InputProduct, MISSION_PRODUCT)
)
MISSION_ROWS = ALL_MISSION_ROWS.where(MissionField.field_id.in_(FIELD_IDS)).order_by(
    Mission.started_at, Mission.mission_id
)


def product_of(row: Any) -> Product | None:
    """The product of a row selected with :data:`PRODUCT_COLUMNS`, if it names one."""
    if row.p_id is None:
        return None
    return Product(
        code=row.p_code,
        name=row.p_name,
        kind=InputKind(row.p_kind),
        unit=str(row.p_unit),
        active_ingredient=row.p_ai,
        registration_no=row.p_reg,
        phi_days=row.p_phi,
        max_dose_per_ha=row.p_max_dose,
        nitrogen_pct=row.p_n_pct,
        registration_status=str(row.p_status) if row.p_status else "unknown",
        application_method=_s(row.p_method),
    )


#: Significant figures a label's dose limit is read to: a dose is over the label only when,
#: rounded to as many, it is above it (100.02 kg/ha is 100 kg/ha; 100.5 is 101, over).
LABEL_SIGNIFICANT_FIGURES = 3


def above_label(dose: float, limit: float) -> bool:
    """Whether ``dose`` per hectare is above the label's ``limit``, at the label's precision.

    Both are read from their shortest decimal spelling, so float noise (0.1 + 0.2) never
    tips a dose over; the dose is rounded half up to :data:`LABEL_SIGNIFICANT_FIGURES`.

    >>> above_label(100.02, 100.0), above_label(100.49, 100.0), above_label(100.5, 100.0)
    (False, False, True)
    >>> above_label(0.0755, 0.075), above_label(0.07504, 0.075), above_label(0.1 + 0.2, 0.3)
    (True, False, False)
    """
    d = Decimal(repr(float(dose)))
    if d <= 0:
        return False
    # The exponent of the last significant figure kept.
    last = d.adjusted() - (LABEL_SIGNIFICANT_FIGURES - 1)
    return d.quantize(Decimal(1).scaleb(last), rounding=ROUND_HALF_UP) > Decimal(repr(float(limit)))


def product_from(p: Any) -> Product:
    """The application facts of a catalogue row (an ``InputProduct``)."""
    return Product(
        code=p.code,
        name=p.name,
        kind=InputKind(p.kind),
        unit=str(p.unit),
        active_ingredient=p.active_ingredient,
        registration_no=p.registration_no,
        phi_days=p.phi_days,
        max_dose_per_ha=p.max_dose_per_ha,
        nitrogen_pct=p.nitrogen_pct,
        registration_status=str(p.registration_status or "unknown"),
        application_method=_s(p.application_method),
    )


def dose_per_ha(quantity: float | None, area_ha: float | None) -> float | None:
    """How much was applied per hectare, when both are known.

    >>> dose_per_ha(1.5, 2.0), dose_per_ha(1.5, None), dose_per_ha(None, 2.0)
    (0.75, None, None)
    """
    if quantity is None or not area_ha:
        return None
    return round(quantity / area_ha, 6)


def _s(value: Any) -> str | None:
    return str(value) if value is not None else None


def from_diary(row: Any, product: Product | None = None) -> Application:
    """The application a diary row records (a row of :data:`DIARY_ROWS`)."""
    product = product if product is not None else product_of(row)
    dose = dose_per_ha(row.quantity, row.area_ha)
    return Application(
        source="diary",
        field_id=row.field_id,
        at=row.occurred_at,
        activity=str(row.activity),
        method="drone" if row.source == "drone" else "manual",
        product=product,
        product_code=product.code if product else None,
        quantity=row.quantity,
        unit=_s(row.unit),
        # The diary refuses a unit other than the product's own.
        in_product_unit=product is not None,
        area_ha=row.area_ha,
        dose_per_ha=dose,
        entry_id=row.id,
        entry_hash=row.hash,
        mission_id=row.mission_id,
        recorded_at=row.recorded_at,
    )


def product_amount(amount: float, per_unit: float | None) -> float | None:
    """How much product, in its own unit, ``amount`` of what left a drone held.

    ``per_unit`` is product units per L (or kg) leaving the drone, None when not known
    (a spray whose tank mix was not reported). This is the ``product_amount`` of a
    mission and of each field it treated, and the quantity of its diary lines.

    >>> product_amount(12.5, 0.04)
    0.5
    >>> product_amount(12.5, None) is None
    True
    """
    return None if per_unit is None else round(float(amount * per_unit), 6)


_MISSION_ACTIVITIES = {"spray", "fertilize", "seed"}


@dataclass(frozen=True, slots=True)
class DroneAmount:
    """What a mission put on one field, as a reader should be shown it."""

    quantity: float | None
    unit: str | None
    dose_per_ha: float | None
    in_product_unit: bool


def drone_amount(mission: Any, on_field: Any) -> DroneAmount:
    """The product in its own unit when the tank mix is known; else what left the drone.

    ``mission`` carries ``product_unit`` and ``amount_unit`` (a Mission), ``on_field`` the
    figures of one field (a MissionField); a row of :data:`MISSION_ROWS` is both.
    """
    known = on_field.product_amount is not None
    if known:
        return DroneAmount(
            on_field.product_amount, _s(mission.product_unit), on_field.product_dose_per_ha, True
        )
    return DroneAmount(
        on_field.applied_amount, _s(mission.amount_unit), on_field.dose_per_ha, False
    )


def from_mission(
    row: Any, product: Product | None = None, evidence: Sequence[int] = ()
) -> Application:
    """The application a drone mission made on one field (a row of :data:`MISSION_ROWS`)."""
    product = product if product is not None else product_of(row)
    mtype = _s(row.type)
    amount = drone_amount(row, row)
    return Application(
        source="drone",
        field_id=row.field_id,
        # The fixes' own time, never the events' alone: a start event dated weeks before the
        # points would move a spray out of a lot's window.
        at=row.last_fix_at or row.ended_at or row.started_at,
        activity=mtype if mtype in _MISSION_ACTIVITIES else "other",
        method="drone",
        product=product,
        product_code=row.product_code,
        quantity=amount.quantity,
        unit=amount.unit,
        in_product_unit=amount.in_product_unit,
        area_ha=row.treated_area_ha,
        dose_per_ha=amount.dose_per_ha,
        mission_id=row.mission_id,
        drone_code=row.drone_code,
        status=_s(row.status),
        started_at=row.started_at,
        ended_at=row.ended_at,
        first_fix_at=row.first_fix_at,
        last_fix_at=row.last_fix_at,
        coverage_pct=row.coverage_pct,
        applied_amount=row.applied_amount,
        applied_unit=_s(row.amount_unit),
        evidence_entry_ids=tuple(evidence),
        recorded_at=row.mission_created_at,
    )


def applications(
    diary_rows: Iterable[Any],
    mission_rows: Iterable[Any],
    standing: set[int] | None = None,
    products: dict[int, Product] | None = None,
) -> list[Application]:
    """Every application on the fields, from diary rows and mission rows.

    Diary rows must carry ``stands`` (as :data:`DIARY_ROWS` selects it): only the
    corrected view counts. ``standing``, when given, names the entries that stand
    instead (the diary as it stood at some moment: see ``services.trace.amendments``).
    A mission that put nothing on a field is no application; a standing drone diary
    line of a mission that did is that mission's evidence. ``products`` (the catalogue
    by id, :func:`catalogue`) gives each row's product by its ``p_id`` once instead of
    from the row's own product columns, which a lean row then need not carry.
    """
    missions = [m for m in mission_rows if m.treated_area_ha or m.applied_amount]
    flown = {(m.mission_id, m.field_id) for m in missions}
    evidence: dict[tuple[str, int], list[int]] = {}
    out: list[Application] = []
    for row in diary_rows:
        stands_now = row.stands if standing is None else row.id in standing
        if not stands_now or str(row.activity) in NOT_APPLIED:
            continue
        if row.mission_id and (row.mission_id, row.field_id) in flown:
            evidence.setdefault((row.mission_id, row.field_id), []).append(row.id)
            continue
        out.append(from_diary(row, products.get(row.p_id) if products else None))
    for m in missions:
        product = products.get(m.p_id) if products else None
        out.append(from_mission(m, product, evidence.get((m.mission_id, m.field_id), ())))
    return out


def catalogue(conn: Any) -> dict[int, Product]:
    """Every catalogue product by id (for :func:`applications`' ``products``)."""
    rows = conn.execute(select(*PRODUCT_COLUMNS))
    return {row.p_id: p for row in rows if (p := product_of(row)) is not None}


def load(conn: Any, *, field_ids: list[int]) -> tuple[list[Any], list[Any]]:
    """The diary rows and mission rows of ``field_ids`` (input to :func:`applications`)."""
    params = {"ids": field_ids}
    return conn.execute(DIARY_ROWS, params).all(), conn.execute(MISSION_ROWS, params).all()


def load_pesticides_since(
    conn: Any, *, field_ids: list[int], since: datetime
) -> tuple[list[Any], list[Any]]:
    """What :func:`load` gives, kept to what could still be within a pesticide's PHI: the
    diary's standing entries of products with a PHI done from ``since``, and the missions
    on ``field_ids`` done from ``since`` or named by one of those entries (so a drone's
    diary line is still matched with its mission, and never counted as a second spray).

    The rows a page of today's pending PHI reads, not a field's whole history.
    """
    params = {"ids": field_ids}
    diary = conn.execute(
        ALL_DIARY_ROWS.where(
            of_fields(conn, DiaryEntry.field_id),
            stands(),
            DiaryEntry.occurred_at >= since,
            InputProduct.phi_days.is_not(None),
        ).order_by(DiaryEntry.field_id, DiaryEntry.chain_seq),
        params,
    ).all()
    named = sorted({r.mission_id for r in diary if r.mission_id})
    at = func.coalesce(Mission.last_fix_at, Mission.ended_at, Mission.started_at)
    recent = at >= since
    if named:
        recent = or_(recent, Mission.mission_id.in_(named))
    flown = ALL_MISSION_ROWS.where(of_fields(conn, MissionField.field_id), recent)
    return diary, conn.execute(flown.order_by(Mission.started_at, Mission.mission_id), params).all()


def load_all(
    conn: Any, *, since: datetime | None = None, until: datetime | None = None
) -> list[Application]:
    """Every application in the record, optionally those from ``since`` to ``until``.

    Only standing diary entries are read: the corrected view, asked of the database.
    """
    rows = applications(
        conn.execute(ALL_DIARY_ROWS.where(stands())).all(), conn.execute(ALL_MISSION_ROWS).all()
    )
    # Filtered once they are applications, so a mission and its diary line (which may fall
    # on either side of a bound) are matched before either is dropped.
    return [
        a
        for a in rows
        if (since is None or (a.at is not None and a.at >= since))
        and (until is None or (a.at is not None and a.at <= until))
    ]
