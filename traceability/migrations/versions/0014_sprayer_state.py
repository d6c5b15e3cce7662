"""Missions say when their drone never said its sprayer's state

Revision ID: 0014_sprayer_state
Revises: 0013_emissions

A MAVLink vehicle whose parameters name no sprayer pump output (``SERVOn_FUNCTION`` 22)
still flies missions, from arming to disarming; its fixes cannot say whether it sprayed.
Such a mission records that its sprayer's state is unknown, so that its sprayed area of
zero is read as unknown, not as nothing sprayed. Missions stored before said their state.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_sprayer_state"
down_revision: str | None = "0013_emissions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("missions") as batch_op:
        batch_op.add_column(
            sa.Column(
                "sprayer_state_unknown", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("missions") as batch_op:
        batch_op.drop_column("sprayer_state_unknown")
