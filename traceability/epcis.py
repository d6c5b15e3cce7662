"""A lot's history as an EPCIS 2.0 JSON-LD document (GS1 EPCIS/CBV 2.0).

Events, built from the public trace (``services.trace.build_trace``):

- each harvest lot: an ``ObjectEvent`` ``ADD`` with ``bizStep`` ``commissioning``
  at its fields (``bizLocation``), with the lot number and harvest date as
  instance/lot master data (``ilmd``);
- each lot milled or mixed from others: a ``TransformationEvent`` from the
  parent lots (inputs) to this lot (output);
- each treatment of a field in the season (spraying, fertilising, sowing, by
  hand or by drone): an ``ObjectEvent`` ``OBSERVE`` on the lot's class at the
  field. The CBV has no business step for crop treatment, so these carry an
  ``agritrace:`` business step and the product, dose, PHI and evidence as
  ``agritrace:`` extension properties, declared in the ``@context``.

Nothing is lost to a JSON-LD reader: every property is either a term of GS1's EPCIS
context or a compact IRI of a prefix the document declares, so expanding the document
with the official context keeps every value. The applied amount is an EPCIS quantity
element (``epcClass``, ``quantity``, ``uom``); a dose per hectare, for which UN/CEFACT
Recommendation 20 has no unit code, is a QUDT quantity value in a per-hectare unit.

Lot classes are GS1 Digital Link URIs (``https://id.gs1.org/01/{gtin}/10/{lot}``)
for lots with a GTIN, and ``urn:agritrace:lot:{code}`` otherwise; fields are
``urn:agritrace:field:{code}``.

:func:`document` gathers the lots and their fields from the trace, builds one event per
treatment (``_treatment_event``) and per lot (``_lot_event``), and orders them by time.
"""

import uuid
from datetime import UTC, datetime, time
from typing import Any
from urllib.parse import quote

from traceability import gs1
from traceability.services.common import LOCAL_TZ

EPCIS_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
AGRITRACE_NS = "https://agritrace.org/ns/epcis#"
QUDT_NS = "http://qudt.org/schema/qudt/"
QUDT_UNIT = "http://qudt.org/vocab/unit/"
TZ_OFFSET = "+07:00"
# Event IDs are stable: the same record always gives the same eventID, so a
# repository that captures the document twice can tell the events are the same.
_ID_NS = uuid.uuid5(uuid.NAMESPACE_URL, AGRITRACE_NS)

_TREATMENT_STEP = {
    "spray": "agritrace:spraying",
    "fertilize": "agritrace:fertilising",
    "seed": "agritrace:sowing",
}


def lot_class(code: str, gtin: str | None) -> str:
    """The EPC class of a lot: its GS1 Digital Link URI, or an agritrace URN without a GTIN.

    >>> lot_class("LOT-1", "08934567890120")
    'https://id.gs1.org/01/08934567890120/10/LOT-1'
    >>> lot_class("LOT-1", None)
    'urn:agritrace:lot:LOT-1'
    """
    if gtin:
        return gs1.digital_link(gs1.GS1_ID_BASE, gtin, code)
    return f"urn:agritrace:lot:{quote(code, safe='')}"


def field_uri(code: str) -> str:
    """The location identifier of a field."""
    return f"urn:agritrace:field:{quote(code, safe='')}"


def _event_id(*parts: Any) -> str:
    return "urn:uuid:" + str(uuid.uuid5(_ID_NS, "|".join(str(p) for p in parts)))


def _local(ts: datetime | str) -> str:
    if isinstance(ts, str):
        ts = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return ts.astimezone(LOCAL_TZ).isoformat(timespec="milliseconds")


def _harvest_time(day) -> str:
    # A lot carries a harvest day, not an hour: noon local time stands for the day.
    return datetime.combine(day, time(12, 0), LOCAL_TZ).isoformat(timespec="milliseconds")


# UN/CEFACT Recommendation 20 (Annex I) codes of the units a product is counted in.
_UOM = {"kg": "KGM", "L": "LTR"}
# Recommendation 20 has hectare (HAR) but no kilogram or litre per hectare: its only
# area rates are per square metre (28 kg/m², GM g/m²), none of them for a volume. A dose
# is therefore a QUDT quantity value in QUDT's units KiloGM-PER-HA and L-PER-HA (the
# QUDT units vocabulary, http://qudt.org/vocab/unit/; UCUM writes them kg/har and L/har).
_PER_HECTARE = {"kg": "KiloGM-PER-HA", "L": "L-PER-HA"}


def product_class(code: str) -> str:
    """The EPC class of an input product (pesticide, fertiliser, seed) in the record."""
    return f"urn:agritrace:product:{quote(code, safe='')}"


def _applied(e: dict[str, Any]) -> dict[str, Any] | None:
    """What a treatment applied, as an EPCIS quantity element of the product's class."""
    uom = _UOM.get(e.get("unit") or "")
    if e.get("quantity") is None or uom is None:
        return None
    element: dict[str, Any] = {"quantity": e["quantity"], "uom": uom}
    code = (e.get("product") or {}).get("code") or e.get("product_code")
    if code:
        element = {"epcClass": product_class(code)} | element
    return element


def _dose(value: float, unit: str | None) -> dict[str, Any]:
    """A dose per hectare as a QUDT quantity value, in kg/ha or L/ha when the unit is known."""
    dose: dict[str, Any] = {"type": "qudt:QuantityValue", "qudt:numericValue": value}
    if unit in _PER_HECTARE:
        dose["qudt:unit"] = {"id": QUDT_UNIT + _PER_HECTARE[unit]}
    return dose


