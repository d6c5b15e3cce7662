"""The public trace JSON against its documented model (``services.trace.schema``)."""

from datetime import date

import pytest

from tests.test_trace_phi import local, make_mission, spray
from traceability.services import trace as svc
from traceability.services.trace.schema import TracePublic


@pytest.fixture(autouse=True)
def _fresh_cache():
    svc.clear_cache()


@pytest.fixture
def milled(session, factory):
    """A milled lot from two harvest lots: sprays by hand and by drone, one of them with no
    product named, a field without a season, and a mission with no diary line."""
    a, b = factory.field(), factory.field()
    factory.season(a, sown_on=date(2026, 1, 5), variety="ST25")
    product = factory.input(phi_days=14, active_ingredient="Hexaconazole")
    spray(factory, a, product, "2026-03-01T08:00:00")
    spray(factory, b, None, "2026-03-02T08:00:00")
    make_mission(session, field=a, product=product, at=local("2026-03-20T07:00:00"))
    make_mission(
        session, field=b, product=product, at=local("2026-03-21T07:00:00"), with_diary=False
    )
    factory.entry(a, activity="observe", occurred_at=local("2026-03-05T09:00:00"))
    harvest_a = factory.lot(fields_=[a], harvested_on=date(2026, 4, 10), gtin="8934567890120")
    harvest_b = factory.lot(fields_=[b], harvested_on=date(2026, 4, 12))
    return factory.lot(parents=[harvest_a, harvest_b], harvested_on=date(2026, 4, 20))


def test_a_real_trace_is_exactly_what_its_model_documents(client, milled):
    data = client.get(f"/api/v1/trace/{milled.code}").json()
    model = TracePublic.model_validate(data)
    # Every key is modelled (an unknown one would be dropped) and every value round-trips.
    assert model.model_dump(mode="json") == data
    kinds = {e.kind for e in model.events}
    assert kinds == {"diary", "drone_mission", "lot"}
    assert [x.depth for x in model.lineage] == [1, 1]
    assert any(lot.unknown_applications for lot in model.phi.lots)


def test_openapi_documents_the_trace_model(client):
    spec = client.get("/openapi.json").json()
    answer = spec["paths"]["/api/v1/trace/{code}"]["get"]["responses"]["200"]
    ref = answer["content"]["application/json"]["schema"]["$ref"]
    assert ref.endswith("/TracePublic")
    assert "events" in spec["components"]["schemas"]["TracePublic"]["properties"]
