"""QR codes decoded by a real decoder (zbar), followed back to the trace page."""

import io
from datetime import date
from urllib.parse import urlsplit

import pytest
from PIL import Image

from traceability import qr
from traceability.errors import InvalidInput

BASE = "https://trace.example.vn"  # AGRITRACE_PUBLIC_BASE_URL in tests/conftest.py


def _decode_png(data: bytes) -> list[str]:
    try:
        from pyzbar.pyzbar import decode
    except ImportError as exc:  # the zbar C library is missing
        from tests.conftest import unavailable

        unavailable("zbar (apt-get install libzbar0)", exc)
    return [d.data.decode() for d in decode(Image.open(io.BytesIO(data)))]


def _decode_svg(svg: str) -> list[str]:
    try:
        import cairosvg
    except (ImportError, OSError) as exc:  # cairosvg needs libcairo
        from tests.conftest import unavailable

        unavailable("cairosvg with libcairo", exc)
    return _decode_png(cairosvg.svg2png(bytestring=svg.encode(), output_width=400))


def _follow(client, url: str):
    """Open a scanned URL on the test server (its path and query, on our host)."""
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == BASE
    return client.get(parts.path + (f"?{parts.query}" if parts.query else ""))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8934567890120", "08934567890120"),
        ("4006381333931", "04006381333931"),
        ("036000291452", "00036000291452"),
        ("96385074", "00000096385074"),
        ("08934567890120", "08934567890120"),
    ],
)
def test_gtin_check_digits_accepted(raw, expected):
    assert qr.normalise_gtin(raw) == expected


@pytest.mark.parametrize("raw", ["8934567890121", "893456789012", "12345", "89345678901a0", ""])
def test_gtin_bad_check_digit_or_length_rejected(raw):
    with pytest.raises(InvalidInput, match="GTIN"):
        qr.normalise_gtin(raw)


def test_digital_link_always_writes_14_digits():
    url = qr.digital_link(BASE + "/", "8934567890120", "LOT 7/A")
    assert url == BASE + "/01/08934567890120/10/LOT%207%2FA"


@pytest.fixture
def lots(factory):
    field = factory.field()
    plain = factory.lot(fields_=[field], code="BL-2026-0001")
    gtin = factory.lot(fields_=[field], code="BL-2026-0002", gtin="8934567890120")
    return plain, gtin


def test_png_decodes_to_the_trace_url_and_opens_the_page(client, lots):
    plain, _ = lots
    r = client.get(f"/api/v1/lots/{plain.code}/qr.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"

    (url,) = _decode_png(r.content)

    assert url == f"{BASE}/t/{plain.code}"
    page = _follow(client, url)
    assert page.status_code == 200 and plain.code in page.text and "Ngày thu hoạch" in page.text


def test_gtin_lot_png_decodes_to_a_digital_link_that_resolves(client, lots):
    _, lot = lots
    (url,) = _decode_png(client.get(f"/api/v1/lots/{lot.code}/qr.png?box=4").content)

    assert url == f"{BASE}/01/08934567890120/10/{lot.code}"
    page = _follow(client, url)
    assert page.status_code == 200 and lot.code in page.text
    assert _follow(client, url + "?lang=en").text.count("Harvest date") >= 1


def test_svg_renders_to_the_same_code(client, lots):
    for lot in lots:
        r = client.get(f"/api/v1/lots/{lot.code}/qr.svg")
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert _decode_svg(r.text) == _decode_png(
            client.get(f"/api/v1/lots/{lot.code}/qr.png").content
        )


def test_label_sheet_carries_product_lot_date_and_a_scannable_code(client, lots):
    _, lot = lots
    r = client.get(f"/api/v1/lots/{lot.code}/label", params={"count": 6})

    assert r.status_code == 200
    html = r.text
    assert html.count('class="label"') == 6
    assert "Lúa ST25" in html and lot.code in html and "10/04/2026" in html
    assert "@page" in html and "@media print" in html
    start = html.index("<svg")
    svg = html[start : html.index("</svg>", start) + len("</svg>")]
    assert _decode_svg(svg) == [f"{BASE}/01/08934567890120/10/{lot.code}"]
    assert client.get(f"/api/v1/lots/{lot.code}/label?count=0").status_code == 422


def test_harvest_date_on_the_english_label(client, factory):
    lot = factory.lot(fields_=[factory.field()], harvested_on=date(2026, 5, 2))
    html = client.get(f"/api/v1/lots/{lot.code}/label?lang=en").text
    assert "Harvest date" in html and "2026-05-02" in html
