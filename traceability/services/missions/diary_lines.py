"""The drone's lines in the diaries: each treated field's diary brought in line with its mission.

A completed mission writes one entry per treated field, through
:func:`traceability.services.diary.append_entry` with ``source="drone"``. The entry's
quantity is the field's ``product_amount`` — the product in its own unit, exactly what
the mission's per-field result and :func:`traceability.services.applications.from_mission`
report — or none when the tank mix was not reported (what left the drone is in the note).

When late points change the result, the diary is never written twice: the field's
current drone entry for the mission is *corrected* by a new entry that names it (or
withdrawn, if the field turns out not to have been treated); an unchanged result writes
nothing. Each entry carries a ``client_id`` derived from (mission, field, entry
corrected), so even two ingesters measuring the same mission at once cannot record the
same line twice.
"""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlmodel import Session

from traceability.errors import AgritraceError, InvalidInput
from traceability.models import (
    Activity,
    DiaryEntry,
    DiaryEntryCreate,
    FarmField,
    InputProduct,
    Mission,
    MissionType,
    Unit,
    utcnow,
)
from traceability.services import applications, diary
from traceability.services.missions.evidence import line_figures
from traceability.services.missions.result import FieldResult, Measured

log = logging.getLogger(__name__)

_ACTIVITY = {
    MissionType.spray: Activity.spray,
    MissionType.fertilize: Activity.fertilize,
    MissionType.seed: Activity.seed,
}


@dataclass(frozen=True, slots=True)
class _Line:
    """What a treated field's diary should say about the mission."""

    result: FieldResult
    quantity: float | None  # the product in its own unit, None when the tank mix is unknown
    area_ha: float

    @classmethod
    def of(cls, result: FieldResult) -> "_Line | None":
        area = round(result.measured.treated_area_ha, 4)
        if result.measured.applied_amount <= 0 and area <= 0:
            return None  # the swath grazed the field's edge with nothing on
        return cls(result, result.product_amount, area)

    def already_in(self, entry: DiaryEntry) -> bool:
        """Whether ``entry`` (a standing drone line) already says this."""
        # A line with no treated area is written with area_ha None (see _entry).
        if entry.retracts or entry.area_ha != (self.area_ha if self.area_ha > 0 else None):
            return False
        # Lines recorded before the diary kept the product amount to the mission's own
        # precision hold it to 4 decimals: the same figure, not a change to correct.
        q = self.quantity
        return entry.quantity == q or (q is not None and entry.quantity == round(q, 4))


def write_diary_lines(
    session: Session,
    *,
    mission: Mission,
    product: InputProduct | None,
    measured: Measured,
    points_sha256: str | None = None,
) -> None:
    """Bring the treated fields' diaries in line with ``measured`` (see the module doc).

    Each line chains the mission's measured figures and ``points_sha256``, the digest of
    the fixes it was measured from (:mod:`.evidence`).
    """
    current = _current_lines(session, mission)
    wanted = {f.field_id: line for f in measured.fields if (line := _Line.of(f)) is not None}
    code_of = _field_codes(session, measured, current)
    # The day of the work is the fixes' own, not what the start or end event claims.
    when = mission.first_fix_at or mission.started_at or mission.ended_at or utcnow()
    for field_id in sorted(set(wanted) | set(current)):
        cur = current.get(field_id)
        line = wanted.get(field_id)
        if line is None:
            if cur is not None and not cur.retracts:
                _append(session, _withdrawal(mission, code_of[field_id], cur), mission)
        elif cur is None or not line.already_in(cur):
            _write(session, mission, product, measured, line, cur, when, points_sha256)


def _current_lines(session: Session, mission: Mission) -> dict[int, DiaryEntry]:
    # The newest line of each field's correction chain (a withdrawal included).
    return {
        e.field_id: e
        for e in session.execute(
            select(DiaryEntry).where(
                DiaryEntry.mission_id == mission.mission_id,
                DiaryEntry.source == "drone",
                ~applications.replaced(),
            )
        ).scalars()
    }


