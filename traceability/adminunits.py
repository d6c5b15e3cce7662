"""Vietnam's administrative units that agritrace knows: a province and its communes.

Since 1 July 2025 Vietnam has two levels of local government, the province and the
commune (xã, phường, đặc khu); districts are gone. Bạc Liêu province was merged into
Cà Mau province (Resolution 202/2025/QH15), and its communes were merged into new,
larger ones (Resolution 1655/NQ-UBTVQH15 of 16 June 2025). A field carries the code
of its commune; the former district stays on the field as a free ``district`` label.

Where the codes come from:
- Cà Mau province keeps its code, 96, in the national list of administrative units.
- The national codes of the new communes (Decision 19/2025/QĐ-TTg) were not at hand
  when this list was written, so the communes carry **provisional** codes ``96Pnn``:
  the letter P can never clash with a national code, which is five digits. Replace
  them with the national codes (and migrate fields' ``commune_code``) once checked;
  ``provisional_code`` marks every code still to be checked.
- Names are those of the new communes of the former Bạc Liêu area, with diacritics.

Pure data, no database: units change by law, not by API call, and a release carries
them like it carries its migrations.
"""

from dataclasses import dataclass

from traceability.models import AdminUnitLevel


@dataclass(frozen=True)
class AdminUnit:
    """A province or a commune."""

    code: str
    name: str
    level: AdminUnitLevel
    parent_code: str | None = None
    provisional_code: bool = False


PROVINCE = AdminUnitLevel.province
COMMUNE = AdminUnitLevel.commune

CA_MAU = AdminUnit("96", "tỉnh Cà Mau", PROVINCE)


def _commune(n: int, name: str) -> AdminUnit:
    return AdminUnit(f"96P{n:02d}", name, COMMUNE, CA_MAU.code, provisional_code=True)


UNITS: tuple[AdminUnit, ...] = (
    CA_MAU,
    # Wards (phường) of the former Bạc Liêu city and Giá Rai town.
    _commune(1, "phường Bạc Liêu"),
    _commune(2, "phường Vĩnh Trạch"),
    _commune(3, "phường Hiệp Thành"),
    _commune(4, "phường Giá Rai"),
    _commune(5, "phường Láng Tròn"),
    # Communes (xã) of the former Bạc Liêu province's districts.
    _commune(10, "xã Phong Thạnh"),
    _commune(11, "xã Tân Thạnh"),
    _commune(20, "xã Vĩnh Lợi"),
    _commune(21, "xã Hưng Hội"),
    _commune(22, "xã Châu Thới"),
    _commune(30, "xã Hòa Bình"),
    _commune(31, "xã Vĩnh Mỹ"),
    _commune(32, "xã Vĩnh Hậu"),
    _commune(40, "xã Phước Long"),
    _commune(41, "xã Vĩnh Phước"),
    _commune(42, "xã Phong Hiệp"),
    _commune(43, "xã Vĩnh Thanh"),
    _commune(50, "xã Hồng Dân"),
    _commune(51, "xã Ninh Quới"),
    _commune(60, "xã Đông Hải"),
    _commune(61, "xã Long Điền"),
    _commune(62, "xã Gành Hào"),
)

BY_CODE: dict[str, AdminUnit] = {u.code: u for u in UNITS}


def get(code: str) -> AdminUnit | None:
    """The unit with this code, if agritrace knows it.

    >>> get("96").name
    'tỉnh Cà Mau'
    """
    return BY_CODE.get(code)


def is_commune(code: str) -> bool:
    """Whether ``code`` names a known commune (not a province).

    >>> is_commune("96P01"), is_commune("96"), is_commune("31948")
    (True, False, False)
    """
    unit = BY_CODE.get(code)
    return unit is not None and unit.level is COMMUNE


def units(
    *, level: AdminUnitLevel | None = None, parent_code: str | None = None
) -> list[AdminUnit]:
    """Known units in code order, optionally of one level or under one province."""
    return [
        u
        for u in sorted(UNITS, key=lambda u: u.code)
        if (level is None or u.level is level)
        and (parent_code is None or u.parent_code == parent_code)
    ]
