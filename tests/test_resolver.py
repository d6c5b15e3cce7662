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
from hypothesis import given, settings
from hypothesis import strategies as st

from traceability import resolver
from traceability.services import trace as svc
from traceability.words import gettext, has_words

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
    """GS1-Conformant Resolver standard: ``linkType=linkset`` (``all`` in Digital Link 1.1) or
    ``Accept: application/linkset+json`` answers every link as an RFC 9264 linkset (4.2)."""
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
    """GS1 Digital Link URI syntax: gtin-value = 14DIGIT / 13DIGIT / 12DIGIT / 8DIGIT, one GTIN
    however written; the canonical URI writes it in 14 digits."""
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
    """GS1-Conformant Resolver standard: ``linkType`` names one link type (``gs1:`` CURIE or
    the full URI in either of GS1's vocabulary namespaces): a redirect to its target."""
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
    """GS1-Conformant Resolver standard: among a link type's targets, the one that fits the
    request's Accept-Language and Accept (RFC 9110 12.5.1, 12.5.4) is chosen."""

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
    """GS1-Conformant Resolver standard: with nothing better matching the request, the
    default link."""
    # GS1-Conformant Resolver: with nothing better matching the request, the default link.
    for lang, expected in ((None, PAGE), ("en", PAGE + "?lang=en")):
        params = {"linkType": "gs1:recallStatus"} | ({"lang": lang} if lang else {})
        r = client.get(f"/01/{GTIN14}/10/{CODE}", params=params, follow_redirects=False)
        assert r.status_code == 307 and r.headers["location"] == expected
        assert f"<{EPCIS}>" in r.headers["link"]
        assert r.headers["access-control-allow-origin"] == "*"


def test_without_a_link_type_the_default_link_in_the_readers_language(client, lot):
    """GS1-Conformant Resolver standard: no ``linkType``, the default link (``gs1:defaultLinkMulti``
    in the reader's language), with the links in an RFC 8288 ``Link`` header."""
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
    """GS1 Digital Link URI syntax: gtin-path = gtin-comp [cpv-comp] [lot-comp] [ser-comp];
    GS1-Conformant Resolver standard: with no links of its own, an identifier answers with
    those of the less specific one (here the lot); ser-value = 1*20XCHAR."""
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
    """RFC 9110 9.3.2: HEAD answers as GET would, without the content."""
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
    """GS1-Conformant Resolver standard: answers readable from any origin; a CORS preflight
    (Fetch standard, CORS protocol) is an OPTIONS answered with the allowed methods."""
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
    """GS1-Conformant Resolver standard: every answer, 400s included, carries CORS headers
    and exposes ``Link``."""
    for params in ({}, {"linkType": "all"}, {"linkType": "gs1:nothing"}):
        r = client.get(f"/01/{GTIN14}/10/{CODE}", params=params, follow_redirects=False)
        assert r.headers["access-control-allow-origin"] == "*", params
        assert "Link" in r.headers["access-control-expose-headers"], params
    r = client.get(f"/01/{GTIN14[:-1]}1/10/{CODE}")
    assert r.status_code == 400 and r.headers["access-control-allow-origin"] == "*"


# ---------------------------------------------------------------- malformed URIs: 400


# A GRAI (AI 8003, N14+X..16): the filler 0, the 12 digits 387058500055, their check digit
# and the serial 987. Check digit by hand, weights 3,1,3,... from the right of the body:
# 5·3+5+0·3+0+0·3+5+8·3+5+0·3+7+8·3+3 = 88, so 2.
GRAI = "0" + "387058500055" + "2" + "987"
# SSCC 106141412345678908 is GS1's own example (General Specifications, 3.3.1);
# GTIN 0000009638507-4 is the test's, so -5 is wrong.

