"""Low-emission rice: the field's water before a season's sowing, as the farmer states it

Revision ID: 0014_pre_season
Revises: 0014_fleet
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_pre_season"
down_revision: str | None = "0014_fleet"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: a season written before states nothing, and its figures do not move.
    with op.batch_alter_table("seasons") as batch_op:
        batch_op.add_column(sa.Column("pre_season_water", sa.String(24), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("seasons") as batch_op:
        batch_op.drop_column("pre_season_water")
