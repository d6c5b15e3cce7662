"""The GS1-conformant resolver of a lot's Digital Link, as pure functions.

``{base}/01/{gtin}/10/{lot}`` is what a lot's QR code carries. Following the GS1
Digital Link standard (1.1, chapter 7) and the GS1-Conformant Resolver standard, the
resolver answers it with:

- the lot's trace page (its default link) when nothing more is asked;
- a redirect (307) to one link when ``?linkType=gs1:...`` names a link type it has;
- the lot's links as an RFC 9264 linkset (``application/linkset+json``) for
  ``?linkType=all`` (or ``linkset``), or for ``Accept: application/linkset+json``;
- ``404`` for a link type the lot does not have (the standard lets a resolver answer
  the default link or ``404``; a client that asked for one kind of data should not be
  handed another kind silently), with the lot's links still in the ``Link`` header;
- ``400`` for a URI that is not a valid GS1 Digital Link URI (:func:`parse_uri` follows
  the GS1 Digital Link URI syntax: the GTIN's key qualifiers 22, 10, 21 in that order or
  235 alone, each value in its format; data attributes in the query string a known AI,
  in its format, with its check digit, none twice);
- ``404`` for a valid identifier the record has no links for: a GTIN alone, a variant
  (AI 22), or an item's serial (AI 21) without its lot.

``/.well-known/gs1resolver`` describes the resolver (:func:`description`). Nothing
here knows about HTTP frameworks or the database: the API turns these values into
answers. Errors are :class:`BadLink` with a message key the pages translate.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import quote, unquote

from traceability import gs1
from traceability.words import N_, gettext

GS1_VOC = "https://gs1.org/voc/"
# GS1 publishes its vocabulary under both names; a client may send either.
_VOC_ALIASES = ("https://gs1.org/voc/", "https://ref.gs1.org/voc/", "http://gs1.org/voc/")
LINKSET_TYPE = "application/linkset+json"
# A request for the whole set of links, not one of them (DL 1.1 says "all", later "linkset").
LINKSET_REQUESTS = frozenset({"all", "linkset", "gs1:linkset", GS1_VOC + "linkset"})
# AI 10 (batch/lot): at most 20 characters of GS1 AI encodable character set 82.
LOT_MAX_LENGTH = 20
SERIAL_MAX_LENGTH = 20  # AI 21, the same alphanumeric set (GS1 General Specifications)
# The key qualifiers of a GTIN, in the order the path must give them (GS1 Digital Link
# URI syntax: gtin-path = gtin-comp [cpv-comp] [lot-comp] [ser-comp]), and AI 235, which
# follows a GTIN alone (upui-path = gtin-comp tpx-comp).
GTIN_QUALIFIERS = ("22", "10", "21")
TPX = "235"
# A linkType longer than any link type URI is no request for one.
LINK_TYPE_MAX_LENGTH = 200
# Each qualifier's longest value: X..20 for 22, 10 and 21, X..28 for 235.
_MAX_LENGTH = {"22": 20, "10": LOT_MAX_LENGTH, "21": SERIAL_MAX_LENGTH, TPX: 28}
CSET82 = frozenset(
    "!\"%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"
)
RESOLVER_NAME = "agritrace GS1 resolver"
SUPPORTED_KEYS = ("01",)
# The languages of the trace page, Vietnamese first.
LANGUAGES = ("vi", "en")


class BadLink(ValueError):
    """A URI that is not a valid GS1 Digital Link of a lot; ``key`` names the problem."""

    def __init__(self, key: str, **details: str):
        super().__init__(key)
        self.key = key
        self.details = details


@dataclass(frozen=True, slots=True)
class Link:
    """One target of one link type, as RFC 9264 writes it."""

    rel: str  # the link type's full URI
    href: str
    type: str
    hreflang: tuple[str, ...]
    title: str

    def target(self) -> dict:
        """The RFC 9264 target object."""
        return {
            "href": self.href,
            "type": self.type,
            "hreflang": list(self.hreflang),
            "title": self.title,
        }


@dataclass(frozen=True, slots=True)
class Identifier:
    """What a GS1 Digital Link URI under ``/01`` names: a GTIN, its key qualifiers, and
    the data attributes of its query string (``(AI, value)`` pairs, in order)."""

    gtin: str  # 14 digits
    cpv: str | None = None  # AI 22, consumer product variant
    lot: str | None = None  # AI 10, batch/lot
    serial: str | None = None  # AI 21, serial number
    tpx: str | None = None  # AI 235, third-party controlled serial
    attributes: tuple[tuple[str, str], ...] = ()

    def hri(self) -> str:
        """The identifier in GS1's human-readable interpretation, AIs in brackets.

        >>> Identifier("00000096385074", serial="BAG-1").hri()
        '(01) 00000096385074 (21) BAG-1'
        """
        pairs = [("01", self.gtin), ("22", self.cpv), ("10", self.lot), ("21", self.serial),
                 (TPX, self.tpx)]  # fmt: skip
        return " ".join(f"({ai}) {value}" for ai, value in pairs if value is not None)


def parse_uri(path: str, query: Iterable[tuple[str, str]] = ()) -> Identifier:
    """The identifier a request under ``/01`` names; :class:`BadLink` naming the problem.

    ``path`` is the raw (still percent-encoded) path from ``/01`` on; ``query`` the
    decoded query parameters. The path follows the GS1 Digital Link URI syntax
    (``gtin-path = gtin-comp [cpv-comp] [lot-comp] [ser-comp]``, or ``upui-path =
    gtin-comp tpx-comp``); numeric query keys are data attributes: a known AI, in its
    format, with a right check digit, and no AI twice in one URI. Other query
    parameters (``linkType``, ``lang``, ``context`` ...) are left to the caller.

    >>> parse_uri("/01/96385074/10/LOT%2F7")
    Identifier(gtin='00000096385074', cpv=None, lot='LOT/7', serial=None, tpx=None, attributes=())
    >>> parse_uri("/01/96385074/21/BAG-1", [("17", "261231"), ("linkType", "all")]).attributes
    (('17', '261231'),)
    >>> for bad in ("/01/96385075/10/L1", "/01/96385074/21/S1/10/L1", "/01/9638507A",
    ...             "/01/96385074/10/"):
    ...     try:
    ...         parse_uri(bad)
    ...     except BadLink as exc:
    ...         print(exc.key, exc.details)
    bad_check_digit {'gtin': '96385075', 'expected': '4'}
    qualifier_order {'ai': '10'}
    gtin_not_digits {'gtin': '9638507A'}
    path_shape {}
    """
    pairs = _pairs(path)
    gtin = check_gtin(pairs[0][1])
    qualifiers = _qualifiers(pairs[1:])
    attributes = _attributes(query, seen={"01", *qualifiers})
    return Identifier(
        gtin,
        cpv=qualifiers.get("22"),
        lot=qualifiers.get("10"),
        serial=qualifiers.get("21"),
        tpx=qualifiers.get(TPX),
        attributes=attributes,
    )


def _pairs(path: str) -> list[tuple[str, str]]:
    """``/01/{gtin}/{ai}/{value}...`` as (AI, decoded value) pairs."""
    segments = path.split("/")[1:]
    if segments[:1] != ["01"]:
        raise BadLink("path_shape")
    if len(segments) < 2 or not segments[1]:
        raise BadLink("gtin_missing")
    # Pairs of an AI and a value, none empty: a trailing '/' or a '//' is no Digital Link.
    if len(segments) % 2 or "" in segments:
        raise BadLink("path_shape")
    # Split before decoding, so that an encoded '/' (%2F) stays inside its value.
    return [(segments[i], unquote(segments[i + 1])) for i in range(0, len(segments), 2)]


def check_gtin(gtin: str) -> str:
    """A GTIN-8/12/13/14 of a request path as 14 digits; :class:`BadLink` if malformed."""
    if not (gtin.isascii() and gtin.isdigit()):
        raise BadLink("gtin_not_digits", gtin=gtin)
    if len(gtin) not in gs1.GTIN_LENGTHS:
        raise BadLink("gtin_length", gtin=gtin, length=str(len(gtin)))
    expected = gs1.check_digit(gtin[:-1])
    if expected != int(gtin[-1]):
        raise BadLink("bad_check_digit", gtin=gtin, expected=str(expected))
    return gtin.zfill(14)


def _qualifiers(pairs: list[tuple[str, str]]) -> dict[str, str]:
    """The key qualifiers after the GTIN: 22, 10, 21 in that order, or 235 alone."""
    found: dict[str, str] = {}
    for ai, value in pairs:
        if ai not in _MAX_LENGTH:
            raise BadLink("bad_ai", ai=ai)
        if ai == TPX:
            in_order = not found
        else:
            rank = GTIN_QUALIFIERS.index(ai)
            in_order = all(q != TPX and GTIN_QUALIFIERS.index(q) < rank for q in found)
        if not in_order:  # out of order, repeated, or beside 235
            raise BadLink("qualifier_order", ai=ai)
        _check_value(ai, value)
        found[ai] = value
    return found


def _check_value(ai: str, value: str) -> None:
    """A key qualifier's value: 1 to its maximum characters of GS1's set of 82."""
    longest = _MAX_LENGTH[ai]
    if not value or len(value) > longest or not set(value) <= CSET82:
        key = {"10": "bad_lot", "21": "bad_serial"}.get(ai, "bad_value")
        raise BadLink(key, ai=ai, value=value, lot=value, serial=value, max=str(longest))


def _attributes(query: Iterable[tuple[str, str]], seen: set[str]) -> tuple[tuple[str, str], ...]:
    """The data attributes (numeric keys) of a query string, each checked."""
    found = []
    for key, value in query:
        if not (key.isascii() and key.isdigit()):
            continue  # not an AI: linkType, lang, context and the like
        if key in seen:
            raise BadLink("repeated_ai", ai=key)
        if key in _MAX_LENGTH:
            raise BadLink("qualifier_in_query", ai=key)
        seen.add(key)
        found.append((key, check_attribute(key, value)))
    return tuple(found)


def check_attribute(ai: str, value: str) -> str:
    """A data attribute's value: a known AI, in its format, with a right check digit.

    The AI table, formats and dates are GS1's as ``biip`` carries them (GS1 General
    Specifications, section 3); check digits are verified for the GS1 keys.

    >>> check_attribute("17", "261231")
    '261231'
    >>> for ai, value in (("17", "261331"), ("23", "1"), ("02", "00000096385075")):
    ...     try:
    ...         check_attribute(ai, value)
    ...     except BadLink as exc:
    ...         print(exc.key, exc.details)
    bad_ai_format {'ai': '17', 'value': '261331', 'format': 'N2+N6'}
    unknown_ai {'ai': '23'}
    bad_ai_check {'ai': '02', 'value': '00000096385075'}
    """
    # Imported on first use: biip's tables of GS1 prefixes take a third of a second to
    # load, which every start of the server (and of the demo) paid before any query AI.
    from biip import ParseError
    from biip.gs1_application_identifiers import GS1ApplicationIdentifier
    from biip.gs1_element_strings import GS1ElementString

    try:
        known = GS1ApplicationIdentifier.extract(ai)
    except ParseError:
        known = None
    if known is None or known.ai != ai:
        raise BadLink("unknown_ai", ai=ai)
    if not re.fullmatch(known.pattern, ai + value):
        raise BadLink("bad_ai_format", ai=ai, value=value, format=known.format)
    try:
        element = GS1ElementString.parse(ai + value)
    except ParseError:  # a date that is no date, such as 30 February
        raise BadLink("bad_ai_format", ai=ai, value=value, format=known.format) from None
    checked = not (element.gtin_error or element.gln_error or element.sscc_error)
    if not (checked and _keys_check(ai, value)):
        raise BadLink("bad_ai_check", ai=ai, value=value)
    return value


# The digits that end in a GS1 check digit in the keys biip does not check itself
# (GS1 General Specifications, 3.2: GDTI, GCN, GSIN, GRAI, ITIP, GSRN).
_KEY_DIGITS = {
    "253": slice(0, 13),
    "255": slice(0, 13),
    "402": slice(0, 17),
    "8003": slice(1, 14),
    "8006": slice(0, 14),
    "8017": slice(0, 18),
    "8018": slice(0, 18),
    "8026": slice(0, 14),
}


def _keys_check(ai: str, value: str) -> bool:
    digits = value[_KEY_DIGITS[ai]] if ai in _KEY_DIGITS else ""
    return not digits or gs1.check_digit(digits[:-1]) == int(digits[-1])


def link_type(value: str | None) -> str | None:
    """A requested ``linkType`` as a full URI, ``"linkset"``, or None for the default.

    >>> link_type("gs1:epcis"), link_type("https://ref.gs1.org/voc/pip"), link_type("all")
    ('https://gs1.org/voc/epcis', 'https://gs1.org/voc/pip', 'linkset')
    >>> link_type(None), link_type("")
    (None, None)
    """
    if not value:
        return None
    if value in LINKSET_REQUESTS:
        return "linkset"
    if value.startswith("gs1:"):
        return GS1_VOC + value[4:]
    for alias in _VOC_ALIASES:
        if value.startswith(alias):
            return GS1_VOC + value[len(alias) :]
    return value


def curie(uri: str) -> str:
    """``https://gs1.org/voc/epcis`` → ``gs1:epcis``; other URIs unchanged."""
    return "gs1:" + uri[len(GS1_VOC) :] if uri.startswith(GS1_VOC) else uri


