"""The lot's history as an EPCIS 2.0 JSON-LD document."""

import json
from datetime import date, datetime
from pathlib import Path

import jsonschema
import pytest

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
    assert drone["agritrace:dosePerHectare"] == {"value": 1.0, "uom": "LTR"}
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
