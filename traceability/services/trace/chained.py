"""The verdict's inputs as the hash chain holds them, and where the live rows disagree.

Pure: no database. An entry written with a product chains that product's PHI and dose
limit as they stood (``chained``); a drone's diary line chains its mission's measured
figures (``chained["mission"]``, see ``services.missions.evidence``). The catalogue and
the mission tables are not hashed, so an edit there in SQL would flip a verdict while
every chain still holds. Here the verdict takes the chained figures
(:func:`reconcile`) and every difference between them and the live rows is named
(:func:`discrepancies`). Entries written before the chain carried these have nothing
to compare: the live rows are used for them, as before.
"""

from dataclasses import replace
from datetime import datetime
from typing import Any

from traceability.services.applications import Application, Product
from traceability.services.missions.evidence import iso_seconds as _iso


def _when(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _limits(product: Product | None, chained: dict | None) -> Product | None:
    """``product`` with the PHI and dose limit the entry chained, if it chained them."""
    if product is None or not chained or chained.get("product") != product.code:
        return product
    phi, dose = chained.get("phi_days"), chained.get("max_dose_per_ha")
    if phi == product.phi_days and dose == product.max_dose_per_ha:
        return product  # the catalogue still says what the entry chained (the usual case)
    return replace(
        product,
        phi_days=chained.get("phi_days"),
        max_dose_per_ha=chained.get("max_dose_per_ha"),
    )


def _drone(a: Application, row: Any) -> Application:
    chained = row.chained or {}
    a = replace(a, product=_limits(a.product, chained))
    m = chained.get("mission")
    if not m:
        return a
    started, ended = _when(m.get("started_at")), _when(m.get("ended_at"))
    # The fixes' times decide (a line written before the chain held them: the live ones).
    last_fix = _when(m.get("last_fix_at")) or a.last_fix_at
    return replace(
        a,
        at=last_fix or ended or started or a.at,
        started_at=started,
        ended_at=ended,
        area_ha=m.get("treated_area_ha", a.area_ha),
    )


def reconcile(apps: list[Application], rows_by_id: dict[int, Any]) -> list[Application]:
    """The applications with what their entries chained in place of the live rows."""
    out = []
    for a in apps:
        if a.source == "diary" and a.entry_id in rows_by_id:
            product = _limits(a.product, rows_by_id[a.entry_id].chained)
            if product is not a.product:
                a = replace(a, product=product)
        elif a.source == "drone" and a.evidence_entry_ids:
            a = _drone(a, rows_by_id[max(a.evidence_entry_ids)])
        out.append(a)
    return out


def _differs(chained: Any, live: Any) -> bool:
    if chained == live:
        return False
    if isinstance(chained, float | int) and isinstance(live, float | int):
        return abs(chained - live) > 1e-4
    return True


def _product_checks(row: Any, field_code: str) -> list[dict[str, Any]]:
    c = row.chained
    if c.get("product") != row.p_code or row.p_code is None:
        return []
    phi, dose = row.p_phi, row.p_max_dose
    if c.get("phi_days") == phi and c.get("max_dose_per_ha") == dose:
        return []  # the usual case, answered without building anything
    out = []
    for key, live in (("phi_days", phi), ("max_dose_per_ha", dose)):
        if key in c and _differs(c[key], live):
            out.append(
                {
                    "kind": f"product_{key}",
                    "entry_id": row.id,
                    "field_code": field_code,
                    "mission_id": row.mission_id,
                    "product_code": row.p_code,
                    "what": key,
                    "chained": c[key],
                    "recorded": live,
                    "message": (
                        f"product {row.p_code}: the catalogue now says {key} = {live}, but "
                        f"entry {row.id} was written under {c[key]}; the verdict uses {c[key]}"
                    ),
                }
            )
    return out


def _mission_live(m: Any) -> dict[str, Any]:
    return {
        "started_at": _iso(m.started_at),
        "ended_at": _iso(m.ended_at),
        "first_fix_at": _iso(m.first_fix_at),
        "last_fix_at": _iso(m.last_fix_at),
        "product_code": m.product_code,
        "treated_area_ha": round(m.treated_area_ha, 4) if m.treated_area_ha else None,
    }


def _mission_checks(row: Any, missions: dict, field_code: str) -> list[dict[str, Any]]:
    m = (row.chained or {}).get("mission")
    if not m or not row.stands:
        return []  # a replaced line holds an earlier measure, not today's
    live_row = missions.get((row.mission_id, row.field_id))
    base = {
        "entry_id": row.id,
        "field_code": field_code,
        "mission_id": row.mission_id,
        "product_code": m.get("product_code"),
    }
    if live_row is None:
        return [
            base
            | {
                "kind": "mission_missing",
                "what": "mission",
                "chained": m.get("mission_id"),
                "recorded": None,
                "message": f"mission {row.mission_id}'s record of field {field_code} is gone, "
                f"but entry {row.id} chained it; the entry is counted",
            }
        ]
    live = _mission_live(live_row)
    out = []
    for key, now in live.items():
        if key in m and _differs(m[key], now):
            out.append(
                base
                | {
                    "kind": f"mission_{key}",
                    "what": key,
                    "chained": m[key],
                    "recorded": now,
                    "message": f"mission {row.mission_id}: its record now says {key} = {now}, "
                    f"but entry {row.id} chained {m[key]}; the verdict uses {m[key]}",
                }
            )
    return out


def discrepancies(
    diary_rows: list[Any], mission_rows: list[Any], field_codes: dict[int, str]
) -> list[dict[str, Any]]:
    """Every place a live row disagrees with what the chain holds, by entry."""
    missions = {(m.mission_id, m.field_id): m for m in mission_rows}
    out: list[dict[str, Any]] = []
    for row in diary_rows:
        if not row.chained:
            continue
        code = field_codes.get(row.field_id, str(row.field_id))
        out += _product_checks(row, code)
        out += _mission_checks(row, missions, code)
    return out
