"""The landing page at /: where a visitor finds the trace, the reports and the API."""

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from traceability.api.main import create_app
from traceability.api.routes.landing import Showcase
from traceability.config import Settings


def _links(html: str) -> list[str]:
    return sorted(set(re.findall(r'(?:href|src)="(/[^"#]*)', html)))


@pytest.fixture
def app_on(db: Engine):
    settings = Settings(database_url=str(db.url), public_base_url="http://192.0.2.7:8000")
    return create_app(settings=settings, engine=db)


def _client(app, host: str) -> Iterator[TestClient]:
    return TestClient(app, client=(host, 50000))


def test_landing_page_is_vietnamese_first_and_links_what_exists(app_on, factory):
    lot = factory.lot(code="LOT-LANDING-1", fields_=[factory.field()])
    with _client(app_on, "127.0.0.1") as client:
        page = client.get("/")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert '<html lang="vi">' in page.text and "Truy xuất một lô hàng" in page.text
        english = client.get("/?lang=en")
        assert '<html lang="en">' in english.text and "Trace a lot" in english.text
        for html in (page.text, english.text):
            # Self-contained: nothing is fetched from another site.
            assert not re.search(r'(?:href|src)="https?://', html)
            links = _links(html)
            assert any(link.startswith(f"/t/{lot.code}") for link in links) and "/docs" in links
            for link in links:
                assert client.get(link).status_code == 200, link


def test_landing_page_answers_before_any_lot(app_on):
    with _client(app_on, "127.0.0.1") as client:
        page = client.get("/?lang=en")
    assert page.status_code == 200 and "No lot recorded yet." in page.text


def test_demo_tokens_are_shown_to_the_demo_machine_only(app_on, factory):
    lot = factory.lot(code="LOT-DEMO-1", fields_=[factory.field()])
    app_on.state.showcase = Showcase(
        lots=[lot.code],
        tokens=[("admin", "secret-admin-token")],
        speed=40,
        clock=lambda: datetime(2026, 11, 27, 3, 0, tzinfo=UTC),
        report_command="agritrace report missions --database-url sqlite:///./x.db",
    )
    with _client(app_on, "127.0.0.1") as local:
        page = local.get("/?lang=en")
        assert "secret-admin-token" in page.text and "40× real time" in page.text
        assert "2026-11-27 10:00" in page.text  # Vietnam time
        assert page.headers["cache-control"] == "no-store"
    with _client(app_on, "192.0.2.50") as phone:
        page = phone.get("/?lang=en")
        assert "secret-admin-token" not in page.text
        assert "printed in the terminal" in page.text