_TITLES = {
    "traceability": N_("link.traceability"),
    "traceability_json": N_("link.traceability_json"),
    "pip": N_("link.pip"),
    "epcis": N_("link.epcis"),
}


def lot_links(base_url: str, code: str, product_name: str) -> list[Link]:
    """Every link of a lot: its trace page (each language), trace JSON, EPCIS document."""
    base = base_url.rstrip("/")
    lot = quote(code, safe="")
    page = f"{base}/t/{lot}"
    html = "text/html"
    links = []
    for lang in LANGUAGES:
        href = page if lang == "vi" else f"{page}?lang=en"
        title = f"{gettext(lang, _TITLES['traceability'])}: {product_name}"
        links.append(Link(GS1_VOC + "traceability", href, html, (lang,), title))
    links.append(
        Link(
            GS1_VOC + "traceability",
            f"{base}/api/v1/trace/{lot}",
            "application/json",
            LANGUAGES,
            gettext("en", _TITLES["traceability_json"]),
        )
    )
    for lang in LANGUAGES:
        href = page if lang == "vi" else f"{page}?lang=en"
        links.append(Link(GS1_VOC + "pip", href, html, (lang,), gettext(lang, _TITLES["pip"])))
    links.append(
        Link(
            GS1_VOC + "epcis",
            f"{base}/api/v1/lots/{lot}/epcis",
            "application/ld+json",
            LANGUAGES,
            gettext("en", _TITLES["epcis"]),
        )
    )
    default = links[0]
    links.append(Link(GS1_VOC + "defaultLink", *_rest(default)))
    links += [Link(GS1_VOC + "defaultLinkMulti", *_rest(x)) for x in links[:2]]
    return links


