"""The trace page's locator: where a lot's fields lie in Cà Mau province, without tiles."""

import json
import re
from datetime import date

import pytest
from pyproj import Geod
from shapely.geometry import Point, Polygon

from traceability.geo import boundaries
from traceability.services import trace as svc
from traceability.services.trace.locator import locator

# Official areas (General Statistics Office): Cà Mau 5,274 km² and Bạc Liêu 2,668 km²,
# merged on 1 July 2025 into a province of about 7,942 km².
MERGED_PROVINCE_KM2 = 7_942
CA_MAU_CITY = (105.152, 9.177)
BAC_LIEU_CITY = (105.724, 9.285)
GIA_RAI = (105.43, 9.24)


@pytest.fixture(autouse=True)
def _fresh_cache():
    svc.clear_cache()


def _path_polygon(d: str) -> Polygon:
    pairs = re.findall(r"(-?[\d.]+),(-?[\d.]+)", d)
    return Polygon([(float(x), float(y)) for x, y in pairs])


def test_the_packaged_outline_has_the_merged_provinces_area():
    outline = boundaries.load().outlines["96"]
    area_m2, _ = Geod(ellps="WGS84").geometry_area_perimeter(outline)
    # A hand sketch to about 5 km: its area within 10 % of the official figure.
    assert abs(abs(area_m2) / 1e6 - MERGED_PROVINCE_KM2) < 0.10 * MERGED_PROVINCE_KM2
    for town in (CA_MAU_CITY, BAC_LIEU_CITY, GIA_RAI):
        assert outline.contains(Point(town))


def test_markers_sit_inside_the_province_east_and_north_where_they_should():
    b = boundaries.load()
    west = locator([(*CA_MAU_CITY, None)], b)
    east = locator([(*BAC_LIEU_CITY, None)], b)
    province = _path_polygon(west.province_path)
    (wx, wy), (ex, ey) = west.markers[0], east.markers[0]
    assert province.contains(Point(wx, wy)) and province.contains(Point(ex, ey))
    # Bạc Liêu lies about 63 km east and 12 km north of Cà Mau city; SVG's y grows down.
    assert ex > wx and ey < wy
    # The drawing keeps metres square: 63 km east against 12 km north, within a pixel.
    km_per_px = (ex - wx) / 63.0
    assert (wy - ey) == pytest.approx(12.0 * km_per_px, abs=1.0)


def test_fields_far_from_the_province_get_no_locator():
    assert locator([(2.35, 48.85, None)], boundaries.load()) is None
    assert locator([], boundaries.load()) is None


def test_official_commune_outlines_are_drawn_when_given(tmp_path):
    commune = [[105.40, 9.20], [105.46, 9.20], [105.46, 9.27], [105.40, 9.27], [105.40, 9.20]]
    packaged = json.loads(
        (boundaries.resources.files("traceability.data") / "boundaries.geojson").read_text()
    )
    packaged["features"][0]["properties"]["schematic"] = False
    packaged["features"].append(
        {
            "type": "Feature",
            "properties": {"code": "31957"},
            "geometry": {"type": "Polygon", "coordinates": [commune]},
        }
    )
    path = tmp_path / "boundaries.geojson"
    path.write_text(json.dumps(packaged))
    loc = locator([(*GIA_RAI, "31957")], boundaries.load(str(path)))
    assert loc.commune_names == ("xã Phong Thạnh",) and not loc.schematic
    (mx, my) = loc.markers[0]
    assert _path_polygon(loc.commune_paths[0]).contains(Point(mx, my))


def test_the_trace_page_shows_the_locator_and_the_commune(client, factory):
    field = factory.field(code="GR-0901", commune_code="31957")
    factory.season(field, sown_on=date(2026, 1, 5))
    lot = factory.lot(fields_=[field], harvested_on=date(2026, 4, 10))
    vi = client.get(f"/t/{lot.code}").text
    figure = re.search(r'<figure class="locator">.*?</figure>', vi, re.S).group(0)
    assert figure.count("<circle") == 1
    assert "xã Phong Thạnh, tỉnh Cà Mau" in figure and "ranh giới vẽ phác" in figure
    en = client.get(f"/t/{lot.code}?lang=en").text
    assert "Where in the province" in en and "outline is a sketch" in en
