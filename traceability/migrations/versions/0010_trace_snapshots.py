"""The buyer's trace rendered ahead of the scan: one row per lot and rendering

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import traceability.models

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "trace_snapshots",
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("variant", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("stamp", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("lot_ids", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("field_ids", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("body", sa.LargeBinary(), nullable=False),
        sa.Column("built_at", traceability.models.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("lot_id", "variant"),
    )


def downgrade() -> None:
    op.drop_table("trace_snapshots")