def _rest(link: Link) -> tuple[str, str, tuple[str, ...], str]:
    return link.href, link.type, link.hreflang, link.title


def linkset(anchor: str, links: list[Link]) -> dict:
    """The RFC 9264 JSON linkset of ``anchor``: one link context, targets grouped by type.

    Nothing but the anchor and link types in the context: RFC 9264 gives every other
    member of a link context object the meaning of a link relation type.
    """
    context: dict = {"anchor": anchor}
    for link in links:
        context.setdefault(link.rel, []).append(link.target())
    return {"linkset": [context]}


def choose(links: list[Link], rel: str, lang: str, accept: str = "") -> Link | None:
    """The target of link type ``rel`` that best fits the language and ``Accept``.

    A target whose media type the client named in ``Accept`` wins; then one in the
    client's language; then the first. None if the lot has no link of that type.
    """
    found = [x for x in links if x.rel == rel]
    if not found:
        return None
    accepted = [x for x in found if x.type in accept]
    in_lang = [x for x in accepted or found if lang in x.hreflang]
    return (in_lang or accepted or found)[0]


def default_link(links: list[Link], lang: str) -> Link:
    """The lot's default link in ``lang`` if it has one there (``defaultLinkMulti``), else
    its one ``defaultLink``."""
    multi = [x for x in links if x.rel == GS1_VOC + "defaultLinkMulti" and lang in x.hreflang]
    return (multi or [x for x in links if x.rel == GS1_VOC + "defaultLink"])[0]


def link_header(anchor: str, links: list[Link]) -> str:
    """An RFC 8288 ``Link`` header: the linkset itself and one entry per distinct target.

    Only the linkset and the distinct targets of non-default types are listed, to keep
    the header short enough for any proxy.
    """
    parts = [f'<{anchor}?linkType=linkset>; rel="linkset"; type="{LINKSET_TYPE}"']
    seen = set()
    for x in links:
        if x.rel.startswith(GS1_VOC + "defaultLink") or (x.rel, x.href) in seen:
            continue
        seen.add((x.rel, x.href))
        lang = ",".join(x.hreflang)
        parts.append(f'<{x.href}>; rel="{x.rel}"; type="{x.type}"; hreflang="{lang}"')
    return ", ".join(parts)


def description(resolver_root: str) -> dict:
    """The resolver description file served at ``/.well-known/gs1resolver``."""
    return {
        "name": RESOLVER_NAME,
        "resolverRoot": resolver_root.rstrip("/"),
        "supportedPrimaryKeys": list(SUPPORTED_KEYS),
        "supportedLinkType": [{"namespace": GS1_VOC, "prefix": "gs1:"}],
        "linkTypeDefaultCanBeLinkset": False,
    }
