"""Vietnam's administrative units: provinces and their communes, with their national codes.

Since 1 July 2025 Vietnam has two levels of local government, the province and the
commune (xã, phường, đặc khu); districts are gone. Bạc Liêu province was merged into
Cà Mau province (Resolution 202/2025/QH15), and its communes were merged into new,
larger ones (Resolution 1655/NQ-UBTVQH15 of 16 June 2025). A field carries the code
of its commune; the former district stays on the field as a free ``district`` label.

Where the units come from: the ``vietnam-provinces`` package, which carries the General
Statistics Office's list of the 34 provinces and 3,321 communes with their national codes
(Cà Mau 96, phường Bạc Liêu 31825, ...). A release carries the list like it carries its
migrations: units change by law, not by API call. Codes are written as the national list
writes them, two digits for a province and five for a commune (``"01"``, ``"00004"``).

A pre-2025 address (``"xã Vĩnh Mỹ A, huyện Hòa Bình, tỉnh Bạc Liêu"``) is converted to the
commune that took in its former commune with the ``vietnamadminunits`` package
(:func:`convert_former`, :func:`modern_address`).

Until 2026-12 fields carried provisional codes ``96Pnn``; migration
``0012_demo_official_communes`` moved them to the national codes.
"""

from dataclasses import dataclass
from functools import lru_cache

import orjson
from vietnam_provinces import NESTED_DIVISIONS_JSON_PATH

from traceability.models import AdminUnitLevel

PROVINCE = AdminUnitLevel.province
COMMUNE = AdminUnitLevel.commune
# How the national list names a unit's type, and how an address writes it.
_TYPE_PREFIXES = ("thành phố ", "tỉnh ", "phường ", "xã ", "đặc khu ")


@dataclass(frozen=True)
class AdminUnit:
    """A province or a commune."""

    code: str
    name: str
    level: AdminUnitLevel
    parent_code: str | None = None
    #: Kept for the API's shape; every unit now carries its national code.
    provisional_code: bool = False


def _address_name(name: str, division_type: str) -> str:
    """The name as an address writes it: the unit's type in lower case, then its name.

    >>> _address_name("Phường Bạc Liêu", "phường"), _address_name("Cà Mau", "tỉnh")
    ('phường Bạc Liêu', 'tỉnh Cà Mau')
    >>> _address_name("Thành phố Cần Thơ", "thành phố trung ương")
    'thành phố Cần Thơ'
    """
    lowered = name[:1].lower() + name[1:]
    if lowered.startswith(_TYPE_PREFIXES):
        return lowered
    return f"{division_type} {name}"


def _load() -> tuple[AdminUnit, ...]:
    provinces = orjson.loads(NESTED_DIVISIONS_JSON_PATH.read_bytes())
    units: list[AdminUnit] = []
    for p in provinces:
        code = f"{p['code']:02d}"
        units.append(AdminUnit(code, _address_name(p["name"], p["division_type"]), PROVINCE))
        units += [
            AdminUnit(
                f"{w['code']:05d}", _address_name(w["name"], w["division_type"]), COMMUNE, code
            )
            for w in p["wards"]
        ]
    return tuple(sorted(units, key=lambda u: u.code))


UNITS: tuple[AdminUnit, ...] = _load()
BY_CODE: dict[str, AdminUnit] = {u.code: u for u in UNITS}
CA_MAU = BY_CODE["96"]


def get(code: str) -> AdminUnit | None:
    """The unit with this code, if the national list has it.

    >>> get("96").name, get("31825").name
    ('tỉnh Cà Mau', 'phường Bạc Liêu')
    """
    return BY_CODE.get(code)


def is_commune(code: str) -> bool:
    """Whether ``code`` names a commune (not a province) of the national list.

    >>> is_commune("31825"), is_commune("96"), is_commune("96P01")
    (True, False, False)
    """
    unit = BY_CODE.get(code)
    return unit is not None and unit.level is COMMUNE


def units(
    *, level: AdminUnitLevel | None = None, parent_code: str | None = None
) -> list[AdminUnit]:
    """Units in code order, optionally of one level or under one province."""
    return [
        u
        for u in UNITS
        if (level is None or u.level == level)
        and (parent_code is None or u.parent_code == parent_code)
    ]


@lru_cache(maxsize=1024)
def convert_former(address: str) -> AdminUnit | None:
    """The commune (since July 2025) that took in the former commune of a pre-2025 address.

    ``address`` is the former commune, district and province, without a street: where a
    former commune was split, ``vietnamadminunits`` would geocode a street over the
    network, and without one it takes the commune the split named as the default.

    >>> convert_former("xã Vĩnh Mỹ A, huyện Hòa Bình, tỉnh Bạc Liêu").name
    'xã Hòa Bình'
    """
    from vietnamadminunits import convert_address

    try:
        converted = convert_address(address)
    except (ValueError, KeyError, AttributeError):
        return None  # the library raises on an address it cannot read
    code = getattr(converted, "ward_code", None)
    return BY_CODE.get(f"{int(code):05d}") if code else None


def modern_address(former: str, *, province: str = "tỉnh Bạc Liêu") -> str:
    """A pre-2025 address (``"Ấp X, xã Y, huyện Z"``) written with today's units.

    The first part (hamlet, street) is kept; the former commune and district become the
    commune that took them in, and its province. An address that cannot be converted is
    returned as it was.

    >>> modern_address("Ấp Xóm Mới, xã Vĩnh Mỹ A, huyện Hòa Bình")
    'Ấp Xóm Mới, xã Hòa Bình, tỉnh Cà Mau'
    """
    head, _, rest = former.partition(", ")
    if not rest:
        return former
    unit = convert_former(f"{rest}, {province}")
    if unit is None:
        return former
    return f"{head}, {unit.name}, {BY_CODE[unit.parent_code].name}"
