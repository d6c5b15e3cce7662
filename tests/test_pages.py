"""The presentation layer: one language choice and one kind of link for every page."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from traceability.api import pages
from traceability.api.main import create_app
from traceability.config import Settings


@pytest.fixture
def client(db: Engine):
    settings = Settings(database_url=str(db.url), public_base_url="http://192.0.2.7:8000")
    with TestClient(create_app(settings=settings, engine=db)) as c:
        yield c


@pytest.mark.parametrize(
    ("query", "accept", "expected"),
    [
        (None, None, "vi"),
        (None, "en-GB,en;q=0.9", "en"),
        (None, "fr, de;q=0.9", "vi"),
        (None, "fr;q=1, en;q=0.7, vi;q=0.8", "vi"),
        ("en", "vi", "en"),  # ?lang= wins over the header
        ("vi", "en", "vi"),
    ],
)
def test_one_language_choice(query, accept, expected):
    assert pages.choose_lang(query, accept) == expected


@pytest.mark.parametrize(
    "path", ["/", "/signin", "/app/", "/t/NO-SUCH-LOT", "/01/09506000134352/10/NOPE"]
)
def test_every_page_follows_accept_language_unless_asked(client, path):
    english = client.get(path, headers={"Accept-Language": "en-US,en;q=0.9"})
    assert '<html lang="en">' in english.text, path
    asked = client.get(path, params={"lang": "vi"}, headers={"Accept-Language": "en"})
    assert '<html lang="vi">' in asked.text, path
    assert '<html lang="vi">' in client.get(path).text, path


def test_a_trace_page_chosen_by_its_headers_says_so_to_caches(client, factory):
    lot = factory.lot(code="LOT-PAGES-1", fields_=[factory.field()])
    chosen = client.get(f"/t/{lot.code}", headers={"Accept-Language": "en"})
    assert '<html lang="en">' in chosen.text
    assert "Accept-Language" in chosen.headers["vary"]
    asked = client.get(f"/t/{lot.code}", params={"lang": "en"})
    assert "Accept-Language" not in asked.headers["vary"]


def test_lang_url_encodes_and_keeps_the_other_parameters():
    u = pages.lang_url("en")
    assert u("/office/", **{"from": "2026-03-01", "product": "A&B C"}) == (
        "/office/?from=2026-03-01&product=A%26B+C&lang=en"
    )
    assert u("/app/fields/GR 01") == "/app/fields/GR%2001?lang=en"
    assert pages.lang_url("vi")("/operator/", day="2026-03-01", offset=None) == (
        "/operator/?day=2026-03-01"
    )


def test_the_environment_reads_dicts_as_jinja_does():
    """``x.name`` on a plain dict, a dict subclass and an object: the same text as Jinja's own
    environment gives (the expected text is Jinja's, rendered here by a plain Environment)."""
    from collections import OrderedDict

    from jinja2 import Environment

    source = (
        "{{ d.code }}|{{ d.missing }}|{{ d['items'] }}|{{ d.items() | list | length }}|"
        "{{ o.code }}|{{ s.code }}|{{ d.nested.code }}"
    )

    class Obj:
        code = "OBJ"

    context = {
        "d": {"code": "LOT-1", "items": "shadowed", "nested": {"code": "N"}},
        "o": Obj(),
        "s": OrderedDict(code="SUB"),
    }
    plain = Environment(autoescape=True).from_string(source).render(**context)
    ours = pages.templates.from_string(source).render(**context)
    assert ours == plain == "LOT-1||shadowed|3|OBJ|SUB|N"