def _field_codes(
    session: Session, measured: Measured, current: dict[int, DiaryEntry]
) -> dict[int, str]:
    # A field with a line but no longer near the flight is not among the candidates.
    missing = {fid for fid in current if fid not in measured.field_codes}
    if not missing:
        return dict(measured.field_codes)
    rows = session.execute(select(FarmField.id, FarmField.code).where(FarmField.id.in_(missing)))
    return {**measured.field_codes, **dict(rows.all())}


def _client_id(mission_id: str, field_code: str, corrects: int | None) -> str:
    digest = hashlib.sha256(f"{mission_id}\x00{field_code}\x00{corrects}".encode()).hexdigest()
    return f"drone-{digest[:40]}"


def _withdrawal(mission: Mission, field_code: str, cur: DiaryEntry) -> DiaryEntryCreate:
    return DiaryEntryCreate(
        field_code=field_code,
        occurred_at=cur.occurred_at,
        activity=cur.activity,
        note=f"withdrawn: re-measured drone mission {mission.mission_id} "
        "no longer covers this field",
        corrects=cur.id,
        retracts=True,
        client_id=_client_id(mission.mission_id, field_code, cur.id),
    )


def _note(
    mission: Mission,
    product: InputProduct | None,
    measured: Measured,
    line: _Line,
    cur: DiaryEntry | None,
) -> str:
    fa, area, quantity, unit = line.result.measured, line.area_ha, line.quantity, measured.unit
    what = product.code if product else (mission.product_code or "unknown product")
    left = f"{fa.applied_amount:.4g} {unit}"
    if quantity is not None and product is not None:
        # The note gives the product to 4 decimals, as a person would write it down; the
        # entry's quantity holds it exactly.
        shown = round(quantity, 4)
        dose = f", {shown / area:.3g} {product.unit}/ha" if area > 0 else ""
        amount = f"{shown:g} {product.unit} of {what}"
        if measured.per_unit != 1.0:
            amount += f" in {left} of tank mix"
    else:
        dose = f", {fa.dose_per_ha:.3g} {unit}/ha" if fa.dose_per_ha else ""
        amount = f"{left} of {what}" + (" (tank mix not reported)" if product else "")
    note = (
        f"drone {mission.drone_code}, mission {mission.mission_id}: {amount} "
        f"on {area:g} ha ({fa.coverage_pct:.1f} % of the field{dose})"
    )
    if cur is not None:
        note = f"re-measured after late telemetry (corrects entry {cur.id}); " + note
    return note[:2000]


def _write(
    session: Session,
    mission: Mission,
    product: InputProduct | None,
    measured: Measured,
    line: _Line,
    cur: DiaryEntry | None,
    when: datetime,
    points_sha256: str | None = None,
) -> None:
    field_code = line.result.field_code
    unit = Unit(product.unit) if product and line.quantity is not None else None
    figures = line_figures(
        mission,
        area_ha=line.area_ha,
        quantity=line.quantity,
        unit=str(unit) if unit else None,
        applied_amount=line.result.measured.applied_amount,
        amount_unit=str(measured.unit),
        points_sha256=points_sha256,
    )
    data = dict(
        field_code=field_code,
        occurred_at=when,
        activity=_ACTIVITY.get(mission.type, Activity.spray),
        input_code=product.code if product else None,
        quantity=line.quantity,
        unit=unit,
        area_ha=line.area_ha if line.area_ha > 0 else None,
        note=_note(mission, product, measured, line, cur),
        corrects=cur.id if cur is not None else None,
        client_id=_client_id(mission.mission_id, field_code, cur.id if cur is not None else None),
    )
    chained = {"mission": figures}
    try:
        _append(session, DiaryEntryCreate(**data), mission, chained)
    except InvalidInput:
        # A product that does not fit the activity (e.g. seed in a spray mission) must
        # not keep the work out of the diary: record it without the product link.
        data["input_code"] = None
        _append(session, DiaryEntryCreate(**data), mission, chained)


def _append(
    session: Session, data: DiaryEntryCreate, mission: Mission, chained: dict | None = None
) -> None:
    try:
        diary.append_entry(
            session,
            data=data,
            source="drone",
            mission_id=mission.mission_id,
            commit=False,
            chained=chained,
        )
    except InvalidInput:
        raise
    except AgritraceError as exc:
        # The same line was already written (by another ingester): the client_id guards it.
        log.warning("diary entry for mission %s not written: %s", mission.mission_id, exc)
