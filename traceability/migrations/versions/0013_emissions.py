"""Low-emission rice evidence: the amount of straw a ``straw`` diary entry records (t/ha)

Revision ID: 0013_emissions
Revises: 0012_trust
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_emissions"
down_revision: str | None = "0012_demo_official_communes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable and hashed only when set: every entry written before keeps its hash.
    with op.batch_alter_table("diary_entries") as batch_op:
        batch_op.add_column(sa.Column("straw_t_per_ha", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("diary_entries") as batch_op:
        batch_op.drop_column("straw_t_per_ha")
