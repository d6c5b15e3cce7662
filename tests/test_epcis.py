"""The lot's history as an EPCIS 2.0 JSON-LD document."""

import copy
import hashlib
import json
from collections import Counter
from datetime import date, datetime
from pathlib import Path

import jsonschema
import pytest
from pyld import jsonld

from tests.test_trace_phi import local, make_mission, spray
from traceability import epcis
from traceability.services import trace as svc

CBV_STEPS = {"commissioning"}


@pytest.fixture(autouse=True)
def _fresh_cache():
    svc.clear_cache()


@pytest.fixture
def milled(session, factory):
    """Two harvest lots (one with a GTIN) milled into one lot of rice."""
    fa, fb = factory.field(), factory.field()
    factory.season(fa)
    factory.season(fb)
    product = factory.input(phi_days=14, active_ingredient="Tricyclazole")
    urea = factory.input(kind="fertilizer", unit="kg", phi_days=None, max_dose_per_ha=300)
    spray(factory, fa, product, "2026-03-01T08:00:00")
    factory.entry(fa, activity="fertilize", input_code=urea.code, quantity=80.0)
    mission = make_mission(session, field=fb, product=product, at=local("2026-03-05T07:00:00"))
    a = factory.lot(fields_=[fa], code="PADDY-A", gtin="8934567890120", quantity_kg=6000)
    b = factory.lot(fields_=[fb], code="PADDY-B", quantity_kg=4000)
    rice = factory.lot(
        parents=[a, b], code="GAO-01", harvested_on=date(2026, 4, 20), quantity_kg=6500
    )
    return rice, mission


def _doc(client, code):
    r = client.get(f"/api/v1/lots/{code}/epcis")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/ld+json")
    return r.json()


def test_document_envelope(client, milled):
    rice, _ = milled
    doc = _doc(client, rice.code)
    assert doc["type"] == "EPCISDocument" and doc["schemaVersion"] == "2.0"
    assert doc["@context"][0] == epcis.EPCIS_CONTEXT
    assert doc["@context"][1]["agritrace"].startswith("https://")
    assert datetime.fromisoformat(doc["creationDate"].replace("Z", "+00:00"))
    events = doc["epcisBody"]["eventList"]
    for e in events:
        assert e["eventTimeZoneOffset"] == "+07:00"
        assert datetime.fromisoformat(e["eventTime"]).utcoffset().total_seconds() == 7 * 3600
        assert e["eventID"].startswith("urn:uuid:")
        # Every non-CBV term is in the agritrace namespace declared in @context.
        assert e["bizStep"] in CBV_STEPS or e["bizStep"].startswith("agritrace:")
        for key in e:
            assert ":" not in key or key.split(":")[0] in ("agritrace", "cbvmda"), key
    times = [datetime.fromisoformat(e["eventTime"]) for e in events]
    assert times == sorted(times)
    assert len({e["eventID"] for e in events}) == len(events)
    assert [e["eventID"] for e in _doc(client, rice.code)["epcisBody"]["eventList"]] == [
        e["eventID"] for e in events
    ]


def test_commissioning_transformation_and_treatments(client, milled):
    rice, mission = milled
    events = _doc(client, rice.code)["epcisBody"]["eventList"]

    commissioning = [e for e in events if e["type"] == "ObjectEvent" and e["action"] == "ADD"]
    assert {e["ilmd"]["cbvmda:lotNumber"] for e in commissioning} == {"PADDY-A", "PADDY-B"}
    a = next(e for e in commissioning if e["ilmd"]["cbvmda:lotNumber"] == "PADDY-A")
    assert a["quantityList"] == [
        {
            "epcClass": "https://id.gs1.org/01/08934567890120/10/PADDY-A",
            "quantity": 6000.0,
            "uom": "KGM",
        }
    ]
    assert a["bizStep"] == "commissioning" and a["ilmd"]["cbvmda:harvestStartDate"] == "2026-04-10"
    assert a["bizLocation"]["id"].startswith("urn:agritrace:field:")

    (transform,) = [e for e in events if e["type"] == "TransformationEvent"]
    assert {q["epcClass"] for q in transform["inputQuantityList"]} == {
        "https://id.gs1.org/01/08934567890120/10/PADDY-A",
        "urn:agritrace:lot:PADDY-B",
    }
    assert transform["outputQuantityList"] == [
        {"epcClass": "urn:agritrace:lot:GAO-01", "quantity": 6500.0, "uom": "KGM"}
    ]
    assert transform["ilmd"]["agritrace:phiCompliant"] is True

    sprays = [e for e in events if e["bizStep"] == "agritrace:spraying"]
    assert sorted(e["agritrace:method"] for e in sprays) == ["drone", "manual"]
    drone = next(e for e in sprays if e["agritrace:method"] == "drone")
    assert drone["agritrace:missionId"] == mission.mission_id
    assert drone["agritrace:product"]["agritrace:phiDays"] == 14
    # 1 L of product per hectare: a QUDT quantity in litres per hectare, not a plain LTR.
    assert drone["agritrace:dosePerHectare"] == {
        "type": "qudt:QuantityValue",
        "qudt:numericValue": 1.0,
        "qudt:unit": {"id": "http://qudt.org/vocab/unit/L-PER-HA"},
    }
    assert drone["action"] == "OBSERVE"
    assert drone["quantityList"] == [{"epcClass": "urn:agritrace:lot:PADDY-B"}]
    assert any(e["bizStep"] == "agritrace:fertilising" for e in events)
    # Commissioning comes after the season's work, the transformation after both.
    assert events[-1]["type"] == "TransformationEvent"


