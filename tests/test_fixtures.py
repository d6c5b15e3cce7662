"""The fixture slice of the province loads completely, correctly and idempotently."""

import importlib.util
import json
import sys

import pytest
from pyproj import Transformer
from shapely.geometry import shape
from shapely.ops import transform
from sqlmodel import func, select
from vietnam_provinces import Ward
from vietnamadminunits import convert_address

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


def _cluster_communes() -> dict[str, tuple[str, list[str]]]:
    """generate.py's clusters: prefix -> (former district, its former communes)."""
    name = "agritrace_fixtures_generate"
    spec = importlib.util.spec_from_file_location(name, FIXTURES_DIR / "generate.py")
    generate = importlib.util.module_from_spec(spec)
    sys.modules[name] = generate  # its dataclasses look their module up there
    spec.loader.exec_module(generate)
    return {c["prefix"]: (c["area"], c["communes"]) for c in generate.CLUSTERS}


def test_fixture_fields_and_farmers_are_placed_in_todays_communes(session):
    load_fixtures(session, directory=FIXTURES_DIR)
    places = session.exec(select(FarmField.code, FarmField.commune_code, FarmField.district)).all()
    clusters = _cluster_communes()
    wards = {f"{int(w.code):05d}": w for w in Ward.iter_all()}
    # What the converter says took in each cluster's former communes (since July 2025).
    merged = {
        prefix: {
            f"{int(convert_address(f'xã {c}, {area}, tỉnh Bạc Liêu').ward_code):05d}"
            for c in communes
        }
        for prefix, (area, communes) in clusters.items()
    }
    for code, commune, district in places:
        assert int(wards[commune].province_code) == 96, code  # a commune of Cà Mau
        assert adminunits.is_commune(commune), code
        assert district == clusters[code[:2]][0], code  # the former district, a label
        assert commune in merged[code[:2]], (code, commune)
    assert {c for _, c, _ in places} == set.union(*merged.values())

    # A farmer's address: hamlet, one of the cluster's communes as the library names it,
    # and Cà Mau province; no former district.
    names = {
        prefix: {w.name[:1].lower() + w.name[1:] for c in codes for w in [wards[c]]}
        for prefix, codes in merged.items()
    }
    rows = session.exec(
        select(Farmer.village, FarmField.code).join(FarmField, FarmField.farmer_id == Farmer.id)
    ).all()
    for village, code in rows:
        _hamlet, commune, province = village.split(", ")
        assert province == "tỉnh Cà Mau" and commune in names[code[:2]], village
        assert "huyện" not in village and "thị xã" not in village, village
