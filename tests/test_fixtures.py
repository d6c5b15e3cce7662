"""The fixture slice of the province loads completely, correctly and idempotently."""

import json

import pytest
from pyproj import Transformer
from shapely.geometry import shape
from shapely.ops import transform
from sqlmodel import func, select

from traceability import adminunits
from traceability.models import Drone, Farmer, FarmField, InputProduct, NoSprayZone
from traceability.services.fixtures import FIXTURES_DIR, load_fixtures


def test_fixtures_load_once_with_true_areas(session):
    counts = load_fixtures(session, directory=FIXTURES_DIR)
    source = json.loads((FIXTURES_DIR / "fields.geojson").read_text())["features"]
    assert counts["drones"] == 86
    assert counts["fields"] == len(source) >= 300
    assert counts["farmers"] == len(json.loads((FIXTURES_DIR / "farmers.json").read_text()))
    assert counts["no-spray zones"] > 0
    assert session.exec(select(func.count()).select_from(Drone)).one() == 86

    # Areas against an independent projection of the source polygons into UTM 48N.
    to_utm = Transformer.from_crs(4326, 32648, always_xy=True).transform
    expected = {
        f["properties"]["code"]: transform(to_utm, shape(f["geometry"])).area / 1e4 for f in source
    }
    stored = dict(session.exec(select(FarmField.code, FarmField.area_ha)).all())
    assert stored.keys() == expected.keys()
    for code, area in expected.items():
        assert stored[code] == pytest.approx(area, rel=1e-4), code
    owners = session.exec(
        select(FarmField.code, Farmer.code).join(Farmer, Farmer.id == FarmField.farmer_id)
    ).all()
    by_source = {f["properties"]["code"]: f["properties"]["farmer_code"] for f in source}
    assert dict(owners) == by_source

    again = load_fixtures(session, directory=FIXTURES_DIR)
    assert set(again.values()) == {0}
    for model in (Drone, FarmField, Farmer, InputProduct, NoSprayZone):
        assert session.exec(select(func.count()).select_from(model)).one() > 0
    assert session.exec(select(func.count()).select_from(FarmField)).one() == len(source)


def test_fixture_fields_lie_in_known_communes_of_ca_mau(session):
    load_fixtures(session, directory=FIXTURES_DIR)
    places = session.exec(select(FarmField.code, FarmField.commune_code, FarmField.district)).all()
    districts = {"GR": "thị xã Giá Rai", "VL": "huyện Vĩnh Lợi", "HB": "huyện Hòa Bình"}
    districts["PL"] = "huyện Phước Long"
    for code, commune, district in places:
        unit = adminunits.get(commune)
        assert unit is not None and unit.level == "commune" and unit.parent_code == "96", code
        assert district == districts[code[:2]], code
    # Each former district's fields lie in a few communes of their own.
    communes_of = {}
    for code, commune, _ in places:
        communes_of.setdefault(code[:2], set()).add(commune)
    assert all(1 <= len(c) <= 4 for c in communes_of.values())
    assert len(set.union(*communes_of.values())) == sum(len(c) for c in communes_of.values())
