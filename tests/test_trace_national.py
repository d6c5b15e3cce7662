"""Vietnam's national trace data (Circular 02/2024/TT-BKHCN) on the trace JSON and page.

The ten minimum fields: product name, image, producer name, producer address, each
stage with its trace code, location code and time, production time, trace codes,
brand, shelf life, and the standards applied (the VietGAP certificate and whether it
was valid on the harvest day). Expected values are written out by hand.
"""

import io
import re
from datetime import date

import pytest
from PIL import Image

from tests import pngs
from tests.test_trace_phi import spray
from traceability.services import trace as svc
from traceability.words import gettext

BASE = "https://trace.example.vn"
# A 4 × 3 greyscale photo, its pixels known by construction.
PIXELS = [[0, 60, 120, 180], [255, 200, 100, 50], [7, 7, 7, 7]]
PNG = pngs.gray(PIXELS)
PHONE = "0912 345 678"


@pytest.fixture(autouse=True)
def _fresh_cache():
    svc.clear_cache()


@pytest.fixture
def coop(factory):
    return factory.organisation(
        "cooperative",
        code="HTX-VH",
        name="HTX Nông nghiệp Vĩnh Hậu",
        address="Ấp Cái Cùng, xã Vĩnh Hậu, tỉnh Cà Mau",
        brand="Gạo Vĩnh Hậu",
        certificate_standard="VietGAP",
        certificate_no="VG-BL-0123",
        certificate_issuer="Trung tâm Chứng nhận Phù hợp (QUACERT)",
        certificate_valid_from=date(2025, 6, 1),
        certificate_valid_to=date(2027, 5, 31),
    )


@pytest.fixture
def lot(factory, coop):
    farmer = factory.farmer(
        organisation=coop, name="Võ Thị Lan", village="Ấp Cái Cùng", phone=PHONE
    )
    field = factory.field(farmer=farmer, code="VH-017")
    factory.season(field, sown_on=date(2026, 1, 5))
    product = factory.input(code="ANVIL5SC", name="Anvil 5SC", phi_days=14)
    spray(factory, field, product, "2026-03-01T08:30:00")
    return factory.lot(
        fields_=[field],
        code="VH-2026-01",
        gtin="8934567890120",
        harvested_on=date(2026, 4, 10),
        product_name="Lúa ST25",
        brand="ST25 Vĩnh Hậu",
        shelf_life_days=365,
    )


def test_the_ten_fields_in_the_json(client, lot):
    nat = client.get(f"/api/v1/trace/{lot.code}").json()["national"]
    assert nat["product_name"] == "Lúa ST25"  # 1 product name
    assert nat["image"] == f"{BASE}/api/v1/lots/VH-2026-01/image"  # 2 image
    assert nat["own_image"] is False
    [producer] = nat["producers"]
    assert producer["name"] == "HTX Nông nghiệp Vĩnh Hậu"  # 3 producer name
    assert producer["address"] == "Ấp Cái Cùng, xã Vĩnh Hậu, tỉnh Cà Mau"  # 4
    spray_stage, harvest = nat["stages"]  # 5 each stage: trace code, location code, time
    assert spray_stage == {
        "stage": "spray",
        "trace_codes": ["VH-2026-01"],
        "location_code": "VH-017",
        "at": "2026-03-01T01:30:00Z",  # 08:30 in Vietnam
        "date": "2026-03-01",
    }
    assert harvest["stage"] == "harvest" and harvest["date"] == "2026-04-10"
    assert harvest["trace_codes"] == ["VH-2026-01"] and harvest["location_code"] == "VH-017"
    assert nat["production"] == {"kind": "harvest", "date": "2026-04-10"}  # 6
    assert nat["trace_codes"] == {  # 7 trace codes
        "lot": "VH-2026-01",
        "gtin": "08934567890120",
        "digital_link": f"{BASE}/01/08934567890120/10/VH-2026-01",
        "lineage": [],
    }
    assert nat["brand"] == "ST25 Vĩnh Hậu"  # 8 brand: the lot's own before the cooperative's
    assert nat["shelf_life_days"] == 365 and nat["best_before"] == "2027-04-10"  # 9
    assert nat["standards"] == [  # 10 standards applied
        {
            "standard": "VietGAP",
            "certificate_no": "VG-BL-0123",
            "issuer": "Trung tâm Chứng nhận Phù hợp (QUACERT)",
            "valid_from": "2025-06-01",
            "valid_to": "2027-05-31",
            "holder": "HTX Nông nghiệp Vĩnh Hậu",
            "valid_on_harvest": True,
        }
    ]
    assert PHONE not in str(nat)