MALFORMED = [
    # (path and query, what the Vietnamese page says, what the English page says)
    # DL URI syntax, gtin-value = 14DIGIT / 13DIGIT / 12DIGIT / 8DIGIT, with its check digit
    # (GS1 General Specifications 7.9.1).
    (f"/01/{GTIN14[:-1]}5/10/{CODE}", "Số kiểm tra", "check digit"),
    (f"/01/0000009638507A/10/{CODE}", "chỉ được gồm chữ số", "digits only"),
    (f"/01/00000963850749/10/{CODE}", "Số kiểm tra", "check digit"),
    (f"/01/96385074123/10/{CODE}", "có 11 chữ số", "has 11 digits"),
    # gtin-path = gtin-comp [cpv-comp] [lot-comp] [ser-comp]: only 22, 10, 21 follow a GTIN,
    # in that order, each at most once; upui-path = gtin-comp tpx-comp: 235 alone.
    (f"/01/{GTIN14}/99/X", "AI 99 không thể đứng sau", "AI 99 cannot follow"),
    (f"/01/{GTIN14}/21/S1/10/{CODE}", "AI 10 sai thứ tự", "AI 10 is out of order"),
    (f"/01/{GTIN14}/10/{CODE}/22/V1", "AI 22 sai thứ tự", "AI 22 is out of order"),
    (f"/01/{GTIN14}/10/{CODE}/10/{CODE}", "AI 10 sai thứ tự", "AI 10 is out of order"),
    (f"/01/{GTIN14}/10/{CODE}/235/T1", "AI 235 sai thứ tự", "AI 235 is out of order"),
    # gtin-comp = "/" gtin-code "/" gtin-value; *-comp = "/" code "/" value: no empty part.
    ("/01", "Thiếu mã GTIN", "GTIN is missing"),
    ("/01/", "Thiếu mã GTIN", "GTIN is missing"),
    (f"/01/{GTIN14}/10/", "từng cặp mã AI và giá trị", "pairs of an AI and its value"),
    (f"/01/{GTIN14}/badrequest", "từng cặp mã AI và giá trị", "pairs of an AI and its value"),
    (f"/01/{GTIN14}/10/{CODE}/", "từng cặp mã AI và giá trị", "pairs of an AI and its value"),
    (f"/01/{GTIN14}//10/{CODE}", "từng cặp mã AI và giá trị", "pairs of an AI and its value"),
    # lot-value = ser-value = cpv-value = 1*20XCHAR (the 82 characters of GS1's set).
    (f"/01/{GTIN14}/10/{'A' * 21}", "tối đa 20 ký tự", "at most 20"),
    (f"/01/{GTIN14}/10/LOT%23A", "Số lô", "lot number"),
    (f"/01/{GTIN14}/22/{'V' * 21}", "của AI 22 không hợp lệ", "of AI 22 is not valid"),
    # Data attributes: a known AI (GS1 General Specifications 3.2), in its format, dates
    # that are dates, keys with their check digit; no AI twice; key qualifiers in the path.
    (f"/01/{GTIN14}/10/{CODE}?23=1", "“23” không phải là một mã AI", "“23” is not a GS1"),
    (f"/01/{GTIN14}/10/{CODE}?17=261331", "định dạng N2+N6", "its format N2+N6"),
    (f"/01/{GTIN14}/10/{CODE}?17=260230", "định dạng N2+N6", "its format N2+N6"),
    (f"/01/{GTIN14}/10/{CODE}?3103=1", "định dạng N4+N6", "its format N4+N6"),
    (f"/01/{GTIN14}/10/{CODE}?02=00000096385075", "Số kiểm tra trong", "check digit in"),
    (f"/01/{GTIN14}/10/{CODE}?00=106141412345678909", "Số kiểm tra trong", "check digit in"),
    (f"/01/{GTIN14}/10/{CODE}?8003={GRAI[:13]}3987", "Số kiểm tra trong", "check digit in"),
    (f"/01/{GTIN14}/10/{CODE}?17=261231&17=270101", "AI 17 xuất hiện hai lần", "appears twice"),
    (f"/01/{GTIN14}/10/{CODE}?10={CODE}", "AI 10 xuất hiện hai lần", "appears twice"),
    (f"/01/{GTIN14}/10/{CODE}?01={GTIN14}", "AI 01 xuất hiện hai lần", "appears twice"),
    (f"/01/{GTIN14}?10={CODE}", "phải nằm trong đường dẫn", "belongs in the path"),
    (f"/01/{GTIN14}/10/{CODE}?21=BAG-1", "phải nằm trong đường dẫn", "belongs in the path"),
    # No answer of the API's own for a query the resolver cannot take.
    (f"/01/{GTIN14}/10/{CODE}?linkType={'x' * 201}", "quá dài", "too long"),
]


