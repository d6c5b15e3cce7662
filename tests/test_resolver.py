"""The GS1-conformant resolver at /01/{gtin}/10/{lot} and /.well-known/gs1resolver.

Expected URLs are written out by hand from the test settings' public base URL
(https://trace.example.vn) and the GS1 Digital Link URI syntax; the linkset is checked
against a JSON Schema written from RFC 9264's text (tests/data).
"""

import json
import re
from pathlib import Path
from urllib.parse import urlsplit

import jsonschema
import pytest

from traceability import resolver
from traceability.services import trace as svc
from traceability.words import gettext

BASE = "https://trace.example.vn"
LINKSET_SCHEMA = Path(__file__).parent / "data" / "rfc9264-linkset.schema.json"
# GTIN-8 9638507-4 (check digit: 7·3+0+5·3+8+3·3+6+9·3 = 86 → 4), and the same GTIN
# written in 12, 13 and 14 digits: leading zeros do not change a check digit.
GTIN8 = "96385074"
GTIN14 = "00000096385074"
WRITTEN = [GTIN8, "000096385074", "0000096385074", GTIN14]
CODE = "BL-2026-07"
ANCHOR = f"{BASE}/01/{GTIN14}/10/{CODE}"
PAGE = f"{BASE}/t/{CODE}"
EPCIS = f"{BASE}/api/v1/lots/{CODE}/epcis"
TRACE_JSON = f"{BASE}/api/v1/trace/{CODE}"
VOC = "https://gs1.org/voc/"


@pytest.fixture(autouse=True)
def _fresh_cache():
    svc.clear_cache()


@pytest.fixture
def lot(factory):
    field = factory.field()
    factory.season(field)
    return factory.lot(fields_=[field], code=CODE, gtin=GTIN8, product_name="Lúa ST25")


