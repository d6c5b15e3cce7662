"""Vietnam's national traceability data of a lot (Circular 02/2024/TT-BKHCN).

The circular names the least a trace must show: the product's name and image, the
producer's name and address, each stage with its trace code, location code and time,
the production time, the trace codes, the brand, the shelf life and the standards
applied. Trace and location codes follow TCVN 13274:2020, which builds them from GS1
identifiers where they exist: the lot's GTIN and batch (its Digital Link), else the lot
code; fields are named by their code, as in the EPCIS document.

The producer is the cooperative of the lot's farmers, with its address (village and
commune) and its VietGAP certificate; a farmer outside any cooperative is named with
their village only. The facts change only when a cooperative or a lot's photo is
updated, so they are read once per structure and kept with it: the worker that takes
the update clears its caches at once, and other workers see it when their structure
expires (``STRUCTURE_TTL_S``), as they do a farmer's name fixed by hand.
"""

from datetime import date, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, select
from sqlmodel import Session

from traceability.models import Farmer, FarmField, Lot, LotImage, Organisation
from traceability.qr import digital_link
from traceability.services.trace.structure import STRUCTURE_TTL_S, Structure, TTLCache, on_clear

BASIS = "Thông tư 02/2024/TT-BKHCN; TCVN 13274:2020"
_LOT = select(
    Lot.brand,
    Lot.shelf_life_days,
    exists().where(LotImage.lot_id == Lot.id).label("has_image"),
).where(Lot.id == bindparam("lot_id"))
_ORG_COLS = (
    Organisation.code,
    Organisation.name,
    Organisation.address,
    Organisation.brand,
    Organisation.certificate_standard,
    Organisation.certificate_no,
    Organisation.certificate_issuer,
    Organisation.certificate_valid_from,
    Organisation.certificate_valid_to,
)
_PRODUCERS = (
    select(FarmField.id, *_ORG_COLS)
    .join(Farmer, Farmer.id == FarmField.farmer_id)
    .outerjoin(Organisation, Organisation.id == Farmer.organisation_id)
    .where(FarmField.id.in_(bindparam("ids", expanding=True)))
)
_cache = TTLCache(4096, STRUCTURE_TTL_S)
on_clear(_cache.clear)


def _read(session: Session, st: Structure) -> tuple[Any, list]:
    key = (str(session.get_bind().url), st.lot.id, st.loaded_at)
    found = _cache.get(key)
    if found is None:
        conn = session.connection()
        lot = conn.execute(_LOT, {"lot_id": st.lot.id}).one()
        orgs = conn.execute(_PRODUCERS, {"ids": list(st.fields)}).all() if st.fields else []
        found = (lot, orgs)
        _cache.put(key, found, since=st.loaded_at)
    return found


def _certificate(org: Any, harvest_days: set[date]) -> dict[str, Any]:
    start, end = org.certificate_valid_from, org.certificate_valid_to
    valid = None
    if harvest_days and (start or end):
        valid = all(
            (start is None or start <= d) and (end is None or d <= end) for d in harvest_days
        )
    return {
        "standard": org.certificate_standard or "VietGAP",
        "certificate_no": org.certificate_no,
        "issuer": org.certificate_issuer,
        "valid_from": start,
        "valid_to": end,
        "holder": org.name,
        "valid_on_harvest": valid,
    }


def _producers(st: Structure, orgs: list) -> tuple[list[dict], list[dict], str | None]:
    """The lot's producers, the certificates they hold, and the first brand among them."""
    days_of: dict[str, set[date]] = {}
    org_of = {row.id: row for row in orgs if row.code is not None}
    for lk in st.links:
        if lk.field_id in org_of:
            days_of.setdefault(org_of[lk.field_id].code, set()).add(st.lots[lk.lot_id].harvested_on)
    producers: dict[str, dict] = {}
    standards, brand = [], None
    for fid, f in st.fields.items():
        org = org_of.get(fid)
        if org is None:
            key = f"farmer:{f.farmer_name}:{f.village}"
            entry = {"kind": "farmer", "code": None, "name": f.farmer_name, "address": f.village}
        else:
            key = org.code
            entry = {"kind": "cooperative", "code": org.code, "name": org.name,
                     "address": org.address}  # fmt: skip
            if key not in producers:
                brand = brand or org.brand
                if org.certificate_no:
                    standards.append(_certificate(org, days_of.get(org.code, set())))
        producers.setdefault(key, entry)
    return list(producers.values()), standards, brand


def _stages(st: Structure, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each stage of the lot's history with its trace code, location code and time.

    A treatment's location is its field; a harvest's, the lot's fields; milling has none
    recorded.
    """
    fields_of = {n.code: ", ".join(st.field_codes(n)) or None for n in st.lots.values()}
    return [
        {
            "stage": e["activity"],
            "trace_codes": list(e["lot_codes"]),
            "location_code": e["field_code"]
            or (fields_of.get(e["lot_codes"][0]) if e["activity"] == "harvest" else None),
            "at": e["at"],
            "date": e["date"],
        }
        for e in events
    ]


def facts(
    session: Session, st: Structure, events: list[dict[str, Any]], base_url: str | None
) -> dict[str, Any]:
    """The ten minimum fields of Circular 02/2024/TT-BKHCN for the traced lot."""
    lot_row, orgs = _read(session, st)
    node = st.lot
    producers, standards, org_brand = _producers(st, orgs)
    base = (base_url or "").rstrip("/")
    shelf = lot_row.shelf_life_days
    lineage = sorted((n for n in st.lots.values() if n.depth > 0), key=lambda n: (n.depth, n.code))
    return {
        "basis": BASIS,
        "product_name": node.product_name,
        "image": f"{base}/api/v1/lots/{node.code}/image",
        "own_image": bool(lot_row.has_image),
        "producers": producers,
        "stages": _stages(st, events),
        "production": {
            "kind": "process" if node.parent_ids else "harvest",
            "date": node.harvested_on,
        },
        "trace_codes": {
            "lot": node.code,
            "gtin": node.gtin,
            "digital_link": digital_link(base, node.gtin, node.code)
            if node.gtin and base
            else None,
            "lineage": [n.code for n in lineage],
        },
        "brand": lot_row.brand or org_brand,
        "shelf_life_days": shelf,
        "best_before": node.harvested_on + timedelta(days=shelf) if shelf else None,
        "standards": standards,
    }