@pytest.mark.parametrize(("path", "vi", "en"), MALFORMED)
def test_malformed_uri_is_400_in_the_page_language(client, lot, path, vi, en):
    """GS1-Conformant Resolver standard: a request that is not a valid GS1 Digital Link URI
    answers 400 (here the resolver's page, in the reader's language, naming the problem);
    what is valid is the GS1 Digital Link URI syntax's (clause by clause in MALFORMED)."""
    r = client.get(path)
    assert r.status_code == 400, path
    assert r.headers["content-type"].startswith("text/html"), path  # never the API's JSON
    assert r.headers["access-control-allow-origin"] == "*"
    page = _text(r.text)
    assert vi in page and 'lang="vi"' in r.text
    # No English in the Vietnamese page: none of the English strings a 400 page can hold.
    english = [gettext("en", k) for k in ("bad_request_title", "bad_request_text", "lot")]
    for words in english + [en]:
        assert words not in page, words
    for english_page in (
        client.get(path + ("&" if "?" in path else "?") + "lang=en"),
        client.get(path, headers={"Accept-Language": "en-US,en;q=0.9"}),
    ):
        assert english_page.status_code == 400
        text = _text(english_page.text)
        assert en in text and "Invalid code" in text and vi not in text


def test_a_gtin_without_a_lot(client, lot):
    """The resolver's links are a lot's: a GTIN alone is not found, a bad one is a 400."""
    r = client.get(f"/01/{GTIN8}")
    assert r.status_code == 404 and f"(01) {GTIN14}" in r.text
    assert r.headers["access-control-allow-origin"] == "*"
    r = client.get(f"/01/{GTIN14[:-1]}0", params={"lang": "en"})
    assert r.status_code == 400 and "check digit" in r.text
    assert client.head(f"/01/{GTIN8}").status_code == 404


def test_unknown_lot_or_another_products_gtin_is_404(client, lot):
    """GS1-Conformant Resolver standard: a valid identifier the resolver has no links for
    answers 404; another product's GTIN with this lot is such an identifier."""
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
    """GS1-Conformant Resolver standard: the resolver description file at
    ``/.well-known/gs1resolver`` (name, resolverRoot, supportedPrimaryKeys, link types)."""
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
    """GS1 Web vocabulary: a link type as a ``gs1:`` CURIE or a full URI under
    https://gs1.org/voc/ (or https://ref.gs1.org/voc/); ``all``/``linkset`` ask for all."""
    assert resolver.link_type("gs1:epcis") == VOC + "epcis"
    assert resolver.link_type("http://gs1.org/voc/pip") == VOC + "pip"
    assert resolver.link_type("all") == resolver.link_type("linkset") == "linkset"
    assert resolver.curie(VOC + "traceability") == "gs1:traceability"


# ---------------------------------------------------------------- valid URIs the record lacks


def test_a_serialised_item_under_the_gtin_is_valid_and_not_found(client, lot):
    """GS1 Digital Link URI syntax: gtin-path = gtin-comp [cpv-comp] [lot-comp] [ser-comp],
    so /01/{gtin}/21/{serial} (an SGTIN) is valid without a lot. GS1-Conformant Resolver
    standard: a valid identifier the resolver has no links for answers 404. The record
    keeps lots, not serial numbers: 404, in the reader's language, never a 400."""
    item = f"/01/{GTIN14}/21/BAG-0042"
    r = client.get(item, follow_redirects=False)
    assert r.status_code == 404 and r.headers["content-type"].startswith("text/html")
    page = _text(r.text)
    assert gettext("vi", "not_found_title") in page and 'lang="vi"' in r.text
    assert f"(01) {GTIN14} (21) BAG-0042" in page
    english = client.get(item, headers={"Accept-Language": "en"})
    assert english.status_code == 404 and "Lot not found" in _text(english.text)
    assert r.headers["access-control-allow-origin"] == "*"
    # Written in 8 digits, it is the same item: still valid, still not found.
    assert client.get(f"/01/{GTIN8}/21/BAG-0042").status_code == 404
    assert client.head(item).status_code == 404
    assert client.options(item).status_code == 204
    # A valid serial with a data attribute; and a serial that breaks ser-value = 1*20XCHAR.
    assert client.get(item + "?17=261231").status_code == 404
    assert client.get(f"/01/{GTIN14}/21/{'S' * 21}").status_code == 400


@pytest.mark.parametrize(
    "path",
    [
        f"/01/{GTIN14}/22/V1",  # a consumer product variant (cpv-comp)
        f"/01/{GTIN14}/22/V1/10/{CODE}",  # the lot of a variant: not the lot the record has
        f"/01/{GTIN14}/22/V1/10/{CODE}/21/S1",
        f"/01/{GTIN14}/235/TPX-1",  # upui-path = gtin-comp tpx-comp
        f"/01/{GTIN8}",
    ],
)
def test_valid_identifiers_the_record_lacks_are_404(client, lot, path):
    """GS1-Conformant Resolver standard: a syntactically valid GS1 Digital Link URI whose
    identifier the resolver has no links for answers 404 (not 400), on the resolver's page."""
    r = client.get(path, params={"lang": "en"})
    assert r.status_code == 404, path
    assert r.headers["content-type"].startswith("text/html")
    # The page names what was asked for in GS1's human-readable form: (AI) value.
    assert "Lot not found" in _text(r.text) and f"(01) {GTIN14}" in _text(r.text)