def _validate_linkset(data) -> None:
    schema = json.loads(LINKSET_SCHEMA.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(schema).validate(data)


def _text(html: str) -> str:
    """The visible words of a page, without its language switch (which names the other
    language in that language, by convention)."""
    html = re.sub(r"<style.*?</style>", " ", html, flags=re.S)
    html = re.sub(r'<a href="\?lang=[^"]*"[^>]*>.*?</a>', " ", html)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# ---------------------------------------------------------------- the linkset


def test_the_rfc9264_schema_refuses_what_the_rfc_forbids():
    """The schema is a real check: each of these breaks a rule of RFC 9264 section 4.2."""
    good = {"linkset": [{"anchor": "https://x.example/a", "item": [{"href": "/b"}]}]}
    _validate_linkset(good)
    bad = [
        {"links": []},  # 4.2.1: the member is "linkset"
        {"linkset": {"anchor": "https://x.example/a"}},  # 4.2.1: an array
        {"linkset": [{"item": {"href": "/b"}}]},  # 4.2.2: targets in an array
        {"linkset": [{"item": [{"title": "no href"}]}]},  # 4.2.3: href is required
        {"linkset": [{"item": [{"href": "/b", "hreflang": "vi"}]}]},  # 4.2.4.1: an array
        {"linkset": [{"item": [{"href": "/b", "title*": [{"language": "vi"}]}]}]},  # 4.2.4.2
        {"linkset": [{"item": [{"href": "/b", "x-ext": "one"}]}]},  # 4.2.4.3: an array
        {"linkset": [{"Not A Relation": [{"href": "/b"}]}]},  # 4.2.2: a name or a URI
    ]
    for data in bad:
        with pytest.raises(jsonschema.ValidationError):
            _validate_linkset(data)


@pytest.mark.parametrize("how", ["all", "linkset", "accept"])
def test_linkset_is_rfc9264_and_names_every_link(client, lot, how):
    if how == "accept":
        r = client.get(f"/01/{GTIN14}/10/{CODE}", headers={"Accept": "application/linkset+json"})
    else:
        r = client.get(f"/01/{GTIN14}/10/{CODE}", params={"linkType": how})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/linkset+json"
    data = r.json()
    _validate_linkset(data)
    [context] = data["linkset"]
    assert context["anchor"] == ANCHOR
    hrefs = {
        rel: [t["href"] for t in targets] for rel, targets in context.items() if rel != "anchor"
    }
    assert hrefs[VOC + "traceability"] == [PAGE, PAGE + "?lang=en", TRACE_JSON]
    assert hrefs[VOC + "pip"] == [PAGE, PAGE + "?lang=en"]
    assert hrefs[VOC + "epcis"] == [EPCIS]
    assert hrefs[VOC + "defaultLink"] == [PAGE]
    trace_targets = context[VOC + "traceability"]
    assert [t["hreflang"] for t in trace_targets] == [["vi"], ["en"], ["vi", "en"]]
    assert [t["type"] for t in trace_targets] == ["text/html", "text/html", "application/json"]
    assert all(t["title"] for targets in context.values() if isinstance(targets, list)
               for t in targets)  # fmt: skip
    assert context[VOC + "epcis"][0]["type"] == "application/ld+json"
    # Every link leads somewhere that answers.
    for href in {h for hs in hrefs.values() for h in hs}:
        parts = urlsplit(href)
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        assert client.get(path).status_code == 200, href


# ---------------------------------------------------------------- the GTIN in four lengths


@pytest.mark.parametrize("gtin", WRITTEN)
def test_gtin_8_12_13_14_open_the_same_lot(client, lot, gtin):
    r = client.get(f"/01/{gtin}/10/{CODE}")
    assert r.status_code == 200, r.text[:300]
    assert CODE in r.text and "Lúa ST25" in r.text
    r = client.get(f"/01/{gtin}/10/{CODE}", params={"linkType": "all"})
    assert r.json()["linkset"][0]["anchor"] == ANCHOR  # always written in 14 digits


# ---------------------------------------------------------------- link types


@pytest.mark.parametrize(
    "link_type", ["gs1:epcis", "https://gs1.org/voc/epcis", "https://ref.gs1.org/voc/epcis"]
)
def test_link_type_epcis_redirects_to_the_epcis_document(client, lot, link_type):
    r = client.get(
        f"/01/{GTIN14}/10/{CODE}", params={"linkType": link_type}, follow_redirects=False
    )
    assert r.status_code == 307
    assert r.headers["location"] == EPCIS
    assert 'rel="linkset"' in r.headers["link"]
    assert r.headers["access-control-allow-origin"] == "*"
    doc = client.get(urlsplit(EPCIS).path).json()
    assert doc["type"] == "EPCISDocument"


def test_link_type_traceability_follows_language_and_accept(client, lot):
    def location(**kw):
        r = client.get(f"/01/{GTIN14}/10/{CODE}", follow_redirects=False, **kw)
        assert r.status_code == 307
        return r.headers["location"]

    ask = {"params": {"linkType": "gs1:traceability"}}
    assert location(**ask) == PAGE
    assert location(**ask, headers={"Accept-Language": "en-GB,en;q=0.8"}) == PAGE + "?lang=en"
    assert location(params={"linkType": "gs1:traceability", "lang": "en"}) == PAGE + "?lang=en"
    assert location(**ask, headers={"Accept": "application/json"}) == TRACE_JSON
    assert location(params={"linkType": "gs1:pip"}) == PAGE
    assert location(params={"linkType": "gs1:defaultLink"}) == PAGE


def test_a_link_type_the_lot_lacks_goes_to_the_default_link(client, lot):
    # GS1-Conformant Resolver: with nothing better matching the request, the default link.
    for lang, expected in ((None, PAGE), ("en", PAGE + "?lang=en")):
        params = {"linkType": "gs1:recallStatus"} | ({"lang": lang} if lang else {})
        r = client.get(f"/01/{GTIN14}/10/{CODE}", params=params, follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == expected
        assert f"<{EPCIS}>" in r.headers["link"]
        assert r.headers["access-control-allow-origin"] == "*"


def test_without_a_link_type_the_default_link_in_the_readers_language(client, lot):
    r = client.get(f"/01/{GTIN14}/10/{CODE}", follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == PAGE
    link = r.headers["link"]
    assert f'<{ANCHOR}?linkType=linkset>; rel="linkset"; type="application/linkset+json"' in link
    assert f'<{EPCIS}>; rel="{VOC}epcis"' in link
    assert f'<{PAGE}>; rel="{VOC}traceability"' in link
    assert "Accept" in r.headers["vary"] and "Accept-Language" in r.headers["vary"]
    r = client.get(
        f"/01/{GTIN14}/10/{CODE}", headers={"Accept-Language": "en"}, follow_redirects=False
    )
    assert r.headers["location"] == PAGE + "?lang=en"
    # A phone follows it to the page.
    page = client.get(f"/01/{GTIN14}/10/{CODE}", headers={"Accept-Language": "en"})
    assert page.status_code == 200 and "Harvest date" in page.text


def test_a_serial_number_under_the_lot_resolves_to_the_lots_links(client, lot):
    item = f"/01/{GTIN14}/10/{CODE}/21/BAG-0042"
    r = client.get(item, follow_redirects=False)
    assert r.status_code == 307 and r.headers["location"] == PAGE
    linkset = client.get(item, params={"linkType": "all"})
    assert linkset.status_code == 200
    assert linkset.json() == client.get(f"/01/{GTIN14}/10/{CODE}?linkType=all").json()
    r = client.get(item, params={"linkType": "gs1:epcis"}, follow_redirects=False)
    assert r.headers["location"] == EPCIS
    assert client.head(item, follow_redirects=False).status_code == 307
    assert client.options(item).status_code == 204
    # A serial longer than GS1's 20 characters, or outside its character set: 400.
    for bad in ("X" * 21, "BAG%20%2A"):
        r = client.get(f"/01/{GTIN14}/10/{CODE}/21/{bad}", params={"lang": "en"})
        assert r.status_code == 400 and "serial number" in r.text, bad
    assert client.get(f"/01/{GTIN14}/10/NO-SUCH-LOT/21/BAG-1").status_code == 404


# ---------------------------------------------------------------- HEAD, OPTIONS, CORS


def test_head_answers_the_headers_of_get_without_a_body(client, lot):
    got = client.get(f"/01/{GTIN14}/10/{CODE}", params={"linkType": "all"})
    head = client.head(f"/01/{GTIN14}/10/{CODE}", params={"linkType": "all"})
    assert head.status_code == 200 and head.content == b""
    assert client.head(f"/01/{GTIN14}/10/{CODE}", follow_redirects=False).status_code == 307
    for name in ("content-type", "content-length", "link", "access-control-allow-origin"):
        assert head.headers[name] == got.headers[name], name
    assert int(head.headers["content-length"]) == len(got.content)
    r = client.head(
        f"/01/{GTIN14}/10/{CODE}", params={"linkType": "gs1:epcis"}, follow_redirects=False
    )
    assert r.status_code == 307 and r.headers["location"] == EPCIS
    assert client.head(f"/01/{GTIN14[:-1]}5/10/{CODE}").status_code == 400


def test_options_is_a_cors_preflight(client, lot):
    r = client.options(
        f"/01/{GTIN14}/10/{CODE}",
        headers={"Origin": "https://shop.example", "Access-Control-Request-Method": "GET"},
    )
    assert r.status_code == 204
    assert r.headers["access-control-allow-origin"] == "*"
    methods = {m.strip() for m in r.headers["access-control-allow-methods"].split(",")}
    assert {"GET", "HEAD", "OPTIONS"} <= methods
    assert "Accept" in r.headers["access-control-allow-headers"]
    assert "Link" in r.headers["access-control-expose-headers"]


def test_cors_on_every_answer(client, lot):
    for params in ({}, {"linkType": "all"}, {"linkType": "gs1:nothing"}):
        r = client.get(f"/01/{GTIN14}/10/{CODE}", params=params, follow_redirects=False)
        assert r.headers["access-control-allow-origin"] == "*", params
        assert "Link" in r.headers["access-control-expose-headers"], params
    r = client.get(f"/01/{GTIN14[:-1]}1/10/{CODE}")
    assert r.status_code == 400 and r.headers["access-control-allow-origin"] == "*"


# ---------------------------------------------------------------- malformed URIs: 400


MALFORMED = [
    # (path, what the Vietnamese page says, what the English page says)
    (f"/01/{GTIN14[:-1]}5/10/{CODE}", "Số kiểm tra", "check digit"),
    (f"/01/0000009638507A/10/{CODE}", "chỉ được gồm chữ số", "digits only"),
    (f"/01/00000963850749/10/{CODE}", "Số kiểm tra", "check digit"),
    (f"/01/96385074123/10/{CODE}", "có 11 chữ số", "has 11 digits"),
    (f"/01/{GTIN14}/21/{CODE}", "không phải AI 21", "not AI 21"),
    (f"/01/{GTIN14}/10/{'A' * 21}", "tối đa 20 ký tự", "at most 20"),
    (f"/01/{GTIN14}/10/LOT%23A", "Số lô", "lot number"),
]


@pytest.mark.parametrize(("path", "vi", "en"), MALFORMED)
def test_malformed_uri_is_400_in_the_page_language(client, lot, path, vi, en):
    r = client.get(path)
    assert r.status_code == 400, path
    page = _text(r.text)
    assert vi in page and 'lang="vi"' in r.text
    # No English in the Vietnamese page: none of the English strings a 400 page can hold.
    english = [gettext("en", k) for k in ("bad_request_title", "bad_request_text", "lot")]
    for words in english + [en]:
        assert words not in page, words
    for english_page in (
        client.get(path, params={"lang": "en"}),
        client.get(path, headers={"Accept-Language": "en-US,en;q=0.9"}),
    ):
        assert english_page.status_code == 400
        text = _text(english_page.text)
        assert en in text and "Invalid code" in text and vi not in text


def test_a_gtin_without_a_lot(client, lot):
    """The resolver's links are a lot's: a GTIN alone is not found, a bad one is a 400."""
    r = client.get(f"/01/{GTIN8}")
    assert r.status_code == 404 and f"GTIN {GTIN14}" in r.text
    assert r.headers["access-control-allow-origin"] == "*"
    r = client.get(f"/01/{GTIN14[:-1]}0", params={"lang": "en"})
    assert r.status_code == 400 and "check digit" in r.text
    assert client.head(f"/01/{GTIN8}").status_code == 404


def test_unknown_lot_or_another_products_gtin_is_404(client, lot):
    assert client.get(f"/01/{GTIN14}/10/NO-SUCH-LOT").status_code == 404
    # 4006381333931 is a valid GTIN-13, but not this lot's.
    assert client.get(f"/01/4006381333931/10/{CODE}").status_code == 404


def test_a_lot_with_a_gtin_keeps_to_the_gs1_lot_length(client, admin_headers):
    """AI 10 holds at most 20 characters, so a lot with a GTIN cannot have a longer code."""
    body = {"code": "L" * 21, "product_name": "Gạo", "harvested_on": "2026-04-01",
            "quantity_kg": 10, "gtin": GTIN8}  # fmt: skip
    r = client.post("/api/v1/lots", json=body, headers=admin_headers)
    assert r.status_code == 422 and "20" in r.text


# ---------------------------------------------------------------- the description file


def test_well_known_describes_the_resolver(client):
    r = client.get("/.well-known/gs1resolver")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    data = r.json()
    assert data["resolverRoot"] == BASE
    assert data["supportedPrimaryKeys"] == ["01"]
    assert data["supportedLinkType"] == [{"namespace": VOC, "prefix": "gs1:"}]
    assert data["linkTypeDefaultCanBeLinkset"] is False
    assert data["name"]
    assert r.headers["access-control-allow-origin"] == "*"


def test_link_type_names():
    assert resolver.link_type("gs1:epcis") == VOC + "epcis"
    assert resolver.link_type("http://gs1.org/voc/pip") == VOC + "pip"
    assert resolver.link_type("all") == resolver.link_type("linkset") == "linkset"
    assert resolver.curie(VOC + "traceability") == "gs1:traceability"
