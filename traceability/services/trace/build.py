"""The public trace of a lot, assembled: the one place its JSON shape is written.

:func:`build_trace` reads the cached structure and the live activity, places the
applications on the lots, checks the diaries' chains, judges the PHI, and shapes it
all into plain data (dates as ``date``, times as RFC 3339 strings) in the names and
shapes that ``traceability.services.trace.schema.TracePublic`` documents.

Only public facts leave here: a farmer's name and village, never a phone, national
ID, user, author or operator id, and no free-text notes.
"""

from typing import Any

from sqlmodel import Session

from traceability.models import DiaryVerification
from traceability.qr import digital_link, trace_url
from traceability.services import applications
from traceability.services.trace import (
    activity,
    amendments,
    anchors,
    chained,
    clock,
    events,
    national,
    phi,
    structure,
)
from traceability.services.trace.events import Placed, iso
from traceability.services.trace.structure import (
    DEFAULT_WINDOW_DAYS,
    FieldLink,
    LotNode,
    Structure,
    TracedField,
    lot_structure,
)


def _lot_json(node: LotNode, base_url: str | None) -> dict[str, Any]:
    out = {
        "code": node.code,
        "product_name": node.product_name,
        "harvested_on": node.harvested_on,
        "harvested_at": iso(node.harvested_at),
        "quantity_kg": node.quantity_kg,
        "gtin": node.gtin,
        "kind": "derived" if node.parent_ids else "harvest",
    }
    if base_url is not None:
        out["trace_url"] = trace_url(base_url, node.code)
        out["digital_link"] = digital_link(base_url, node.gtin, node.code) if node.gtin else None
    return out


def _field_json(f: TracedField, chain: dict[str, Any], anchor: dict | None) -> dict[str, Any]:
    return {
        "code": f.code,
        "name": f.name,
        "area_ha": f.area_ha,
        "geometry": f.geometry,
        "bbox": list(f.bbox),
        "farmer": {"name": f.farmer_name, "village": f.village},
        "lots": list(f.lots),
        "diary_chain": chain,
        "anchor": anchor,
    }


def _season_json(lk: FieldLink) -> dict[str, Any]:
    s = lk.season
    return {
        "lot_code": lk.lot_code,
        "field_code": lk.field_code,
        "season_id": s.id if s else None,
        "crop": s.crop if s else None,
        "variety": s.variety if s else None,
        "sown_on": s.sown_on if s else None,
        "window": {
            "start": lk.start,
            "end": lk.end,
            "reach": lk.reach,
            "default": lk.default_window,
            "basis": (
                f"no season recorded: the {DEFAULT_WINDOW_DAYS} days before harvest are used"
                if lk.default_window
                else structure.WINDOW_RULE
            ),
        },
    }


def _phi_application(st: Structure, p: Placed) -> dict[str, Any]:
    a = p.application
    return {
        "date": p.day,
        "at": iso(a.at),
        "source": a.source,
        "method": a.method,
        "field_code": st.fields[a.field_id].code,
        "quantity": a.quantity,
        "unit": a.unit,
        "dose_per_ha": a.dose_per_ha,
        "entry_id": a.entry_id,
        "mission_id": a.mission_id,
    }


def _product_json(st: Structure, v: phi.ProductVerdict) -> dict[str, Any]:
    return {
        "product_code": v.product.code,
        "product_name": v.product.name,
        "active_ingredient": v.product.active_ingredient,
        "phi_days": v.product.phi_days,
        "applications": [_phi_application(st, p) for p in v.applications],
        "last_application_on": v.last_application_on,
        "days_before_harvest": v.days_before_harvest,
        "earliest_safe_harvest": v.earliest_safe_harvest,
        "phi_compliant": v.phi_compliant,
        "reason": v.reason,
        "registration_no": v.product.registration_no,
    }


def _phi_json(st: Structure, verdict: phi.PhiVerdict) -> dict[str, Any]:
    lots = [
        {
            "lot_code": v.lot.code,
            "harvested_on": v.lot.harvested_on,
            "depth": v.lot.depth,
            "phi_compliant": v.phi_compliant,
            "own_fields_compliant": v.own_fields_compliant,
            "parent_lots": list(v.parent_lots),
            "products": [_product_json(st, pv) for pv in v.products],
            "unknown_applications": [
                _phi_application(st, u.placed)
                | {"product_code": u.product_code, "reason": u.reason}
                for u in v.unknown_applications
            ],
            "banned_applications": [
                _phi_application(st, p)
                | {"product_code": p.application.product.code, "reason": phi.BANNED}
                for p in v.banned_applications
            ],
            "notes": v.notes,
        }
        for v in verdict.lots
    ]
    return {
        "phi_compliant": verdict.phi_compliant,
        "rule": phi.RULE,
        "timezone": phi.LOCAL_TZ_NAME,
        "lots": lots,
    }


def _integrity_json(chains: dict[int, DiaryVerification]) -> dict[int, dict[str, Any]]:
    return {fid: c.model_dump() for fid, c in chains.items()}


