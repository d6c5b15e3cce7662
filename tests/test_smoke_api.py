from tests.factories import feature, rectangle_lonlat


def test_create_read_field_and_diary(client, admin_headers, factory):
    farmer = factory.farmer()
    poly = rectangle_lonlat(0, 0, 100, 200)
    r = client.post(
        "/api/v1/fields", json=feature("GR-0042", farmer.id, poly), headers=admin_headers
    )
    assert r.status_code == 201, r.text
    body = r.json()
    assert abs(body["properties"]["area_ha"] - 2.0) < 0.01
    r = client.post(
        "/api/v1/diary",
        json={
            "field_code": "GR-0042",
            "occurred_at": "2026-02-01T08:00:00+07:00",
            "activity": "observe",
        },
        headers=admin_headers,
    )
    assert r.status_code == 201, r.text
    r = client.get("/api/v1/fields/GR-0042/diary/verify", headers=admin_headers)
    assert r.json()["valid"] is True, r.text
