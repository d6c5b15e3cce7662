"""``agritrace import-fields``: a cadastral export in VN-2000 into a SQLite file database."""

import json

import pytest
from pyproj import Transformer
from shapely.geometry import shape
from sqlalchemy import text
from sqlmodel import Session
from typer.testing import CliRunner

from agritrace.cli import app
from tests.factories import rectangle_lonlat
from traceability.db import get_engine, make_engine
from traceability.models import FarmerCreate
from traceability.services.catalog import create_farmer

_TO_VN2000 = Transformer.from_crs(4326, 3405, always_xy=True)


@pytest.fixture
def database(tmp_path, monkeypatch):
    """A migrated SQLite file named by AGRITRACE_DATABASE_URL, with one farmer: its engine."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("AGRITRACE_DATABASE_URL", url)
    get_engine.cache_clear()  # the CLI's engine follows the environment of this test
    result = CliRunner().invoke(app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    engine = make_engine(url)
    with Session(engine) as session:
        create_farmer(session, data=FarmerCreate(name="Nguyễn Văn Ba"))
    yield engine
    engine.dispose()
    get_engine().dispose()
    get_engine.cache_clear()


def _vn2000_feature(parcel, polygon, **props):
    ring = [list(_TO_VN2000.transform(x, y)) for x, y in polygon.exterior.coords]
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"SoThua": parcel, **props},  # cadastral parcel number
    }


def _fields(engine):
    with engine.connect() as conn:
        return conn.execute(text("SELECT code, area_ha, geometry FROM fields ORDER BY code")).all()


TRUTH = {
    "T-12": rectangle_lonlat(0, 0, 100, 200),
    "T-13": rectangle_lonlat(150, 0, 120, 50),
    "T-14": rectangle_lonlat(300, 0, 40, 40),
}
AREA_HA = {"T-12": 2.0, "T-13": 0.6, "T-14": 0.16}


def _write(tmp_path, features, **extra):
    path = tmp_path / "thua_dat.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features, **extra}))
    return path


def test_import_vn2000_with_crs_option(database, tmp_path):
    path = _write(tmp_path, [_vn2000_feature(c, p) for c, p in TRUTH.items()])
    result = CliRunner().invoke(
        app,
        [
            "import-fields",
            str(path),
            "--crs",
            "EPSG:3405",
            "--farmer-id",
            "1",
            "--code-property",
            "SoThua",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "imported 3 fields" in result.output and "EPSG:3405" in result.output
    assert "checking fields" in result.output and "100%" in result.output  # the progress bar
    stored = _fields(database)
    assert [row.code for row in stored] == sorted(TRUTH)
    for row in stored:
        truth = TRUTH[row.code]
        geometry = json.loads(row.geometry) if isinstance(row.geometry, str) else row.geometry
        assert shape(geometry).equals_exact(truth, 1e-6), row.code  # ~10 cm
        assert row.area_ha == pytest.approx(truth.area and _utm_area_ha(truth), rel=1e-3)


def _utm_area_ha(polygon):
    to_utm = Transformer.from_crs(4326, 32648, always_xy=True)
    return (
        shape(
            {
                "type": "Polygon",
                "coordinates": [[to_utm.transform(x, y) for x, y in polygon.exterior.coords]],
            }
        ).area
        / 10_000.0
    )


def test_crs_declared_in_the_file(database, tmp_path):
    crs = {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3405"}}
    features = [_vn2000_feature("T-12", TRUTH["T-12"], code="T-12", farmer_id=1)]
    result = CliRunner().invoke(app, ["import-fields", str(_write(tmp_path, features, crs=crs))])
    assert result.exit_code == 0, result.output
    assert [row.code for row in _fields(database)] == ["T-12"]


def test_a_bad_parcel_imports_nothing(database, tmp_path):
    features = [_vn2000_feature(c, p) for c, p in TRUTH.items()]
    x0, y0 = features[1]["geometry"]["coordinates"][0][0]
    bowtie = [[x0, y0], [x0 + 100, y0 + 100], [x0 + 100, y0], [x0, y0 + 100], [x0, y0]]
    features[1]["geometry"]["coordinates"] = [bowtie]
    path = _write(tmp_path, features)
    result = CliRunner().invoke(
        app,
        [
            "import-fields",
            str(path),
            "--crs",
            "EPSG:3405",
            "--farmer-id",
            "1",
            "--code-property",
            "SoThua",
        ],
    )
    assert result.exit_code == 1, result.output
    assert "nothing imported" in result.output
    assert "feature 1 (T-13)" in result.output and "Self-intersection" in result.output
    assert "Traceback" not in result.output
    assert _fields(database) == []


def test_wgs84_parcels_without_crs_are_refused(database, tmp_path):
    # Metres read as degrees: the message must point at the coordinates, not crash.
    path = _write(tmp_path, [_vn2000_feature(c, p) for c, p in TRUTH.items()])
    result = CliRunner().invoke(
        app, ["import-fields", str(path), "--farmer-id", "1", "--code-property", "SoThua"]
    )
    assert result.exit_code == 1, result.output
    assert "nothing imported" in result.output and "longitude" in result.output
    assert _fields(database) == []


def test_unknown_crs_and_unknown_farmer(database, tmp_path):
    path = _write(tmp_path, [_vn2000_feature(c, p) for c, p in TRUTH.items()])
    args = ["import-fields", str(path), "--code-property", "SoThua"]
    result = CliRunner().invoke(app, [*args, "--crs", "EPSG:999999", "--farmer-id", "1"])
    assert result.exit_code == 1 and "EPSG:999999" in result.output, result.output
    result = CliRunner().invoke(app, [*args, "--crs", "EPSG:3405", "--farmer-id", "77"])
    assert result.exit_code == 1 and "farmer_id 77" in result.output, result.output
    assert _fields(database) == []


def test_not_a_feature_collection(database, tmp_path):
    path = tmp_path / "x.geojson"
    for content in ("{not json", '{"type": "Feature"}', "[1, 2]"):
        path.write_text(content)
        result = CliRunner().invoke(app, ["import-fields", str(path)])
        assert result.exit_code != 0 and "Traceback" not in result.output, result.output
    result = CliRunner().invoke(app, ["import-fields", str(tmp_path / "missing.geojson")])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert _fields(database) == []


def test_report_command_prints_and_saves(database, tmp_path):
    # The fixture's database has a farmer and no missions: an empty fleet, said plainly.
    shown = CliRunner().invoke(app, ["report", "fleet"])
    assert shown.exit_code == 0 and "(no rows)" in shown.output
    out = tmp_path / "missions.csv"
    saved = CliRunner().invoke(app, ["report", "missions", "--out", str(out)])
    assert saved.exit_code == 0 and "0 rows written" in saved.output
    assert out.read_text(encoding="utf-8-sig").splitlines()[0].startswith("mission_id,drone_code")
    unknown = CliRunner().invoke(app, ["report", "nothing"])
    assert unknown.exit_code != 0 and "missions" in unknown.output
