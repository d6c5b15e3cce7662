"""The API's health and metrics: ``/readyz`` asks the database, ``/metrics`` counts requests
by route template, in Prometheus' text format."""

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from traceability.api.main import create_app
from traceability.db import make_engine


def _samples(client: TestClient) -> dict:
    r = client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }


def _requests(samples: dict, route: str, status: str) -> float:
    key = (
        "agritrace_http_requests_total",
        (("method", "GET"), ("route", route), ("status", status)),
    )
    return samples.get(key, 0.0)


def test_readyz_answers_200_when_the_database_answers(client):
    r = client.get("/readyz")
    assert r.status_code == 200
    assert r.json() == {"status": "ready", "checks": {"database": True}}


def test_readyz_answers_503_when_the_database_does_not(tmp_path):
    # A SQLite file in a folder that does not exist cannot be opened.
    engine = make_engine(f"sqlite:///{tmp_path}/missing/agritrace.db")
    with TestClient(create_app(engine=engine)) as client:
        r = client.get("/readyz")
        assert client.get("/healthz").status_code == 200
    assert r.status_code == 503
    assert r.json()["checks"] == {"database": False}
    assert "unable to open database file" in r.json()["reason"]


def test_metrics_count_requests_by_route_template(client):
    before = _samples(client)
    for code in ("NO-SUCH-LOT-1", "NO-SUCH-LOT-2", "NO-SUCH-LOT-3"):
        assert client.get(f"/api/v1/trace/{code}").status_code == 404
    assert client.get("/healthz").status_code == 200
    assert client.get("/no/such/page").status_code == 404
    after = _samples(client)

    route = "/api/v1/trace/{code}"
    assert _requests(after, route, "404") - _requests(before, route, "404") == 3
    assert _requests(after, "/healthz", "200") - _requests(before, "/healthz", "200") == 1
    assert _requests(after, "(unmatched)", "404") - _requests(before, "(unmatched)", "404") == 1
    # Nothing is counted under the codes asked for: one series per route, not per path.
    assert not any("NO-SUCH-LOT" in str(labels) for _, labels in after)
    hist = ("agritrace_http_request_duration_seconds_count", (("method", "GET"), ("route", route)))
    assert after[hist] - before.get(hist, 0.0) == 3