@pytest.mark.parametrize(
    "query",
    [
        "17=261231",  # expiry 31 Dec 2026 (N2+N6)
        "3103=000195",  # net weight 0.195 kg (N4+N6)
        f"8003={GRAI}",  # a returnable asset, its check digit right
        "00=106141412345678908",  # GS1's example SSCC
        "17=261231&linkType=gs1:epcis&lang=en",
    ],
)
def test_valid_data_attributes_leave_the_answer_as_it_is(client, lot, query):
    """GS1 Digital Link URI syntax: data attributes ride in the query string; they describe
    the item and do not change which identifier the resolver answers for."""
    r = client.get(f"/01/{GTIN14}/10/{CODE}?{query}", follow_redirects=False)
    assert r.status_code == 307, query
    expected = EPCIS if "linkType=gs1:epcis" in query else PAGE
    assert r.headers["location"] == expected


def test_no_path_under_the_resolvers_prefix_meets_the_apis_json(client, lot):
    """GS1-Conformant Resolver standard: a request that is not a valid GS1 Digital Link URI
    answers 400; under /01 every path is the resolver's, so none gets the API's JSON 404."""
    for path in ("/01", "/01/", f"/01/{GTIN14}/10/", f"/01/{GTIN14}/badrequest",
                 f"/01/{GTIN14}/10/{CODE}/21", f"/01/{GTIN14}/10/{CODE}/21/S1/x/y"):  # fmt: skip
        for method in ("GET", "HEAD"):
            r = client.request(method, path)
            assert r.status_code == 400, (method, path)
            assert r.headers["content-type"].startswith("text/html"), (method, path)
            assert "detail" not in r.text
        assert client.options(path).status_code == 204, path


# ---------------------------------------------------------------- against GS1's examples and biip

# Worked by hand: GTIN 0952012345678-8 (weights 3,1,... from the right of the body:
# 8·3+7+6·3+5+4·3+3+2·3+1+0·3+2+5·3+9+0·3 = 102, so 8) and 0952123454321-3 (77, so 3).
GS1_EXAMPLES = [
    # (URI from GS1's Digital Link documents, the identifier it names)
    (
        "https://id.gs1.org/01/09520123456788/10/ABC123/21/12345?17=180426",
        resolver.Identifier(
            "09520123456788", lot="ABC123", serial="12345", attributes=(("17", "180426"),)
        ),
    ),  # fmt: skip
    (
        "https://id.gs1.org/01/09521234543213/10/ABC123/21/12345",
        resolver.Identifier("09521234543213", lot="ABC123", serial="12345"),
    ),
    (
        "https://id.gs1.org/01/09520123456788/22/2A",
        resolver.Identifier("09520123456788", cpv="2A"),
    ),
    (
        "https://id.gs1.org/01/09520123456788/21/12345",
        resolver.Identifier("09520123456788", serial="12345"),
    ),
    (
        "https://id.gs1.org/01/09520123456788?3103=000195",
        resolver.Identifier("09520123456788", attributes=(("3103", "000195"),)),
    ),
]


@pytest.mark.parametrize(("uri", "expected"), GS1_EXAMPLES)
def test_gs1s_example_uris_parse_to_what_they_name(uri, expected):
    """GS1 Digital Link URI syntax, examples of its GTIN paths (gtin-path with cpv-comp,
    lot-comp and ser-comp) and of data attributes in the query string."""
    parts = urlsplit(uri)
    query = [tuple(pair.split("=", 1)) for pair in parts.query.split("&") if pair]
    assert resolver.parse_uri(parts.path, query) == expected


def _biip_accepts(uri: str) -> bool:
    from biip import ParseError
    from biip.gs1_digital_link_uris import GS1DigitalLinkURI

    try:
        parsed = GS1DigitalLinkURI.parse(uri)
    except ParseError:
        return False
    # biip keeps a key's wrong check digit as an error on the element, not as a failure.
    return not any(e.gtin_error or e.gln_error or e.sscc_error for e in parsed.element_strings)


def _ours_accepts(uri: str) -> bool:
    parts = urlsplit(uri)
    query = [tuple(pair.split("=", 1)) for pair in parts.query.split("&") if pair]
    try:
        resolver.parse_uri(parts.path, query)
    except resolver.BadLink:
        return False
    return True


