"""Administrative units: the national list as the libraries carry it, and the migration of
fields' provisional commune codes to national ones.

Expected values come from the libraries themselves (``vietnam-provinces`` through its
Python API, ``vietnamadminunits`` through its converter), never from a hand-made copy.
"""

import importlib.util
import logging

from sqlalchemy import text
from sqlmodel import Session
from vietnam_provinces import Province, Ward
from vietnamadminunits import convert_address

from tests.factories import Factory
from traceability import adminunits
from traceability.db import migrate
from traceability.migrations.versions import __path__ as versions_path

MIGRATION = "0012_demo_official_communes"


def _migration():
    path = f"{versions_path[0]}/{MIGRATION}.py"
    spec = importlib.util.spec_from_file_location(MIGRATION, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _as_written(name: str) -> str:
    """A library name ("Xã Hòa Bình") as an address writes it ("xã Hòa Bình")."""
    return name[:1].lower() + name[1:]


def test_the_units_are_the_national_list_of_the_library():
    wards = {f"{int(w.code):05d}": w for w in Ward.iter_all()}
    provinces = {f"{int(p.code):02d}": p for p in Province.iter_all()}
    communes = adminunits.units(level="commune")
    assert {u.code for u in communes} == set(wards)
    assert {u.code for u in adminunits.units(level="province")} == set(provinces)
    for unit in communes:
        ward = wards[unit.code]
        assert unit.name == _as_written(ward.name), unit
        assert unit.parent_code == f"{int(ward.province_code):02d}", unit
    assert provinces["96"].name == "Cà Mau" and adminunits.get("96").name == "tỉnh Cà Mau"
    ca_mau = {u.code for u in adminunits.units(parent_code="96")}
    assert ca_mau == {c for c, w in wards.items() if int(w.province_code) == 96}
    # Provisional codes are no longer communes.
    assert not adminunits.is_commune("96P01") and adminunits.is_commune("31825")


def test_every_provisional_code_maps_to_the_commune_of_its_name():
    ca_mau = {
        _as_written(w.name): f"{int(w.code):05d}"
        for w in Ward.iter_all()
        if int(w.province_code) == 96
    }
    for provisional, (name, national) in _migration().PROVISIONAL.items():
        # The name the provisional code stood for is the national list's, or absent from it.
        assert ca_mau.get(name) == national, (provisional, name, national)


def test_a_former_address_becomes_the_commune_the_converter_names():
    for former in (
        "xã Vĩnh Mỹ A, huyện Hòa Bình, tỉnh Bạc Liêu",
        "xã Phong Thạnh Đông, thị xã Giá Rai, tỉnh Bạc Liêu",
        "xã Châu Hưng A, huyện Vĩnh Lợi, tỉnh Bạc Liêu",
    ):
        expected = convert_address(former)
        unit = adminunits.convert_former(former)
        assert unit.code == f"{int(expected.ward_code):05d}" and unit.parent_code == "96"
        assert unit.name == _as_written(expected.ward)
    hamlet = adminunits.modern_address("Ấp Xóm Mới, xã Vĩnh Mỹ A, huyện Hòa Bình")
    ward = convert_address("xã Vĩnh Mỹ A, huyện Hòa Bình, tỉnh Bạc Liêu").ward
    assert hamlet == f"Ấp Xóm Mới, {_as_written(ward)}, tỉnh Cà Mau"
    # Nothing to convert: left as written.
    assert adminunits.modern_address("Ấp Xóm Mới") == "Ấp Xóm Mới"
    assert adminunits.modern_address("Ấp A, xã Không Có, huyện Không Có") == (
        "Ấp A, xã Không Có, huyện Không Có"
    )


def test_the_migration_moves_provisional_codes_and_former_villages(fresh_db, caplog):
    migrate(fresh_db, "0011")
    with Session(fresh_db) as s:
        factory = Factory(s)
        old = factory.farmer(village="Ấp Xóm Mới, xã Vĩnh Mỹ A, huyện Hòa Bình")
        plain = factory.farmer(village="Ấp Cái Cùng")
        codes = {"F-10": "96P10", "F-31": "96P31", "F-11": "96P11", "F-XX": "XYZ"}
        for code in codes:
            factory.field(farmer=old, code=code)
        factory.field(farmer=plain, code="F-NONE")
        ids = (old.id, plain.id)
    with fresh_db.begin() as conn:
        for code, commune in codes.items():
            conn.execute(
                text("UPDATE fields SET commune_code = :c WHERE code = :f"),
                {"c": commune, "f": code},
            )

    with caplog.at_level(logging.WARNING, logger="alembic.runtime.migration"):
        migrate(fresh_db)

    mapping = _migration().PROVISIONAL
    with fresh_db.connect() as conn:
        after = dict(conn.execute(text("SELECT code, commune_code FROM fields")).all())
        villages = dict(conn.execute(text("SELECT id, village FROM farmers")).all())
    assert after == {
        "F-10": mapping["96P10"][1],
        "F-31": mapping["96P31"][1],
        "F-11": "96P11",  # no national commune of its name: left, and reported
        "F-XX": "XYZ",
        "F-NONE": None,
    }
    warned = " ".join(r.getMessage() for r in caplog.records)
    assert "96P11 (1 fields)" in warned and "XYZ (1 fields)" in warned
    ward = convert_address("xã Vĩnh Mỹ A, huyện Hòa Bình, tỉnh Bạc Liêu").ward
    assert villages[ids[0]] == f"Ấp Xóm Mới, {_as_written(ward)}, tỉnh Cà Mau"
    assert villages[ids[1]] == "Ấp Cái Cùng"

    migrate_down(fresh_db)
    with fresh_db.connect() as conn:
        before = dict(conn.execute(text("SELECT code, commune_code FROM fields")).all())
    assert before["F-10"] == "96P10" and before["F-31"] == "96P31" and before["F-11"] == "96P11"


def migrate_down(engine) -> None:
    from alembic import command

    from traceability.db import alembic_config

    command.downgrade(alembic_config(engine), "0011")
