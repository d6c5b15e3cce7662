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
- ``400`` for a URI that is not a valid Digital Link of a lot (see :func:`parse`).

``/.well-known/gs1resolver`` describes the resolver (:func:`description`). Nothing
here knows about HTTP frameworks or the database: the API turns these values into
answers. Errors are :class:`BadLink` with a message key the pages translate.
"""

from dataclasses import dataclass
from urllib.parse import quote

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


def parse(gtin: str, qualifier: str, lot: str) -> tuple[str, str]:
    """The GTIN (14 digits) and lot a request path names; :class:`BadLink` if malformed.

    >>> parse("8934567890120", "10", "LOT-1")
    ('08934567890120', 'LOT-1')
    >>> parse("8934567890121", "10", "LOT-1")
    Traceback (most recent call last):
    ...
    traceability.resolver.BadLink: bad_check_digit
    >>> try:
    ...     parse("8934567890120", "22", "S1")
    ... except BadLink as exc:
    ...     print(exc.key, exc.details)
    bad_ai {'ai': '22'}
    """
    if not (gtin.isascii() and gtin.isdigit()):
        raise BadLink("gtin_not_digits", gtin=gtin)
    if len(gtin) not in gs1.GTIN_LENGTHS:
        raise BadLink("gtin_length", gtin=gtin, length=str(len(gtin)))
    expected = gs1.check_digit(gtin[:-1])
    if expected != int(gtin[-1]):
        raise BadLink("bad_check_digit", gtin=gtin, expected=str(expected))
    if qualifier != "10":
        raise BadLink("bad_ai", ai=qualifier)
    if not lot or len(lot) > LOT_MAX_LENGTH or not set(lot) <= CSET82:
        raise BadLink("bad_lot", lot=lot, max=str(LOT_MAX_LENGTH))
    return gtin.zfill(14), lot


def check_serial(serial: str) -> str:
    """A serial number (AI 21) as a request path names it; :class:`BadLink` if malformed.

    >>> check_serial("BAG-0042")
    'BAG-0042'
    >>> check_serial("x" * 21)
    Traceback (most recent call last):
    ...
    traceability.resolver.BadLink: bad_serial
    """
    if not serial or len(serial) > SERIAL_MAX_LENGTH or not set(serial) <= CSET82:
        raise BadLink("bad_serial", serial=serial, max=str(SERIAL_MAX_LENGTH))
    return serial


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
