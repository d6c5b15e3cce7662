"""Applications on a lot's fields placed on the lots they count for, and the public events.

Pure: no database. An application counts for a lot when it was made on one of the
lot's fields within that field's window for the lot (``structure.window_start`` to the
harvest, on the farmers' local calendar; see ``FieldLink.counts``).
Only public facts leave here: no user, author or operator id, and no free-text
notes (a note is whatever a farmer typed, phone numbers included).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime
from datetime import time as dtime
from typing import Any

from traceability.services.applications import Application
from traceability.services.common import LOCAL_TZ, local_day
from traceability.services.trace.structure import FieldLink, Structure

_FAR_PAST = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Placed:
    """An application with its local day and the codes of the lots it counts for."""

    application: Application
    day: date | None
    lot_codes: tuple[str, ...]


def _pesticide(a: Application) -> tuple[int | None, bool]:
    """The PHI and the ban of an application's product, as a lot's window weighs them."""
    p = a.product
    return (p.phi_days, p.banned) if p is not None else (None, False)


def place(st: Structure, applications: list[Application]) -> list[Placed]:
    """The applications that count for any lot of the structure, oldest first.

    A drone mission with no time at all still counts for every lot of its field: it
    was flown, and hiding it would hide a spray.
    """
    links_of: dict[int, list[FieldLink]] = {}
    for link in st.links:
        links_of.setdefault(link.field_id, []).append(link)
    out = []
    for a in applications:
        day = local_day(a.at) if a.at else None
        lots = {
            lk.lot_code
            for lk in links_of.get(a.field_id, ())
            if (lk.counts(day, a.at, a.recorded_at, *_pesticide(a)) if day else a.source == "drone")
        }
        if lots:
            out.append(Placed(a, day, tuple(sorted(lots))))
    # Stable: applications at the same time keep their order (diary chains, then missions).
    return sorted(out, key=lambda p: p.application.at or _FAR_PAST)


def iso(ts: datetime | None) -> str | None:
    """An aware timestamp as RFC 3339 in UTC with a ``Z``, as the public JSON writes times.

    >>> iso(datetime(2026, 3, 1, 8, 0, tzinfo=LOCAL_TZ))
    '2026-03-01T01:00:00Z'
    """
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z") if ts else None


def _end_of_day(day: date) -> datetime:
    return datetime.combine(day, dtime(23, 59, 59), LOCAL_TZ).astimezone(UTC)


def application_event(st: Structure, p: Placed) -> dict[str, Any]:
    """The public event of one application (times as RFC 3339 strings)."""
    a = p.application
    common = {
        "at": iso(a.at),
        "date": p.day,
        "activity": a.activity,
        "method": a.method,
        "source": "drone" if a.method == "drone" else "manual",
        "field_code": st.fields[a.field_id].code,
        "lot_codes": list(p.lot_codes),
        "product": a.product.public() if a.product else None,
        "quantity": a.quantity,
        "unit": a.unit,
        "area_ha": a.area_ha,
        "dose_per_ha": a.dose_per_ha,
        "mission_id": a.mission_id,
    }
    if a.source == "diary":
        return {"kind": "diary", **common, "entry_id": a.entry_id, "entry_hash": a.entry_hash}
    return {
        "kind": "drone_mission",
        **common,
        "started_at": iso(a.started_at),
        "ended_at": iso(a.ended_at),
        "status": a.status,
        "product_code": a.product_code,
        "applied_amount": a.applied_amount,
        "applied_unit": a.applied_unit,
        "coverage_pct": a.coverage_pct,
        "drone_code": a.drone_code,
        "evidence_entry_ids": list(a.evidence_entry_ids),
    }


def _lot_order(st: Structure) -> dict[int, tuple[datetime, int]]:
    """Where each lot goes on the timeline: ``(time, generation)``.

    A lot is placed no earlier than the lots it was made from, and after them at the same
    time (its generation is one more than its parents'): milling comes after the harvests
    it milled, even when both were recorded on the same day.
    """
    order: dict[int, tuple[datetime, int]] = {}

    def visit(lot_id: int) -> tuple[datetime, int]:
        if lot_id not in order:
            node = st.lots[lot_id]
            parents = [visit(p) for p in node.parent_ids if p in st.lots]
            at = max([_end_of_day(node.harvested_on), *(t for t, _ in parents)])
            order[lot_id] = (at, 1 + max((g for _, g in parents), default=-1))
        return order[lot_id]

    for lot_id in st.lots:
        visit(lot_id)
    return order


def public_events(st: Structure, placed: list[Placed]) -> list[dict[str, Any]]:
    """One event per application and per lot (its harvest, or its milling/mixing), oldest
    first; a lot comes after the applications of the same moment, and after its parents."""
    timed = [(p.application.at or _FAR_PAST, False, 0, application_event(st, p)) for p in placed]
    place_at = _lot_order(st)
    for node in st.lots.values():
        at = _end_of_day(node.harvested_on)
        event = {
            "kind": "lot",
            "at": iso(at),
            "date": node.harvested_on,
            "activity": "process" if node.parent_ids else "harvest",
            "method": None,
            "field_code": None,
            "lot_codes": [node.code],
            "quantity": node.quantity_kg,
            "unit": "kg",
            "from_lots": st.parent_codes(node),
        }
        timed.append((*place_at[node.id][:1], True, place_at[node.id][1], event))
    timed.sort(key=lambda t: t[:3])
    return [t[3] for t in timed]
