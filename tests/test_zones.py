"""No-spray zones: GeoJSON in and out, checks, roles."""

from tests.mqtt import lonlat

API = "/api/v1"


def square(x: float, y: float, size: float) -> dict:
    ring = [
        list(lonlat(px, py))
        for px, py in [(x, y), (x + size, y), (x + size, y + size), (x, y + size), (x, y)]
    ]
    return {"type": "Polygon", "coordinates": [ring]}


def zone(code: str, geometry: dict, **props) -> dict:
    return {
        "type": "Feature",
        "geometry": geometry,
        "properties": {"code": code, "kind": "canal"} | props,
    }


def test_create_import_list_read(client, admin_headers, factory):
    r = client.post(
        f"{API}/zones",
        json=zone("Z1", square(0, 0, 20), name="Kênh 1", buffer_m=5),
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["type"] == "Feature" and body["id"] == "Z1"
    assert body["properties"] | {"id": None} == {
        "id": None,
        "code": "Z1",
        "kind": "canal",
        "name": "Kênh 1",
        "buffer_m": 5.0,
    }
    canal_line = {
        "type": "LineString",
        "coordinates": [list(lonlat(0, 100)), list(lonlat(500, 100))],
    }
    pond = zone("POND-1", square(1000, 0, 50), kind="shrimp_pond", buffer_m=10)
    r = client.post(
        f"{API}/zones/import",
        json={"type": "FeatureCollection", "features": [zone("Z2", canal_line, buffer_m=3), pond]},
        headers=admin_headers,
    )
    assert r.status_code == 201 and r.json() == {"created": 2, "codes": ["Z2", "POND-1"]}

    operator = factory.token("operator")
    listed = client.get(f"{API}/zones", headers=operator).json()
    assert listed["type"] == "FeatureCollection" and listed["count"] == 3
    assert [f["id"] for f in listed["features"]] == ["POND-1", "Z1", "Z2"]
    assert client.get(f"{API}/zones?kind=shrimp_pond", headers=operator).json()["count"] == 1
    lon0, lat0 = lonlat(-10, -10)
    lon1, lat1 = lonlat(30, 30)
    near = client.get(f"{API}/zones?bbox={lon0},{lat0},{lon1},{lat1}", headers=operator).json()
    assert [f["id"] for f in near["features"]] == ["Z1"]
    one = client.get(f"{API}/zones/Z2", headers=operator).json()
    assert one["geometry"]["type"] == "LineString" and one["properties"]["buffer_m"] == 3.0
    assert client.get(f"{API}/zones/NOPE", headers=operator).status_code == 404


def test_bad_zones_are_clear_4xx_and_imports_all_or_nothing(client, admin_headers):
    ok = zone("Z1", square(0, 0, 20))
    cases = [
        zone(
            "Z9", {"type": "LineString", "coordinates": [list(lonlat(0, 0)), list(lonlat(10, 0))]}
        ),  # no buffer
        zone("Z9", {"type": "Polygon", "coordinates": [[[105, 9], [105, 9.1]]]}),
        zone("Z9", {"type": "Polygon", "coordinates": [[[105, 95], [105.1, 95], [105.1, 95.1]]]}),
        zone("Z9", {"type": "GeometryCollection", "geometries": []}),
        zone("bad code!", square(0, 0, 10)),
        zone("Z9", square(0, 0, 10), buffer_m=-1),
        {"type": "Feature", "geometry": square(0, 0, 10), "properties": {"code": "Z9"}},  # no kind
    ]
    for case in cases:
        r = client.post(f"{API}/zones", json=case, headers=admin_headers)
        assert r.status_code == 422, (case, r.text)
        assert r.json()["detail"]
    assert client.post(f"{API}/zones", json=ok, headers=admin_headers).status_code == 201
    assert client.post(f"{API}/zones", json=ok, headers=admin_headers).status_code == 409
    r = client.post(
        f"{API}/zones/import",
        json={"type": "FeatureCollection", "features": [zone("Z2", square(0, 0, 5)), cases[0]]},
        headers=admin_headers,
    )
    assert r.status_code == 422 and "feature 1" in r.json()["detail"]
    assert client.get(f"{API}/zones", headers=admin_headers).json()["count"] == 1


def test_only_admins_write_zones(client, factory):
    operator = factory.token("operator")
    r = client.post(f"{API}/zones", json=zone("Z1", square(0, 0, 20)), headers=operator)
    assert r.status_code == 403
