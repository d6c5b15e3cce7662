"""Names and places stored before the API wrote Unicode NFC, rewritten in NFC

Revision ID: 0011
Revises: 0010

Since the API writes every typed name in NFC, a filter compares NFC with NFC: a village
typed before that on a phone that decomposes accents ("Giá Rai" as ``a`` + U+0301) no
longer matches ``?village=Giá Rai``. This rewrites, in NFC, the text columns the API
now normalises on the way in: the names and places of users, farmers, fields, seasons,
input products, drones, lots, no-spray zones and organisations. Only rows whose text
changes are written (so only their stored traces are rebuilt).

Left as written:

- ``diary_entries`` (note, counterparty, applied_by): each entry's hash covers its text
  and the next entry's hash covers that hash; rewriting the text would break every chain
  it is in, and the transparency log's proofs of it. The diary is a record of what was
  written then, spelling included; it is not filtered on.
- ``amendment_acceptances.reason``: append-only, kept as the reviewer wrote it.
- ``ingest_rejects``: the drones' payloads exactly as received (evidence).
- ``log_checkpoints``: signed.
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: table -> the columns typed as ``Name``/``Text``/``RawText`` in traceability/models.py.
COLUMNS: dict[str, tuple[str, ...]] = {
    "users": ("name",),
    "farmers": ("name", "village"),
    "fields": ("name", "district"),
    "seasons": ("crop", "variety"),
    "inputs": ("name", "active_ingredient", "target", "registration_no"),
    "drones": ("model", "operator"),
    "lots": ("product_name", "brand"),
    "nospray_zones": ("name",),
    "organisations": (
        "name",
        "address",
        "brand",
        "certificate_standard",
        "certificate_no",
        "certificate_issuer",
    ),
}


def _changed(rows) -> list[dict]:
    """``{"row_id", "value"}`` of the rows whose text is not already NFC."""
    out = []
    for row_id, value in rows:
        # ASCII is NFC already: most rows are skipped without normalising.
        if value is None or value.isascii():
            continue
        nfc = unicodedata.normalize("NFC", value)
        if nfc != value:
            out.append({"row_id": row_id, "value": nfc})
    return out


def upgrade() -> None:
    conn = op.get_bind()
    for table_name, columns in COLUMNS.items():
        for column in columns:
            table = sa.table(table_name, sa.column("id"), sa.column(column))
            rows = conn.execute(
                sa.select(table.c.id, table.c[column]).where(table.c[column].is_not(None))
            )
            changes = _changed(rows)
            if changes:
                conn.execute(
                    table.update()
                    .where(table.c.id == sa.bindparam("row_id"))
                    .values({column: sa.bindparam("value")}),
                    changes,
                )


def downgrade() -> None:
    # The decomposed spellings are not kept and NFC is the same text: nothing to undo.
    pass
