"""The codes on a bag of rice: trace URLs, GS1 Digital Link URIs and their QR images.

A lot with a GTIN gets a GS1 Digital Link (``/01/{gtin14}/10/{lot}``): the same
URL opens the trace in a phone's camera app and is read as GTIN + batch/lot by
GS1-aware scanners at a warehouse or till. A lot without one gets the plain
trace URL. The GS1 rules themselves are in ``traceability.gs1``; here a bad GTIN
becomes ``InvalidInput``.
"""

import io
from functools import lru_cache
from urllib.parse import quote

import qrcode
import qrcode.image.svg
from qrcode.constants import ERROR_CORRECT_M

from traceability import gs1
from traceability.errors import InvalidInput


def normalise_gtin(value: str) -> str:
    """A GTIN-8/12/13/14 as 14 digits; ``InvalidInput`` naming the problem otherwise.

    >>> normalise_gtin("8934567890120")
    '08934567890120'
    """
    try:
        return gs1.gtin14(value)
    except ValueError as exc:
        raise InvalidInput(f"GTIN '{value}': {exc}") from exc


def trace_url(base_url: str, code: str) -> str:
    """The public trace page of a lot.

    >>> trace_url("https://trace.example.vn/", "LOT-1")
    'https://trace.example.vn/t/LOT-1'
    """
    return f"{base_url.rstrip('/')}/t/{quote(code, safe='')}"


def digital_link(base_url: str, gtin: str, code: str) -> str:
    """The GS1 Digital Link URI of a lot of a trade item (GTIN as 14 digits).

    >>> digital_link("https://trace.example.vn", "8934567890120", "LOT-1")
    'https://trace.example.vn/01/08934567890120/10/LOT-1'
    """
    try:
        return gs1.digital_link(base_url, gtin, code)
    except ValueError as exc:
        raise InvalidInput(f"GTIN '{gtin}': {exc}") from exc


def lot_url(base_url: str, code: str, gtin: str | None) -> str:
    """What a lot's QR code encodes: the Digital Link when it has a GTIN, else the trace URL."""
    return digital_link(base_url, gtin, code) if gtin else trace_url(base_url, code)


def _qr(data: str) -> qrcode.QRCode:
    # Level M survives a scuffed or partly wet bag; H would make the code denser for little gain.
    qr = qrcode.QRCode(error_correction=ERROR_CORRECT_M, box_size=10, border=4)
    qr.add_data(data)
    qr.make(fit=True)
    return qr


@lru_cache(maxsize=2048)
def qr_png(data: str, box_size: int = 10) -> bytes:
    """A QR code of ``data`` as PNG bytes (black on white, 4-module quiet zone)."""
    qr = _qr(data)
    qr.box_size = box_size
    buf = io.BytesIO()
    qr.make_image().save(buf, format="PNG")
    return buf.getvalue()


@lru_cache(maxsize=2048)
def qr_svg(data: str) -> str:
    """A QR code of ``data`` as a standalone SVG document (one path, white background)."""
    image = _qr(data).make_image(image_factory=qrcode.image.svg.SvgPathFillImage)
    return image.to_string(encoding="unicode")


def qr_svg_inline(data: str) -> str:
    """The QR code as an ``<svg>`` element to embed in an HTML page (no XML declaration)."""
    svg = qr_svg(data)
    return svg[svg.index("<svg") :]
