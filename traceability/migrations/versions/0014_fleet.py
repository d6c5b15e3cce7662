"""Missions say when their drone never said its sprayer's state; a vendor's track is a source

Revision ID: 0014_fleet
Revises: 0014_tlog_nodes

A MAVLink vehicle whose parameters name no sprayer pump output (``SERVOn_FUNCTION`` 22)
still flies missions, from arming to disarming; its fixes cannot say whether it sprayed.
Such a mission records that its sprayer's state is unknown, so that its sprayed area of
zero is read as unknown, not as nothing sprayed. Missions stored before said their state.

A mission may also come from a vendor's exported track (KML or GeoJSON): the source
``track``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_fleet"
down_revision: str | None = "0014_tlog_nodes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("missions") as batch_op:
        batch_op.add_column(
            sa.Column(
                "sprayer_state_unknown", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )
    if op.get_bind().dialect.name == "postgresql":
        # PostgreSQL keeps the source as an enum type; SQLite as text.
        op.execute("ALTER TYPE missionsource ADD VALUE IF NOT EXISTS 'track'")


def downgrade() -> None:
    # PostgreSQL cannot drop an enum value; a 'track' mission would outlive it anyway.
    with op.batch_alter_table("missions") as batch_op:
        batch_op.drop_column("sprayer_state_unknown")
