"""Fields: GeoJSON create and read, lists, all-or-nothing import (WGS84, VN-2000), bad geometry."""

import copy
import json
import math
from pathlib import Path

import pytest
from pyproj import Transformer
from shapely.geometry import mapping, shape

from tests.factories import feature, rectangle_lonlat
from tests.record_helpers import API, rejected, rows

REALDATA = Path(__file__).parent / "data" / "jecam_burkina_koumbia_100.geojson"
_WGS84_TO_VN2000_48N = Transformer.from_crs(4326, 3405, always_xy=True)


def _collection(*features):
    return {"type": "FeatureCollection", "features": list(features)}


def _fc(farmer_id, n, *, prefix="GR", start=0):
    """``n`` valid 100 m × 200 m (2 ha) field features side by side in Giá Rai."""
    return [
        feature(f"{prefix}-{i:04d}", farmer_id, rectangle_lonlat(i * 150.0, 0.0, 100.0, 200.0))
        for i in range(start, start + n)
    ]


# ---------------------------------------------------------------- create and read


def test_create_read_feature(client, admin_headers, factory):
    farmer = factory.farmer()
    f = feature(
        "GR-0001", farmer.id, rectangle_lonlat(0, 0, 100, 200), name="Ruộng sau nhà", soil="phèn"
    )
    f["properties"]["area_ha"] = 999  # a client's area is not trusted: it is computed
    r = client.post(f"{API}/fields", json=f, headers=admin_headers)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["type"] == "Feature" and body["id"] == "GR-0001"
    props = body["properties"]
    assert props["id"] > 0 and props["farmer_id"] == farmer.id and props["name"] == "Ruộng sau nhà"
    assert props["soil"] == "phèn"  # properties the record does not know are kept
    assert props["area_ha"] == pytest.approx(2.0, rel=1e-3)
    assert props["utm_epsg"] == 32648
    minx, miny, maxx, maxy = body["bbox"]
    assert 105 < minx < maxx < 106 and 9 < miny < maxy < 10
    assert shape(body["geometry"]).equals_exact(shape(f["geometry"]), 1e-6)

    got = client.get(f"{API}/fields/GR-0001", headers=admin_headers)
    assert got.status_code == 200 and got.json() == body