@pytest.mark.parametrize("lang", ["vi", "en"])
def test_the_ten_fields_on_the_page(client, lot, lang):
    html = client.get(f"/t/{lot.code}", params={"lang": lang}).text
    for label in ("brand", "producer", "shelf_life", "trace_codes", "standards"):
        assert gettext(lang, label) in html, label
    assert "Lúa ST25" in html  # product name
    assert "<svg" in html[html.index('id="lot"') : html.index('id="phi"')]  # image (default)
    assert "HTX Nông nghiệp Vĩnh Hậu" in html and "xã Vĩnh Hậu" in html  # producer, address
    assert "ST25 Vĩnh Hậu" in html  # brand
    assert "VG-BL-0123" in html and "QUACERT" in html and gettext(lang, "cert_valid_true") in html
    assert f"365 {gettext(lang, 'days')}" in html  # shelf life
    day = "10/04/2027" if lang == "vi" else "2027-04-10"
    assert f"{gettext(lang, 'best_before')} {day}" in html
    # Each stage with its trace code, location code and local time (08:30 in Vietnam).
    stage = re.search(r'<div class="when" data-stage>([^<]*08:30[^<]*)</div>', html)
    assert stage, "the spray's stage line"
    assert gettext(lang, "trace_code") in stage[1] and "VH-2026-01" in stage[1]
    assert gettext(lang, "location_code") in stage[1] and "VH-017" in stage[1]
    assert PHONE not in html
    other = "en" if lang == "vi" else "vi"
    for key in ("producer", "shelf_life", "standards", "national_basis"):
        assert gettext(other, key) not in html, key


def test_a_lapsed_certificate_says_so(client, factory, lot, coop, admin_headers):
    r = client.patch(
        f"/api/v1/organisations/{coop.code}",
        json={"certificate_valid_to": "2026-03-31"},
        headers=admin_headers,
    )
    assert r.status_code == 200 and r.json()["certificate_valid_to"] == "2026-03-31"
    nat = client.get(f"/api/v1/trace/{lot.code}").json()["national"]
    # Harvested on 10 April, the certificate ended on 31 March: not valid that day.
    assert nat["standards"][0]["valid_on_harvest"] is False
    assert gettext("vi", "cert_valid_false") in client.get(f"/t/{lot.code}").text


def test_who_may_change_a_cooperatives_facts(client, factory, coop):
    own = factory.token("cooperative", organisation=coop)
    other = factory.token("cooperative")
    body = {"brand": "Lúa Tôm Vĩnh Hậu"}
    r = client.patch(f"/api/v1/organisations/{coop.code}", json=body, headers=own)
    assert r.status_code == 200 and r.json()["brand"] == "Lúa Tôm Vĩnh Hậu"
    assert (
        client.patch(f"/api/v1/organisations/{coop.code}", json=body, headers=other).status_code
        == 403
    )
    bad = {"certificate_valid_from": "2026-01-01", "certificate_valid_to": "2025-01-01"}
    r = client.patch(f"/api/v1/organisations/{coop.code}", json=bad, headers=own)
    assert r.status_code == 422 and "certificate_valid_to" in r.text
    r = client.patch(f"/api/v1/organisations/{coop.code}", json={"phone": "1"}, headers=own)
    assert r.status_code == 422


def test_lot_photo_upload_and_page(client, lot, admin_headers):
    url = f"/api/v1/lots/{lot.code}/image"
    default = client.get(url)
    assert default.status_code == 200 and default.headers["content-type"] == "image/svg+xml"
    refused = [
        (b"GIF89a....", "image/gif", "PNG, JPEG or WebP"),
        (b"not a png at all", "image/png", "not a image/png"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 300_001, "image/png", "at most 300000"),
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "image/png", "can be read"),
    ]
    for data, kind, words in refused:
        r = client.put(url, content=data, headers=admin_headers | {"Content-Type": kind})
        assert r.status_code == 422 and words in r.text, r.text
    r = client.put(url, content=PNG, headers=admin_headers | {"Content-Type": "image/png"})
    assert r.status_code == 204
    got = client.get(url)
    assert got.headers["content-type"] == "image/png"
    assert _pixels(got.content) == ("PNG", (4, 3), bytes(sum(PIXELS, [])))
    assert client.get(url, headers={"If-None-Match": got.headers["etag"]}).status_code == 304
    assert client.get(f"/api/v1/trace/{lot.code}").json()["national"]["own_image"] is True
    html = client.get(f"/t/{lot.code}").text
    # The photo comes from this app: every src on the page is a path of its own.
    assert re.findall(r'\ssrc="([^"]*)"', html) == [url]


