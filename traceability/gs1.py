"""GS1 identifiers: GTIN check digits and GS1 Digital Link URIs.

Everything agritrace knows about GS1 lives here, as pure functions that import
nothing from the app: the check digit of a GTIN, a GTIN-8/12/13/14 written as 14
digits, and the Digital Link URI ``{base}/01/{gtin14}/10/{lot}`` that a lot's QR
code carries and the resolver answers. Errors are ``ValueError`` naming the
problem; callers turn them into their own answers.

References: GS1 General Specifications, 7.9 (check digit calculation), and the
GS1 Digital Link URI syntax (AI 01 = GTIN, AI 10 = batch/lot number).
"""

from typing import NamedTuple
from urllib.parse import quote, unquote, urlsplit

# The lengths a GTIN may be written in: GTIN-8, GTIN-12 (UPC-A), GTIN-13 (EAN) and GTIN-14.
GTIN_LENGTHS = (8, 12, 13, 14)
# GS1's own resolver; the canonical domain of a Digital Link URI used as an identifier.
GS1_ID_BASE = "https://id.gs1.org"


def check_digit(body: str) -> int:
    """The GS1 check digit of a GTIN body (every digit but the last).

    Weights 3, 1, 3, 1, ... are applied from the right-most digit of the body; the
    check digit brings the weighted sum up to a multiple of 10. The same rule holds
    for every GTIN length, so a body zero-padded on the left keeps its check digit.

    Parameters
    ----------
    body : str
        The digits of the GTIN without its check digit.

    Returns
    -------
    int
        The check digit, 0 to 9.

    Examples
    --------
    GTIN-13 4006381333931: 3·3 + 9 + 3·3 + 3 + 3·3 + 1 + 8·3 + 3 + 6·3 + 0 + 0·3 + 4 = 89,
    and 90 - 89 = 1:

    >>> check_digit("400638133393")
    1

    GTIN-13 893456789012?: the weighted sum is 120, already a multiple of 10:

    >>> check_digit("893456789012")
    0

    GTIN-8 9638507?: 7·3 + 0 + 5·3 + 8 + 3·3 + 6 + 9·3 = 86, so 4:

    >>> check_digit("9638507")
    4
    >>> check_digit("0009638507")
    4
    """
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return -total % 10


def gtin14(value: str) -> str:
    """Check a GTIN-8/12/13/14 and write it as 14 digits.

    Parameters
    ----------
    value : str
        The GTIN as printed under a barcode (surrounding spaces are ignored).

    Returns
    -------
    str
        The GTIN zero-padded on the left to 14 digits.

    Raises
    ------
    ValueError
        When it is not 8, 12, 13 or 14 ASCII digits, or its check digit is wrong.

    Examples
    --------
    >>> gtin14("4006381333931")
    '04006381333931'
    >>> gtin14("96385074")
    '00000096385074'
    >>> gtin14("036000291452")  # a UPC-A: 58 weighted, so the check digit is 2
    '00036000291452'
    >>> gtin14("4006381333932")
    Traceback (most recent call last):
    ...
    ValueError: GTIN check digit is wrong (expected 1)
    >>> gtin14("12ab")
    Traceback (most recent call last):
    ...
    ValueError: GTIN must be 8, 12, 13 or 14 digits
    """
    digits = value.strip()
    # isdigit() alone would take Arabic-Indic or full-width digits, which no scanner prints.
    if not (digits.isascii() and digits.isdigit()) or len(digits) not in GTIN_LENGTHS:
        raise ValueError("GTIN must be 8, 12, 13 or 14 digits")
    expected = check_digit(digits[:-1])
    if expected != int(digits[-1]):
        raise ValueError(f"GTIN check digit is wrong (expected {expected})")
    return digits.zfill(14)


class DigitalLink(NamedTuple):
    """What a GS1 Digital Link URI of a lot names: the GTIN (14 digits) and the lot."""

    gtin: str
    lot: str


def digital_link(base_url: str, gtin: str, lot: str) -> str:
    """The GS1 Digital Link URI of a lot of a trade item.

    Parameters
    ----------
    base_url : str
        The resolver the URI points at, e.g. the public trace server or ``GS1_ID_BASE``.
    gtin : str
        A GTIN-8/12/13/14; the URI always writes it as 14 digits.
    lot : str
        The batch/lot number (AI 10), percent-encoded in the path.

    Raises
    ------
    ValueError
        When the GTIN is not valid (see ``gtin14``).

    Examples
    --------
    >>> digital_link("https://trace.example.vn/", "4006381333931", "LOT-1")
    'https://trace.example.vn/01/04006381333931/10/LOT-1'
    >>> digital_link(GS1_ID_BASE, "04006381333931", "LOT 7/A")
    'https://id.gs1.org/01/04006381333931/10/LOT%207%2FA'
    """
    return f"{base_url.rstrip('/')}/01/{gtin14(gtin)}/10/{quote(lot, safe='')}"


def parse_digital_link(uri: str) -> DigitalLink:
    """The GTIN and lot a GS1 Digital Link URI (or just its path) names.

    Parameters
    ----------
    uri : str
        ``https://host[/prefix]/01/{gtin}/10/{lot}``, or the path alone; a query
        string (``?linkType=...``) is ignored.

    Returns
    -------
    DigitalLink
        The GTIN as 14 digits and the lot, percent-decoded.

    Raises
    ------
    ValueError
        When the path does not end in ``/01/{gtin}/10/{lot}`` or the GTIN is not valid.

    Examples
    --------
    >>> parse_digital_link("https://trace.example.vn/01/04006381333931/10/LOT%207%2FA")
    DigitalLink(gtin='04006381333931', lot='LOT 7/A')
    >>> parse_digital_link("/01/96385074/10/L1?linkType=all")
    DigitalLink(gtin='00000096385074', lot='L1')
    >>> parse_digital_link("/t/L1")
    Traceback (most recent call last):
    ...
    ValueError: not a GS1 Digital Link of a lot: expected .../01/{gtin}/10/{lot}
    """
    # Split the raw path before decoding, so that an encoded '/' inside a lot stays in it.
    parts = urlsplit(uri).path.rstrip("/").split("/")
    if len(parts) < 5 or parts[-4] != "01" or parts[-2] != "10" or not parts[-1]:
        raise ValueError("not a GS1 Digital Link of a lot: expected .../01/{gtin}/10/{lot}")
    return DigitalLink(gtin=gtin14(unquote(parts[-3])), lot=unquote(parts[-1]))