def document(trace: dict[str, Any], *, base_url: str) -> dict[str, Any]:
    """The EPCIS 2.0 document of a trace (``build_trace``'s result)."""
    lots = {trace["lot"]["code"]: trace["lot"]} | {n["code"]: n for n in trace["lineage"]}
    verdicts = {x["lot_code"]: x["phi_compliant"] for x in trace["phi"]["lots"]}
    classes = {code: lot_class(code, n.get("gtin")) for code, n in lots.items()}
    fields_of: dict[str, list[str]] = {}
    for s in trace["seasons"]:
        fields_of.setdefault(s["lot_code"], []).append(s["field_code"])

    events = [
        _treatment_event(e, classes)
        for e in trace["events"]
        if e["kind"] != "lot" and e["activity"] in _TREATMENT_STEP and e["at"] is not None
    ]
    for code, node in lots.items():
        event = _lot_event(
            code, node, lots=lots, classes=classes, phi_compliant=verdicts.get(code),
            base_url=base_url,
        )  # fmt: skip
        own_fields = sorted(fields_of.get(code, []))
        if own_fields:
            event["bizLocation"] = {"id": field_uri(own_fields[0])}
            event["agritrace:fields"] = [field_uri(f) for f in own_fields]
        events.append(event)

    events.sort(key=lambda event: datetime.fromisoformat(event["eventTime"]))
    return {
        "@context": [EPCIS_CONTEXT, {"agritrace": AGRITRACE_NS, "qudt": QUDT_NS}],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "epcisBody": {"eventList": events},
    }


def _treatment_event(e: dict[str, Any], classes: dict[str, str]) -> dict[str, Any]:
    """An ``OBSERVE`` of the lots' classes at the field: one treatment, by hand or by drone."""
    event: dict[str, Any] = {
        "type": "ObjectEvent",
        "eventTime": _local(e["at"]),
        "eventTimeZoneOffset": TZ_OFFSET,
        "eventID": _event_id(e["kind"], e.get("entry_id") or e["mission_id"], e["field_code"]),
        "action": "OBSERVE",
        "bizStep": _TREATMENT_STEP[e["activity"]],
        "quantityList": [{"epcClass": classes[c]} for c in e["lot_codes"]],
        "readPoint": {"id": field_uri(e["field_code"])},
        "bizLocation": {"id": field_uri(e["field_code"])},
        "agritrace:method": e["method"],
        "agritrace:source": "drone_mission" if e["kind"] == "drone_mission" else "diary",
    }
    product = _product(e)
    if product:
        event["agritrace:product"] = product
    amount = _applied(e)
    if amount:
        event["agritrace:appliedAmount"] = amount
    if e.get("dose_per_ha") is not None:
        event["agritrace:dosePerHectare"] = _dose(e["dose_per_ha"], e.get("unit"))
    if e.get("area_ha") is not None:
        event["agritrace:treatedAreaHa"] = e["area_ha"]
    if e["kind"] == "drone_mission":
        event["agritrace:missionId"] = e["mission_id"]
        event["agritrace:droneId"] = e.get("drone_code")
        event["agritrace:coveragePct"] = e.get("coverage_pct")
        event["agritrace:diaryEntryIds"] = e.get("evidence_entry_ids", [])
    else:
        event["agritrace:diaryEntryId"] = e["entry_id"]
        event["agritrace:diaryEntryHash"] = e.get("entry_hash")
    return event


def _product(e: dict[str, Any]) -> dict[str, Any] | None:
    """The product a treatment applied, as far as the trace knows it."""
    product = e.get("product")
    if product:
        return {
            "agritrace:code": product["code"],
            "agritrace:name": product["name"],
            "agritrace:kind": product["kind"],
            "agritrace:activeIngredient": product["active_ingredient"],
            "agritrace:registrationNo": product["registration_no"],
            "agritrace:phiDays": product["phi_days"],
        }
    if e.get("product_code"):
        return {"agritrace:code": e["product_code"]}
    return None


def _lot_event(
    code: str,
    node: dict[str, Any],
    *,
    lots: dict[str, dict[str, Any]],
    classes: dict[str, str],
    phi_compliant: bool | None,
    base_url: str,
) -> dict[str, Any]:
    """A harvest lot's commissioning, or the transformation that made a milled or mixed lot."""
    output = {"epcClass": classes[code], "quantity": node["quantity_kg"], "uom": "KGM"}
    ilmd = {
        "cbvmda:lotNumber": code,
        "agritrace:productName": node["product_name"],
        "agritrace:phiCompliant": phi_compliant,
        "agritrace:traceURL": f"{base_url.rstrip('/')}/t/{quote(code, safe='')}",
    }
    when = _harvest_time(node["harvested_on"])
    parents = node.get("parent_lots") or []
    if parents:
        return {
            "type": "TransformationEvent",
            "eventTime": when,
            "eventTimeZoneOffset": TZ_OFFSET,
            "eventID": _event_id("transformation", code),
            "transformationID": f"urn:agritrace:transformation:{quote(code, safe='')}",
            "inputQuantityList": [
                {"epcClass": classes[p], "quantity": lots[p]["quantity_kg"], "uom": "KGM"}
                for p in parents
                if p in lots
            ],
            "outputQuantityList": [output],
            "bizStep": "commissioning",
            "disposition": "active",
            "ilmd": ilmd,
        }
    ilmd["cbvmda:harvestStartDate"] = node["harvested_on"].isoformat()
    ilmd["cbvmda:harvestEndDate"] = node["harvested_on"].isoformat()
    return {
        "type": "ObjectEvent",
        "eventTime": when,
        "eventTimeZoneOffset": TZ_OFFSET,
        "eventID": _event_id("commissioning", code),
        "action": "ADD",
        "bizStep": "commissioning",
        "disposition": "active",
        "quantityList": [output],
        "ilmd": ilmd,
    }
