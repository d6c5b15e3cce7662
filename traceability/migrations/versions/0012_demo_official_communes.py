"""Fields' communes moved from provisional codes to the national codes; pre-2025 villages
written with today's units

Revision ID: 0012_demo_official_communes
Revises: 0011

Until now a field's ``commune_code`` was a provisional code ``96Pnn`` standing for one
commune of Cà Mau (since July 2025) by its name. Each provisional code becomes the
national code of the commune of that name in the General Statistics Office's list, as the
``vietnam-provinces`` package carries it (tests/test_adminunits.py checks every pair
below against the package's data). The mapping is written out here, not looked up at
run time, so this migration does the same thing whatever version of the package is
installed later.

- ``96P11`` stood for "xã Tân Thạnh", which the national list does not have in Cà Mau:
  its fields keep ``96P11``, as does any other code that is neither provisional nor
  national, and the migration names them and their number of fields in its log.
- Farmers' villages written with a former district (``"Ấp X, xã Vĩnh Mỹ A, huyện Hòa
  Bình"``: the districts were abolished with the merger) are rewritten with the commune
  that took in the former one and its province (``"Ấp X, xã Hòa Bình, tỉnh Cà Mau"``),
  converted by ``vietnamadminunits`` (:func:`traceability.adminunits.modern_address`);
  a village it cannot read is left as it is. Lots already recorded keep the village
  their stored trace was written with.

Downgrade gives the fields of those communes their provisional codes back (the villages'
former spelling is not kept).
"""

import logging
from collections import Counter
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_demo_official_communes"
down_revision: str | None = "0012_trust"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")

#: provisional code -> (the commune it stood for, its national code or None if none).
PROVISIONAL: dict[str, tuple[str, str | None]] = {
    "96P01": ("phường Bạc Liêu", "31825"),
    "96P02": ("phường Vĩnh Trạch", "31834"),
    "96P03": ("phường Hiệp Thành", "31840"),
    "96P04": ("phường Giá Rai", "31942"),
    "96P05": ("phường Láng Tròn", "31951"),
    "96P10": ("xã Phong Thạnh", "31957"),
    "96P11": ("xã Tân Thạnh", None),
    "96P20": ("xã Vĩnh Lợi", "31900"),
    "96P21": ("xã Hưng Hội", "31906"),
    "96P22": ("xã Châu Thới", "31894"),
    "96P30": ("xã Hòa Bình", "31891"),
    "96P31": ("xã Vĩnh Mỹ", "31918"),
    "96P32": ("xã Vĩnh Hậu", "31927"),
    "96P40": ("xã Phước Long", "31867"),
    "96P41": ("xã Vĩnh Phước", "31876"),
    "96P42": ("xã Phong Hiệp", "31885"),
    "96P43": ("xã Vĩnh Thanh", "31882"),
    "96P50": ("xã Hồng Dân", "31843"),
    "96P51": ("xã Ninh Quới", "31849"),
    "96P60": ("xã Đông Hải", "31975"),
    "96P61": ("xã Long Điền", "31985"),
    "96P62": ("xã Gành Hào", "31972"),
}
# The former districts' words: a village naming one was written before the merger.
FORMER_DISTRICT_WORDS = ("huyện ", "thị xã ", "thành phố ", "Huyện ", "Thị xã ", "Thành phố ")

_FIELDS = sa.table("fields", sa.column("id"), sa.column("commune_code"))
_FARMERS = sa.table("farmers", sa.column("id"), sa.column("village"))


def _recode(conn, mapping: dict[str, str]) -> None:
    for old, new in mapping.items():
        conn.execute(_FIELDS.update().where(_FIELDS.c.commune_code == old).values(commune_code=new))


def upgrade() -> None:
    from traceability import adminunits

    conn = op.get_bind()
    _recode(conn, {old: new for old, (_name, new) in PROVISIONAL.items() if new})
    counts = Counter(
        code
        for (code,) in conn.execute(
            sa.select(_FIELDS.c.commune_code).where(_FIELDS.c.commune_code.is_not(None))
        )
        if not adminunits.is_commune(code)
    )
    if counts:
        left = ", ".join(f"{code} ({n} fields)" for code, n in sorted(counts.items()))
        log.warning("fields.commune_code left as it was, not a national commune code: %s", left)

    rows = conn.execute(
        sa.select(_FARMERS.c.id, _FARMERS.c.village).where(_FARMERS.c.village.is_not(None))
    ).all()
    changes = []
    for row_id, village in rows:
        if not any(word in village for word in FORMER_DISTRICT_WORDS):
            continue
        modern = adminunits.modern_address(village)
        if modern != village:
            changes.append({"row_id": row_id, "value": modern})
    if changes:
        conn.execute(
            _FARMERS.update()
            .where(_FARMERS.c.id == sa.bindparam("row_id"))
            .values(village=sa.bindparam("value")),
            changes,
        )


def downgrade() -> None:
    _recode(op.get_bind(), {new: old for old, (_name, new) in PROVISIONAL.items() if new})