AGREED = [
    f"{BASE}/01/{GTIN14}",
    f"{BASE}/01/{GTIN8}/10/{CODE}",
    f"{BASE}/01/{GTIN14}/10/{CODE}/21/BAG-1",
    f"{BASE}/01/{GTIN14}/21/BAG-1",
    f"{BASE}/01/{GTIN14}/22/V1/10/L1/21/S1",
    f"{BASE}/01/{GTIN14}/235/T1",
    f"{BASE}/01/{GTIN14}/10/LOT%2F7",  # an encoded '/' inside the lot
    f"{BASE}/01/{GTIN14}/10/{CODE}?17=261231&3103=000195",
    f"{BASE}/01/{GTIN14}/10/{CODE}?linkType=all",
    f"{BASE}/01/{GTIN14}/10/{CODE}?00=106141412345678908",
    f"{BASE}/01/{GTIN14[:-1]}5/10/{CODE}",
    f"{BASE}/01/0000009638507A",
    f"{BASE}/01/{GTIN14}/10/",
    f"{BASE}/01/{GTIN14}/10/{'A' * 21}",
    f"{BASE}/01/{GTIN14}/10/LOT%23A",
    f"{BASE}/01/{GTIN14}/21/S1/10/L1",
    f"{BASE}/01/{GTIN14}/10/L1/22/V1",
    f"{BASE}/01/{GTIN14}/99/X",
    f"{BASE}/01/{GTIN14}/10/{CODE}?17=261331",
    f"{BASE}/01/{GTIN14}/10/{CODE}?17=260230",
    f"{BASE}/01/{GTIN14}/10/{CODE}?02=00000096385075",
    f"{BASE}/01/{GTIN14}/10/{CODE}?00=106141412345678909",
]


@pytest.mark.parametrize("uri", AGREED)
def test_valid_and_invalid_as_biip_reads_them(uri):
    """An independent parser of GS1 Digital Link URIs (biip's GS1DigitalLinkURI) takes and
    refuses the same URIs, for the path grammar, formats, dates and check digits."""
    assert _ours_accepts(uri) == _biip_accepts(uri), uri


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        (f"{BASE}/01/{GTIN14}/10/L1/235/T1", "235 follows a GTIN alone (upui-path)"),
        (f"{BASE}/01/{GTIN14}/10/L1?17=261231&17=270101", "no AI twice in one URI"),
        (f"{BASE}/01/{GTIN14}?10=L1", "a key qualifier belongs in the path"),
        (f"{BASE}/01/{GTIN14}/10/L1?8003={GRAI[:13]}3987", "a GRAI's check digit"),
    ],
)
def test_where_the_resolver_is_stricter_than_biip(uri, why):
    """biip takes these; the resolver refuses them, each for a rule of the standards:
    GS1 Digital Link URI syntax (upui-path = gtin-comp tpx-comp; key qualifiers are path
    components; each AI once) and GS1 General Specifications 7.9 (every key's check digit)."""
    assert _biip_accepts(uri), why
    assert not _ours_accepts(uri), why


_SEGMENT = st.one_of(
    st.sampled_from(["01", "10", "21", "22", "235", "99", GTIN14, GTIN8, CODE, "", "%2F", "%"]),
    st.text(max_size=24),
)
_QUERY = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(["17", "10", "01", "02", "00", "8003", "3103", "23"]),
                  st.text(max_size=5)),
        st.text(max_size=24),
    ),
    max_size=4,
)  # fmt: skip


@settings(max_examples=400, derandomize=True, deadline=None, database=None)
@given(segments=st.lists(_SEGMENT, max_size=8), query=_QUERY)
def test_any_request_under_01_is_read_or_refused_with_words_for_it(segments, query):
    """GS1-Conformant Resolver standard: whatever arrives under the prefix is either a valid
    GS1 Digital Link URI or a 400 naming the problem; here, for any path and query, the
    reader gives an identifier or a BadLink whose key has words in both languages."""
    try:
        found = resolver.parse_uri("/" + "/".join(["01", *segments]), query)
    except resolver.BadLink as exc:
        for lang in ("vi", "en"):
            assert has_words(lang, exc.key), exc.key
            # A placeholder the details lack would raise here (and be a 500 there).
            words = gettext(lang, exc.key, **exc.details)
            assert words and words != exc.key
        return
    assert len(found.gtin) == 14 and found.gtin.isdigit()
    assert found.hri().startswith(f"(01) {found.gtin}")