def _pixels(data: bytes) -> tuple[str, tuple[int, int], bytes]:
    picture = Image.open(io.BytesIO(data))
    return picture.format, picture.size, picture.convert("L").tobytes()


@pytest.mark.parametrize(
    ("width", "height", "words"),
    [(15000, 15000, "too many pixels"), (6000, 6000, "at most 24,000,000")],
)
def test_a_decompression_bomb_is_refused_before_it_is_decoded(
    client, lot, admin_headers, width, height, words
):
    bomb = pngs.bomb(width, height)
    assert len(bomb) < 30_000  # a few kilobytes that say 225 (or 36) million pixels
    url = f"/api/v1/lots/{lot.code}/image"
    r = client.put(url, content=bomb, headers=admin_headers | {"Content-Type": "image/png"})
    assert r.status_code == 422 and words in r.json()["detail"], r.text
    assert client.get(url).headers["content-type"] == "image/svg+xml"  # still the default


def test_html_behind_a_png_is_never_served(client, lot, admin_headers):
    """A PNG-headed HTML page is refused; a real picture with HTML after it is kept as
    the picture alone, served with nosniff."""
    url = f"/api/v1/lots/{lot.code}/image"
    html = b"<html><body><script>alert(document.cookie)</script></body></html>"
    headers = admin_headers | {"Content-Type": "image/png"}
    r = client.put(url, content=pngs.SIGNATURE + html, headers=headers)
    assert r.status_code == 422 and "can be read" in r.json()["detail"]
    assert client.put(url, content=PNG + html, headers=headers).status_code == 204
    got = client.get(url)
    assert b"<script" not in got.content and b"<html" not in got.content
    assert _pixels(got.content) == ("PNG", (4, 3), bytes(sum(PIXELS, [])))
    assert got.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(("kind", "fmt"), [("image/jpeg", "JPEG"), ("image/webp", "WEBP")])
def test_a_phone_photo_is_kept_upright_small_and_without_its_metadata(
    client, lot, admin_headers, kind, fmt
):
    photo = Image.new("RGB", (2000, 1000), (30, 140, 60))
    exif = Image.Exif()
    exif[0x010F] = "FarmPhone 9.2N 105.4E"  # Make: stands for what a phone writes
    out = io.BytesIO()
    photo.save(out, format=fmt, exif=exif.tobytes(), quality=90)
    assert b"FarmPhone" in out.getvalue()
    url = f"/api/v1/lots/{lot.code}/image"
    r = client.put(url, content=out.getvalue(), headers=admin_headers | {"Content-Type": kind})
    assert r.status_code == 204, r.text
    got = client.get(url)
    assert got.headers["content-type"] == kind and b"FarmPhone" not in got.content
    kept = Image.open(io.BytesIO(got.content))
    assert (kept.format, kept.size) == (fmt, (1600, 800))
    red, green, blue = kept.convert("RGB").getpixel((800, 400))
    assert abs(red - 30) <= 3 and abs(green - 140) <= 3 and abs(blue - 60) <= 3


def test_lot_brand_and_shelf_life_through_the_api(client, factory, admin_headers):
    field = factory.field()
    body = {"code": "BR-1", "product_name": "Gạo", "harvested_on": "2026-04-01",
            "quantity_kg": 100, "field_codes": [field.code], "brand": "Gạo Hòa Bình",
            "shelf_life_days": 180}  # fmt: skip
    r = client.post("/api/v1/lots", json=body, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert r.json()["brand"] == "Gạo Hòa Bình" and r.json()["shelf_life_days"] == 180
    r = client.post("/api/v1/lots", json=body | {"code": "BR-2", "shelf_life_days": 0},
                    headers=admin_headers)  # fmt: skip
    assert r.status_code == 422


def test_farmer_outside_a_cooperative_is_the_producer_with_a_village_only(client, factory):
    farmer = factory.farmer(name="Lâm Văn Sáu", village="Ấp Phước Thạnh", phone=PHONE)
    lot = factory.lot(fields_=[factory.field(farmer=farmer)])
    nat = client.get(f"/api/v1/trace/{lot.code}").json()["national"]
    assert nat["producers"] == [
        {"kind": "farmer", "code": None, "name": "Lâm Văn Sáu", "address": "Ấp Phước Thạnh"}
    ]
    assert nat["standards"] == [] and nat["brand"] is None and nat["shelf_life_days"] is None
    assert gettext("vi", "no_certificate") in client.get(f"/t/{lot.code}").text