def _role(row: Any, roles: dict[int, str]) -> str:
    if row.author_id in roles:
        return roles[row.author_id]
    return "drone" if row.source == "drone" else "unknown"


def _judged(
    session: Session,
    st: Structure,
    act: activity.Activity,
    extra: tuple[applications.Application, ...] = (),
):
    """The current view's placed applications, the verdict (each lot on its diaries as
    they stood when it was recorded) and the public list of amendments. ``extra`` are
    applications not yet recorded, to see what they would do to the verdict."""
    rows_by_id = {r.id: r for r in act.diary}
    current = chained.reconcile(applications.applications(act.diary, act.missions), rows_by_id)
    current += extra

    def placed_for(excluded: frozenset[int]) -> list[Placed]:
        if not excluded:
            return events.place(st, current)
        standing = amendments.standing(act.diary, excluded)
        apps = applications.applications(act.diary, act.missions, standing)
        return events.place(st, [*chained.reconcile(apps, rows_by_id), *extra])

    late = amendments.late_corrections(act.diary, st)
    accepted = activity.acceptances(session, [r.id for r in late])
    judge = amendments.Judge(st, act.diary, accepted, placed_for)
    placed = judge.placed(frozenset())
    verdict = phi.verdict(st.lot, st.lots, placed, own=judge)
    roles = activity.roles(session, {a.entry.author_id for a in judge.amendments} - {None})
    listed = [
        amendments.public(a, st.fields[a.entry.field_id].code, _role(a.entry, roles))
        for a in judge.amendments
    ]
    return current, placed, verdict, listed


def phi_verdict(
    session: Session, *, code: str, extra: tuple[applications.Application, ...] = ()
) -> bool | None:
    """Only the PHI verdict of lot ``code``, as its trace gives it (for the farmer's lots);
    with ``extra``, as it would be if those applications were recorded now."""
    st = lot_structure(session, code=code)
    _current, _placed, verdict, _listed = _judged(session, st, activity.load(session, st), extra)
    return verdict.phi_compliant


# What ``with_map`` adds for the page, never part of the JSON.
MAP_KEYS = ("field_map", "locator")


def build_trace(
    session: Session,
    *,
    code: str,
    base_url: str | None = None,
    with_map: bool = False,
    st: Structure | None = None,
    checkpoint: Any = anchors.READ,
) -> dict[str, Any]:
    """The public trace of lot ``code`` as plain data (dates as ``date``, times as strings).

    ``with_map`` adds ``field_map`` (a :class:`~.field_map.FieldMap`): the fields as
    SVG-ready polygons, and ``locator`` (a :class:`~.locator.Locator`), for the page.
    ``st`` is the lot's structure if the caller already holds it, ``checkpoint`` the
    newest transparency-log checkpoint (None: none) if it already read it.

    Raises
    ------
    NotFound
        If no lot has this code.
    """
    st = st or lot_structure(session, code=code)
    act = activity.load(session, st)
    current, placed, verdict, listed = _judged(session, st, act)
    chains = _integrity_json(activity.chains(session, st, act))
    anchored = anchors.anchors(session, st, act.diary, checkpoint)
    codes = {fid: f.code for fid, f in st.fields.items()}
    mismatches = chained.discrepancies(act.diary, act.missions, codes)
    verdict_of = {v.lot.code: v.phi_compliant for v in verdict.lots}
    lot = _lot_json(st.lot, base_url)
    lot["parent_lots"] = st.parent_codes(st.lot)
    lot["field_codes"] = st.field_codes(st.lot)
    lineage = [
        _lot_json(n, base_url)
        | {
            "depth": n.depth,
            "used_in": list(n.used_in),
            "parent_lots": st.parent_codes(n),
            "field_codes": st.field_codes(n),
            "phi_compliant": verdict_of[n.code],
        }
        for n in sorted(st.lots.values(), key=lambda n: (n.depth, n.code))
        if n.depth > 0
    ]
    timeline = events.public_events(st, placed)
    return {
        "lot": lot,
        "phi_compliant": verdict.phi_compliant,
        "phi": _phi_json(st, verdict),
        "fields": [_field_json(f, chains[fid], anchored[fid]) for fid, f in st.fields.items()],
        "seasons": [_season_json(lk) for lk in st.links],
        "events": timeline,
        "lineage": lineage,
        "diary_integrity": {
            "valid": all(c["valid"] for c in chains.values()),
            "fields": [chains[fid] for fid in st.fields],
            "records_match_chain": not mismatches,
            "discrepancies": mismatches,
            "anchored": all(a is not None for a in anchored.values()),
            "anchors_hold": all(a["diary_matches"] for a in anchored.values() if a),
        },
        "amendments": listed,
        "mission_warnings": clock.warnings(st, placed, current, act.claims),
        "timezone": phi.LOCAL_TZ_NAME,
        "national": national.facts(session, st, timeline, base_url),
    } | ({"field_map": st.field_map, "locator": st.locator} if with_map else {})
