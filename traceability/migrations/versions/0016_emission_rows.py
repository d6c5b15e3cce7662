"""The low-emission rice report's rows kept aside per season

Revision ID: 0016_emission_rows
Revises: 0015_applied_index

A province's report computed every season's water regime, methane and indicators from
its million diary rows on each request (45 s, the MRV pack 65 s). Each season's row and
its evidence are now kept with the stamp of what they were computed from, and computed
again only where that changed.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016_emission_rows"
down_revision: str | None = "0015_applied_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "emission_rows",
        sa.Column("season_id", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("stamp", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("row", sa.LargeBinary(), nullable=False),
        sa.Column("evidence", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["season_id"], ["seasons.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("season_id"),
    )
    op.create_index("ix_emission_rows_field_id", "emission_rows", ["field_id"])


def downgrade() -> None:
    op.drop_index("ix_emission_rows_field_id", table_name="emission_rows")
    op.drop_table("emission_rows")
