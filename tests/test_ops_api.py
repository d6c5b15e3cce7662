"""The API's health and metrics: ``/readyz`` asks the database, ``/metrics`` counts requests
by route template, in Prometheus' text format."""

import os
import signal
import subprocess

import orjson
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import ValidationError

from tests.conftest import ADMIN_TOKEN
from tests.mqtt import free_port, wait_until
from tests.ops import AGRITRACE, ROOT, agritrace, http_get, sample, scrape
from traceability.api.main import create_app
from traceability.config import get_settings
from traceability.db import make_engine


def _samples(client: TestClient) -> dict:
    r = client.get("/metrics", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
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


def test_a_database_away_is_a_503_to_retry_not_a_server_error(tmp_path):
    # A port nothing listens on (PostgreSQL, scans on the read pool too) and a SQLite file
    # that cannot be opened: every kind of request says "try again", with Retry-After.
    away = {
        "postgresql": make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/x"),
        "sqlite": make_engine(f"sqlite:///{tmp_path}/missing/agritrace.db"),
    }
    for backend, engine in away.items():
        with TestClient(create_app(engine=engine), raise_server_exceptions=False) as client:
            for path in ("/api/v1/trace/LOT-1", "/t/LOT-1", "/api/v1/farmers"):
                headers = {"Authorization": "Bearer x" * ("farmers" in path)}
                r = client.get(path, headers=headers)
                assert r.status_code == 503, (backend, path, r.text)
                assert r.json() == {"detail": "the database is unavailable; try again shortly"}
                assert r.headers["retry-after"] == "5"
            assert client.get("/healthz").status_code == 200


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


METRICS_TOKEN = "scraper-" + "7" * 32


def test_metrics_are_read_by_the_office_the_admin_or_the_metrics_token(
    client, factory, monkeypatch
):
    """Routes, counts and timings tell an outsider what is used and when: not for anyone."""
    monkeypatch.setenv("AGRITRACE_METRICS_TOKEN", METRICS_TOKEN)
    get_settings.cache_clear()
    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401 and "missing token" in anonymous.json()["detail"]
    assert "agritrace_http_requests" not in anonymous.text
    wrong = client.get("/metrics", headers={"Authorization": "Bearer " + "8" * 40})
    assert wrong.status_code == 401
    for role in ("operator", "cooperative"):
        r = client.get("/metrics", headers=factory.token(role))
        assert r.status_code == 403 and "AGRITRACE_METRICS_TOKEN" in r.json()["detail"]
    readers = [
        factory.token("office"),
        {"Authorization": f"Bearer {ADMIN_TOKEN}"},
        {"Authorization": f"Bearer {METRICS_TOKEN}"},
    ]
    for headers in readers:
        r = client.get("/metrics", headers=headers)
        assert r.status_code == 200 and "agritrace_http_requests_total" in r.text


def test_a_short_metrics_token_stops_the_server_before_it_serves(monkeypatch):
    monkeypatch.setenv("AGRITRACE_METRICS_TOKEN", "short")
    get_settings.cache_clear()
    with pytest.raises(ValidationError, match="AGRITRACE_METRICS_TOKEN must be at least 32"):
        get_settings()


def test_serve_with_two_workers_logs_json_and_adds_up_their_metrics(tmp_path):
    url = f"sqlite:///{tmp_path}/api.db"
    agritrace("db", "upgrade", "--database-url", url)
    port = free_port()
    log = tmp_path / "serve.log"
    args = ["--port", str(port), "--workers", "2", "--database-url", url, "--log-format", "json"]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [*AGRITRACE, "serve", *args], stdout=out, stderr=out, cwd=ROOT, env=dict(os.environ)
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: http_get(f"{base}/readyz")[0] == 200, what="the API", timeout=60)
        for _ in range(20):  # new connections: the two workers share them out
            assert http_get(f"{base}/api/v1/trace/NO-SUCH-LOT")[0] == 404
        samples = scrape(f"{base}/metrics")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    route = "/api/v1/trace/{code}"
    labels = {"method": "GET", "route": route, "status": "404"}
    assert sample(samples, "agritrace_http_requests_total", **labels) == 20
    lines = [orjson.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    assert lines and all({"time", "level", "logger", "message"} <= line.keys() for line in lines)
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert any("/api/v1/trace/NO-SUCH-LOT" in line["message"] for line in access)
