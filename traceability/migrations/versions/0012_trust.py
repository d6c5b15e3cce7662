"""One append-only transparency log; diary entries hashed in a canonical form (v2)

Revision ID: 0012_trust
Revises: 0011

- ``diary_entries.hash_version`` (1 for every entry written before: their hashes are
  left exactly as they are and still verified in the v1 form) and ``author_role`` (what a
  v2 hash names instead of the author's row id).
- ``tlog_leaves``: the log's leaves at gapless indexes. Every existing diary entry is
  sequenced here, in id order, then every reviewer's acceptance, in id order: a database
  built before keeps every verifiable entry, now in the log.
- ``tlog_checkpoints``: C2SP signed-note checkpoints of the log. The per-field-head
  checkpoints (``log_checkpoints``/``log_leaves``) are kept, unchanged and superseded:
  ``agritrace verify`` still checks a copy saved from them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from traceability import transparency as tl
from traceability.models import UTCDateTime

revision: str = "0012_trust"
down_revision: str | None = "0012_verdicts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("diary_entries") as batch_op:
        batch_op.add_column(
            sa.Column("author_role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(
            sa.Column("hash_version", sa.Integer(), server_default="1", nullable=False)
        )
    op.create_table(
        "tlog_leaves",
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=True),
        sa.Column("acceptance_id", sa.Integer(), nullable=True),
        sa.Column("field_code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("leaf_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["entry_id"], ["diary_entries.id"]),
        sa.ForeignKeyConstraint(["acceptance_id"], ["amendment_acceptances.id"]),
        sa.PrimaryKeyConstraint("idx"),
        sa.UniqueConstraint("entry_id"),
        sa.UniqueConstraint("acceptance_id"),
    )
    op.create_index(op.f("ix_tlog_leaves_field_code"), "tlog_leaves", ["field_code"])
    op.create_table(
        "tlog_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("origin", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("root_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("signed_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_hash", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("vkey", sqlmodel.sql.sqltypes.AutoString(length=300), nullable=False),
        sa.Column("note", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(op.f("ix_tlog_checkpoints_size"), "tlog_checkpoints", ["size"])
    _sequence_existing()


def _sequence_existing() -> None:
    """Every entry written before, in id order, then every acceptance, into the log."""
    conn = op.get_bind()
    leaves = sa.table(
        "tlog_leaves",
        sa.column("idx"),
        sa.column("entry_id"),
        sa.column("acceptance_id"),
        sa.column("field_code"),
        sa.column("leaf_hash"),
    )
    rows = []
    for entry_id, seq, entry_hash, code in conn.execute(
        sa.text(
            "SELECT e.id, e.chain_seq, e.hash, f.code FROM diary_entries e "
            "JOIN fields f ON f.id = e.field_id ORDER BY e.id"
        )
    ):
        leaf = tl.leaf_hash(tl.entry_leaf(code, seq, entry_hash)).hex()
        rows.append(
            {"entry_id": entry_id, "acceptance_id": None, "field_code": code, "leaf_hash": leaf}
        )
    for acc_id, role, accepted_at, entry_hash, code, lot_code in conn.execute(
        sa.text(
            "SELECT a.id, a.role, a.accepted_at, e.hash, f.code, l.code "
            "FROM amendment_acceptances a JOIN diary_entries e ON e.id = a.entry_id "
            "JOIN fields f ON f.id = e.field_id JOIN lots l ON l.id = a.lot_id ORDER BY a.id"
        ).columns(
            sa.column("id"),
            sa.column("role"),
            sa.column("accepted_at", UTCDateTime(timezone=True)),
            sa.column("hash"),
            sa.column("code"),
            sa.column("lot_code"),
        )
    ):
        leaf = tl.acceptance_leaf(
            field_code=code,
            lot_code=lot_code,
            entry_hash=entry_hash,
            role=role,
            accepted_at=accepted_at,
        )
        rows.append(
            {
                "entry_id": None,
                "acceptance_id": acc_id,
                "field_code": code,
                "leaf_hash": tl.leaf_hash(leaf).hex(),
            }
        )
    for idx, row in enumerate(rows):
        row["idx"] = idx
    for start in range(0, len(rows), 5000):
        conn.execute(leaves.insert(), rows[start : start + 5000])


def downgrade() -> None:
    op.drop_index(op.f("ix_tlog_checkpoints_size"), table_name="tlog_checkpoints")
    op.drop_table("tlog_checkpoints")
    op.drop_index(op.f("ix_tlog_leaves_field_code"), table_name="tlog_leaves")
    op.drop_table("tlog_leaves")
    with op.batch_alter_table("diary_entries") as batch_op:
        batch_op.drop_column("hash_version")
        batch_op.drop_column("author_role")