def test_multipolygon_field(client, admin_headers, factory):
    farmer = factory.farmer()
    a, b = rectangle_lonlat(0, 0, 100, 100), rectangle_lonlat(300, 0, 50, 100)
    geom = {
        "type": "MultiPolygon",
        "coordinates": [mapping(a)["coordinates"], mapping(b)["coordinates"]],
    }
    f = {
        "type": "Feature",
        "geometry": geom,
        "properties": {"code": "GR-M", "farmer_id": farmer.id},
    }
    r = client.post(f"{API}/fields", json=f, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert r.json()["geometry"]["type"] == "MultiPolygon"
    assert r.json()["properties"]["area_ha"] == pytest.approx(1.5, rel=1e-3)


def test_reserved_properties_do_not_break_the_answer(client, admin_headers, factory):
    farmer = factory.farmer()
    f = feature("GR-R", farmer.id, rectangle_lonlat(0, 0, 100, 200), utm_epsg=1, id=7, bbox=[0])
    r = client.post(f"{API}/fields", json=f, headers=admin_headers)
    assert r.status_code == 201, r.text
    props = r.json()["properties"]
    assert props["utm_epsg"] == 32648 and props["id"] != 7
    assert client.get(f"{API}/fields/GR-R", headers=admin_headers).status_code == 200


def test_unknown_field(client, admin_headers):
    rejected(client.get(f"{API}/fields/GR-9999", headers=admin_headers), 404, "GR-9999")


# ---------------------------------------------------------------- lists


def test_list_filters_and_paging(client, admin_headers, factory):
    a, b = factory.farmer(), factory.farmer()
    for i in range(5):
        factory.field(farmer=a, code=f"A-{i}", x0=i * 200.0)
    far = factory.field(farmer=b, code="B-0", x0=50_000.0)  # 50 km east

    page1 = client.get(f"{API}/fields", params={"limit": 4}, headers=admin_headers).json()
    assert page1["type"] == "FeatureCollection" and page1["count"] == 6
    page2 = client.get(
        f"{API}/fields", params={"limit": 4, "offset": 4}, headers=admin_headers
    ).json()
    codes = [f["id"] for f in page1["features"] + page2["features"]]
    assert codes == ["A-0", "A-1", "A-2", "A-3", "A-4", "B-0"]

    of_a = client.get(f"{API}/fields", params={"farmer_id": a.id}, headers=admin_headers).json()
    assert of_a["count"] == 5 and {f["properties"]["farmer_id"] for f in of_a["features"]} == {a.id}

    bbox = ",".join(str(v) for v in (far.min_lon - 0.001, far.min_lat, far.max_lon, far.max_lat))
    inside = client.get(f"{API}/fields", params={"bbox": bbox}, headers=admin_headers).json()
    assert [f["id"] for f in inside["features"]] == ["B-0"]


@pytest.mark.parametrize("bbox", ["1,2,3", "a,b,c,d", "", "1,2,3,4,5", "nan,0,1,1", "3,0,1,1"])
def test_bad_bbox(client, admin_headers, bbox):
    rejected(client.get(f"{API}/fields", params={"bbox": bbox}, headers=admin_headers), 422, "bbox")


# ---------------------------------------------------------------- import


def test_import_collection(client, admin_headers, factory, db):
    farmer = factory.farmer()
    r = client.post(
        f"{API}/fields/import", json=_collection(*_fc(farmer.id, 4)), headers=admin_headers
    )
    assert r.status_code == 201, r.text
    assert r.json() == {"created": 4, "codes": ["GR-0000", "GR-0001", "GR-0002", "GR-0003"]}
    assert rows(db, "fields") == {"fields": 4}


def test_import_is_all_or_nothing_and_names_the_bad_feature(client, admin_headers, factory, db):
    farmer = factory.farmer()
    features = _fc(farmer.id, 5)
    bowtie = [[105.40, 9.30], [105.41, 9.31], [105.41, 9.30], [105.40, 9.31], [105.40, 9.30]]
    features[2]["geometry"] = {"type": "Polygon", "coordinates": [bowtie]}
    r = client.post(f"{API}/fields/import", json=_collection(*features), headers=admin_headers)
    rejected(r, 422, "feature 2", "GR-0002", "self-intersection")
    assert rows(db, "fields") == {"fields": 0}


def test_import_rejects_a_code_already_stored(client, admin_headers, factory, db):
    farmer = factory.farmer()
    factory.field(farmer=farmer, code="GR-0003", x0=9000.0)
    r = client.post(
        f"{API}/fields/import", json=_collection(*_fc(farmer.id, 5)), headers=admin_headers
    )
    rejected(r, 409, "GR-0003", "already exists")
    assert rows(db, "fields") == {"fields": 1}


def test_import_rejects_a_code_repeated_in_the_file(client, admin_headers, factory, db):
    farmer = factory.farmer()
    features = _fc(farmer.id, 3)
    features[2]["properties"]["code"] = "GR-0000"
    r = client.post(f"{API}/fields/import", json=_collection(*features), headers=admin_headers)
    rejected(r, 409, "GR-0000", "repeated")
    assert rows(db, "fields") == {"fields": 0}


def test_import_rejects_an_unknown_farmer(client, admin_headers, factory, db):
    farmer = factory.farmer()
    features = _fc(farmer.id, 3)
    features[1]["properties"]["farmer_id"] = 987654
    r = client.post(f"{API}/fields/import", json=_collection(*features), headers=admin_headers)
    rejected(r, 422, "farmer_id", "987654")
    assert rows(db, "fields") == {"fields": 0}


def test_import_rejects_what_is_not_a_feature(client, admin_headers, factory, db):
    farmer = factory.farmer()
    features = _fc(farmer.id, 3)
    features[1] = "GR-0001"
    r = client.post(f"{API}/fields/import", json=_collection(*features), headers=admin_headers)
    rejected(r, 422, "features.1")
    features[1] = {"type": "Feature", "properties": {"code": "X", "farmer_id": farmer.id}}
    r = client.post(f"{API}/fields/import", json=_collection(*features), headers=admin_headers)
    rejected(r, 422, "feature 1", "geometry")
    rejected(
        client.post(f"{API}/fields/import", json=features[0], headers=admin_headers), 422, "type"
    )
    assert rows(db, "fields") == {"fields": 0}


def test_import_of_real_parcels_gives_their_geodesic_area(client, admin_headers, factory, db):
    # 100 surveyed parcels in Burkina Faso, UTM zone 30N: far from Vietnam's zones.
    farmer = factory.farmer()
    doc = json.loads(REALDATA.read_text())
    expected = {}
    for f in doc["features"]:
        code = f"BF-{f['properties']['Id']}"
        f["properties"].update(code=code, farmer_id=farmer.id)
        expected[code] = f["properties"]["geodesic_area_m2"] / 10_000.0
    r = client.post(f"{API}/fields/import", json=doc, headers=admin_headers)
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 100
    listed = client.get(
        f"{API}/fields", params={"farmer_id": farmer.id, "limit": 500}, headers=admin_headers
    ).json()
    assert listed["count"] == 100
    worst = 0.0
    for f in listed["features"]:
        props = f["properties"]
        assert props["utm_epsg"] == 32630
        assert props["Country"] == "Burkina Faso"  # survey properties kept
        worst = max(worst, abs(props["area_ha"] / expected[props["code"]] - 1.0))
    assert worst < 0.005, f"worst area error {worst:.3%}"


def _in_vn2000(polygon):
    """A WGS84 polygon in VN-2000 / UTM 48N (EPSG:3405) metres, as a cadastral export has it."""
    ring = [list(_WGS84_TO_VN2000_48N.transform(x, y)) for x, y in polygon.exterior.coords]
    return {"type": "Polygon", "coordinates": [ring]}


def test_import_from_vn2000(client, admin_headers, factory):
    farmer = factory.farmer()
    truth = {
        "VN-A": (rectangle_lonlat(0, 0, 100, 200), 2.0),
        "VN-B": (rectangle_lonlat(1000, 500, 250, 80), 2.0),
        "VN-C": (rectangle_lonlat(-3000, 2000, 50, 50), 0.25),
    }
    features = [
        {
            "type": "Feature",
            "geometry": _in_vn2000(poly),
            "properties": {"code": c, "farmer_id": farmer.id},
        }
        for c, (poly, _) in truth.items()
    ]
    assert features[0]["geometry"]["coordinates"][0][0][0] > 500_000  # metres, not degrees
    r = client.post(
        f"{API}/fields/import",
        params={"crs": "EPSG:3405"},
        json=_collection(*features),
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    for code, (poly, area) in truth.items():
        got = client.get(f"{API}/fields/{code}", headers=admin_headers).json()
        # 1e-6 degrees is about 11 cm: the VN-2000 datum shift (hundreds of metres) was applied.
        assert shape(got["geometry"]).equals_exact(poly, 1e-6), code
        assert got["properties"]["area_ha"] == pytest.approx(area, rel=1e-3)
        assert got["properties"]["utm_epsg"] == 32648


def test_vn2000_coordinates_sent_as_wgs84_are_rejected(client, admin_headers, factory, db):
    farmer = factory.farmer()
    geom = _in_vn2000(rectangle_lonlat(0, 0, 100, 200))
    f = {
        "type": "Feature",
        "geometry": geom,
        "properties": {"code": "VN-X", "farmer_id": farmer.id},
    }
    rejected(
        client.post(f"{API}/fields/import", json=_collection(f), headers=admin_headers),
        422,
        "longitude",
    )
    assert rows(db, "fields") == {"fields": 0}


@pytest.mark.parametrize("crs", ["EPSG:999999", "not a crs", "EPSG:"])
def test_unknown_crs(client, admin_headers, factory, db, crs):
    farmer = factory.farmer()
    r = client.post(
        f"{API}/fields/import",
        params={"crs": crs},
        json=_collection(*_fc(farmer.id, 2)),
        headers=admin_headers,
    )
    rejected(r, 422, crs)
    assert rows(db, "fields") == {"fields": 0}


def test_crs_with_garbage_coordinates(client, admin_headers, factory, db):
    farmer = factory.farmer()
    for coords in (
        [[["a", "b"], [1, 2], [3, 4]]],
        [[[1e30, 1e30], [2e30, 1e30], [2e30, 2e30]]],
        7,
        None,
    ):
        f = {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": coords},
            "properties": {"code": "VN-G", "farmer_id": farmer.id},
        }
        r = client.post(
            f"{API}/fields/import",
            params={"crs": "EPSG:3405"},
            json=_collection(f),
            headers=admin_headers,
        )
        rejected(r, 422, "feature 0", "VN-G")
    assert rows(db, "fields") == {"fields": 0}


# ---------------------------------------------------------------- bad geometry and properties


def _ring(*corners):
    return [[list(c) for c in corners]]


_SQUARE = [[105.40, 9.30], [105.401, 9.30], [105.401, 9.301], [105.40, 9.301], [105.40, 9.30]]

BAD_GEOMETRIES = [
    pytest.param({"type": "Point", "coordinates": [105.4, 9.3]}, ["Polygon", "Point"], id="point"),
    pytest.param({"type": "LineString", "coordinates": _SQUARE}, ["Polygon"], id="line"),
    pytest.param(
        {
            "type": "Polygon",
            "coordinates": _ring([105.40, 9.30], [105.41, 9.31], [105.41, 9.30], [105.40, 9.31]),
        },
        ["self-intersection"],
        id="bowtie",
    ),
    pytest.param(
        {"type": "Polygon", "coordinates": _ring([200, 9.3], [200.001, 9.3], [200.001, 9.301])},
        ["longitude", "200"],
        id="lon-out-of-range",
    ),
    pytest.param(
        {"type": "Polygon", "coordinates": _ring([105.4, 95], [105.401, 95], [105.401, 95.001])},
        ["latitude", "95"],
        id="lat-out-of-range",
    ),
    pytest.param(
        {"type": "Polygon", "coordinates": _ring([9.3, 105.4], [9.301, 105.4], [9.301, 105.401])},
        ["latitude", "swapped"],
        id="lat-lon-swapped",
    ),
    pytest.param(
        {"type": "Polygon", "coordinates": _ring(["105.4", 9.3], [105.401, 9.3], [105.401, 9.301])},
        ["not a number"],
        id="string-coordinate",
    ),
    pytest.param({"type": "Polygon", "coordinates": []}, ["empty"], id="no-rings"),
    pytest.param({"type": "Polygon", "coordinates": [[]]}, ["empty"], id="empty-ring"),
    pytest.param(
        {"type": "Polygon", "coordinates": _ring([105.4, 9.3], [105.401, 9.3])},
        ["corner"],
        id="two-corners",
    ),
    pytest.param(
        {"type": "Polygon", "coordinates": _ring([105.4, 9.3], [105.401, 9.301], [105.402, 9.302])},
        ["area", "too small"],
        id="collinear",
    ),
    pytest.param(
        {"type": "Polygon", "coordinates": _ring([100, 5], [110, 5], [110, 15], [100, 15])},
        ["ha", "plausibly"],
        id="absurd-area",
    ),
    pytest.param({"type": "Polygon"}, ["coordinates"], id="no-coordinates"),
    pytest.param({"coordinates": [_SQUARE]}, ["type"], id="no-type"),
    pytest.param(
        {"type": "Polygon", "coordinates": "105.4 9.3"}, ["list"], id="coordinates-string"
    ),
    pytest.param({"type": "Polygon", "coordinates": [[1, 2, 3, 4]]}, ["pair"], id="flat-ring"),
    pytest.param(
        {
            "type": "MultiPolygon",
            "coordinates": [[_SQUARE], [_ring([1, 1], [2, 2], [2, 1], [1, 2])[0]]],
        },
        ["self-intersection", "1.5 1.5"],
        id="multipolygon-bad-part",
    ),
    pytest.param(
        {
            "type": "Polygon",
            "coordinates": [
                _SQUARE,
                [[105.5, 9.5], [105.501, 9.5], [105.501, 9.501], [105.5, 9.5]],
            ],
        },
        ["hole"],
        id="hole-outside-shell",
    ),
]


@pytest.mark.parametrize(("geometry", "words"), BAD_GEOMETRIES)
def test_bad_geometry_is_rejected(client, admin_headers, factory, db, geometry, words):
    farmer = factory.farmer()
    f = {
        "type": "Feature",
        "geometry": geometry,
        "properties": {"code": "GR-BAD", "farmer_id": farmer.id},
    }
    rejected(client.post(f"{API}/fields", json=f, headers=admin_headers), 422, *words)
    # The same feature inside a collection: the whole import is refused, naming it.
    good = _fc(farmer.id, 2)
    r = client.post(
        f"{API}/fields/import", json=_collection(good[0], f, good[1]), headers=admin_headers
    )
    rejected(r, 422, "feature 1", "GR-BAD", *words)
    assert rows(db, "fields") == {"fields": 0}


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_coordinates(client, admin_headers, factory, db, value):
    farmer = factory.farmer()
    ring = f"[[[{value},9.3],[105.401,9.3],[105.401,9.301]]]"
    body = (
        f'{{"type":"Feature","properties":{{"code":"GR-NAN","farmer_id":{farmer.id}}},'
        f'"geometry":{{"type":"Polygon","coordinates":{ring}}}}}'
    )
    r = client.post(
        f"{API}/fields", content=body, headers={**admin_headers, "Content-Type": "application/json"}
    )
    assert 400 <= r.status_code < 500, r.text
    assert rows(db, "fields") == {"fields": 0}


BAD_PROPERTIES = [
    pytest.param({"farmer_id": 1}, ["code"], id="no-code"),
    pytest.param({"code": "GR-1"}, ["farmer_id"], id="no-farmer"),
    pytest.param({"code": "GR 1", "farmer_id": 1}, ["code"], id="code-with-space"),
    pytest.param({"code": "GR/1", "farmer_id": 1}, ["code"], id="code-with-slash"),
    pytest.param({"code": "", "farmer_id": 1}, ["code"], id="empty-code"),
    pytest.param({"code": "GR-1", "farmer_id": "Ba"}, ["farmer_id"], id="farmer-not-int"),
    pytest.param({"code": "GR-1", "farmer_id": 10**30}, ["farmer_id"], id="farmer-id-huge"),
    pytest.param(
        {"code": "GR-1", "farmer_id": 424242}, ["farmer_id", "424242"], id="farmer-unknown"
    ),
]


@pytest.mark.parametrize(("props", "words"), BAD_PROPERTIES)
def test_bad_properties_are_rejected(client, admin_headers, db, props, words):
    f = {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [_SQUARE]},
        "properties": props,
    }
    rejected(client.post(f"{API}/fields", json=f, headers=admin_headers), 422, *words)
    assert rows(db, "fields") == {"fields": 0}


def test_duplicate_field_code(client, admin_headers, factory, db):
    farmer = factory.farmer()
    f = feature("GR-D", farmer.id, rectangle_lonlat(0, 0, 100, 100))
    assert client.post(f"{API}/fields", json=f, headers=admin_headers).status_code == 201
    g = copy.deepcopy(f)
    g["geometry"] = mapping(rectangle_lonlat(500, 0, 100, 100))
    rejected(
        client.post(f"{API}/fields", json=g, headers=admin_headers), 409, "GR-D", "already exists"
    )
    assert rows(db, "fields") == {"fields": 1}


def test_not_a_feature(client, admin_headers, db):
    for body in ({"type": "FeatureCollection", "features": []}, {"geometry": {}}, [], "x"):
        r = client.post(f"{API}/fields", json=body, headers=admin_headers)
        assert r.status_code == 422, r.text
    assert rows(db, "fields") == {"fields": 0}


def test_only_admin_writes_fields(client, factory, db):
    farmer = factory.farmer()
    f = feature("GR-F", farmer.id, rectangle_lonlat(0, 0, 100, 100))
    for headers in (factory.token("farmer", farmer), factory.token("operator")):
        rejected(client.post(f"{API}/fields", json=f, headers=headers), 403, "admin")
        rejected(client.post(f"{API}/fields/import", json=_collection(f), headers=headers), 403)
    rejected(client.post(f"{API}/fields", json=f), 401)
    assert rows(db, "fields") == {"fields": 0}


def test_area_is_true_far_from_vietnam(client, admin_headers, factory):
    # A 0.001° square at 60°N is half as wide as at the equator; the area must follow.
    farmer = factory.farmer()
    for code, lat in (("EQ", 0.0), ("N60", 60.0)):
        ring = _ring([10, lat], [10.001, lat], [10.001, lat + 0.001], [10, lat + 0.001])
        f = {
            "type": "Feature",
            "geometry": {"type": "Polygon", "coordinates": ring},
            "properties": {"code": code, "farmer_id": farmer.id},
        }
        assert client.post(f"{API}/fields", json=f, headers=admin_headers).status_code == 201
    eq = client.get(f"{API}/fields/EQ", headers=admin_headers).json()["properties"]["area_ha"]
    n60 = client.get(f"{API}/fields/N60", headers=admin_headers).json()["properties"]["area_ha"]
    assert eq == pytest.approx(1.2308, rel=0.01)
    assert n60 / eq == pytest.approx(math.cos(math.radians(60.0005)), rel=0.01)