def test_lot_class_identifiers():
    assert epcis.lot_class("L 1", None) == "urn:agritrace:lot:L%201"
    assert epcis.lot_class("L1", "08934567890120") == "https://id.gs1.org/01/08934567890120/10/L1"


# ---------------------------------------------------------------- GS1's EPCIS 2.0 JSON Schema

EPCIS_SCHEMA = Path(__file__).parent / "data" / "EPCIS-JSON-Schema.json"


def _schema_errors(doc) -> list[str]:
    schema = json.loads(EPCIS_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(doc)]


@pytest.mark.parametrize("code", ["PADDY-A", "PADDY-B", "GAO-01"])
def test_document_is_valid_against_gs1_epcis_schema(client, milled, code):
    """A plain harvest lot (PADDY-A, sprayed by hand), a lot sprayed by drone (PADDY-B) and
    the lot milled from both (GAO-01) all pass GS1's own EPCIS 2.0 JSON Schema."""
    doc = _doc(client, code)
    events = doc["epcisBody"]["eventList"]
    kinds = {(e["type"], e.get("action"), e.get("agritrace:source")) for e in events}
    expected = {
        "PADDY-A": {("ObjectEvent", "ADD", None), ("ObjectEvent", "OBSERVE", "diary")},
        "PADDY-B": {("ObjectEvent", "ADD", None), ("ObjectEvent", "OBSERVE", "drone_mission")},
        "GAO-01": {
            ("ObjectEvent", "ADD", None),
            ("TransformationEvent", None, None),
            ("ObjectEvent", "OBSERVE", "drone_mission"),
        },
    }[code]
    assert expected <= kinds, kinds
    assert _schema_errors(doc) == []


def test_the_schema_check_catches_a_broken_document(client, milled):
    """The check can fail: a document without its eventList or with an unknown action."""
    doc = _doc(client, "GAO-01")
    doc["epcisBody"]["eventList"][0]["action"] = "SPRAY"
    assert _schema_errors(doc)
    del doc["epcisBody"]["eventList"]
    assert _schema_errors(doc)


# ---------------------------------------------------------------- JSON-LD: nothing lost

CONTEXT_FILE = Path(__file__).parent / "data" / "epcis-2.0.0-context.jsonld"
# The file's name in epcis-event-hash-generator 1.9.3 is its SHA-256: the same bytes as GS1's.
CONTEXT_SHA256 = "e532647e8eb371379b8b0e8602d8981c8566bc60f7351f22c76a5bc865962008"


def _offline_loader(url, options=None):
    """GS1's EPCIS context from tests/data; any other URL is an error (no network)."""
    if url != epcis.EPCIS_CONTEXT:
        raise jsonld.JsonLdError(f"no network in tests: {url}", "loading document failed")
    document = json.loads(CONTEXT_FILE.read_text(encoding="utf-8"))
    return {"contextUrl": None, "documentUrl": url, "document": document}


def _expand(doc) -> list:
    return jsonld.expand(doc, {"documentLoader": _offline_loader})


def _terms(context: dict, out: dict[str, str]) -> dict[str, str]:
    """Every term of a context (scoped contexts too) that names an IRI as a plain string."""
    for name, value in context.items():
        if isinstance(value, str) and not name.startswith("@"):
            out.setdefault(name, value)
        elif isinstance(value, dict):
            for inner in ("@context", None):
                scoped = value.get(inner) if inner else None
                for c in scoped if isinstance(scoped, list) else [scoped]:
                    if isinstance(c, dict):
                        _terms(c, out)
    return out


def _leaf_key(value):
    # True == 1 in Python: keep booleans apart from numbers.
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int | float):
        return ("number", float(value))
    return ("string", value)


def _compact_leaves(node, path="$"):
    """(path, value) of every value in a compact document, nulls and @context left out."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key != "@context":
                yield from _compact_leaves(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _compact_leaves(value, f"{path}[{i}]")
    elif node is not None:  # JSON-LD's null means "no value": there is nothing to keep
        yield path, node


def _expanded_leaves(node) -> Counter:
    found: Counter = Counter()
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("@value", "@id", "@type"):
                for v in value if isinstance(value, list) else [value]:
                    found[_leaf_key(v)] += 1
            else:
                found += _expanded_leaves(value)
    elif isinstance(node, list):
        for value in node:
            found += _expanded_leaves(value)
    return found


def _lost_in_expansion(doc) -> list[tuple[str, object]]:
    """The values of ``doc`` that its JSON-LD expansion does not carry.

    Each value of the compact document must appear in the expanded graph, as itself or
    as the IRI it stands for (a compact IRI such as ``agritrace:spraying``, or a term of
    the context such as ``ObjectEvent`` or ``commissioning``), once per occurrence.
    """
    context = json.loads(CONTEXT_FILE.read_text(encoding="utf-8"))["@context"]
    terms = _terms(context, {})
    for own in doc["@context"][1:]:
        terms.update(_terms(own, {}))

    def iri(value: str) -> str:
        prefix, sep, rest = value.partition(":")
        return terms[prefix] + rest if sep and prefix in terms else value

    available = _expanded_leaves(_expand(doc))
    leaves = list(_compact_leaves(doc))
    lost = []
    for path, value in leaves:
        candidates = [value]
        if isinstance(value, str):
            candidates += [iri(value), iri(terms.get(value, value))]
        for candidate in candidates:
            if available[_leaf_key(candidate)] > 0:
                available[_leaf_key(candidate)] -= 1
                break
        else:
            # Equal values cannot be told apart in the graph: name every place one stood.
            places = [p for p, v in leaves if _leaf_key(v) == _leaf_key(value)]
            lost.append((" | ".join(places) if len(places) > 1 else path, value))
    return lost


def test_the_vendored_context_is_gs1s():
    assert hashlib.sha256(CONTEXT_FILE.read_bytes()).hexdigest() == CONTEXT_SHA256
    context = json.loads(CONTEXT_FILE.read_text(encoding="utf-8"))["@context"]
    assert context["epcis"] == "https://ref.gs1.org/epcis/"


def test_the_loss_check_finds_a_value_the_context_does_not_know(client, milled):
    """The check can fail: an undeclared ``value`` (as an amount once was) is dropped by
    JSON-LD expansion, and the check names it."""
    doc = _doc(client, "GAO-01")
    assert _lost_in_expansion(doc) == []
    broken = copy.deepcopy(doc)
    event = broken["epcisBody"]["eventList"][0]
    event["agritrace:dosePerHectare"] = {"value": 123.25, "uom": "LTR"}
    assert _lost_in_expansion(broken) == [
        ("$.epcisBody.eventList[0].agritrace:dosePerHectare.value", 123.25)
    ]


@pytest.mark.parametrize("code", ["PADDY-A", "PADDY-B", "GAO-01"])
def test_jsonld_expansion_with_gs1s_context_keeps_every_value(client, milled, code):
    """Expanded with GS1's EPCIS 2.0.0 context (JSON-LD 1.1 expansion, pyld), every value of
    the document survives: quantities, amounts, doses and their units included."""
    doc = _doc(client, code)
    assert _lost_in_expansion(doc) == []
    expanded = _expand(doc)
    text = json.dumps(expanded)
    treatments = [e for e in doc["epcisBody"]["eventList"] if e.get("agritrace:source") is not None]
    assert treatments
    for event in treatments:
        # The amount and the dose are there as numbers under their full IRIs.
        amount = event["agritrace:appliedAmount"]
        assert amount["uom"] in ("KGM", "LTR") and amount["quantity"] > 0
        assert amount["epcClass"].startswith("urn:agritrace:product:")
    assert epcis.AGRITRACE_NS + "appliedAmount" in text
    assert "https://ref.gs1.org/epcis/quantity" in text
    if code != "PADDY-A":  # the drone's dose: 1 L/ha
        assert "http://qudt.org/vocab/unit/L-PER-HA" in text
        assert "http://qudt.org/schema/qudt/numericValue" in text
