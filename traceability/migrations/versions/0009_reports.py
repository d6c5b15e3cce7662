"""Low-emission rice records: products' nitrogen content, what became of the straw

Revision ID: 0009
Revises: 0008
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STRAW = sa.Enum("removed", "incorporated", "composted", "burnt", name="strawhandling")


def upgrade() -> None:
    _STRAW.create(op.get_bind(), checkfirst=True)
    with op.batch_alter_table("inputs") as batch_op:
        batch_op.add_column(sa.Column("nitrogen_pct", sa.Float(), nullable=True))
    with op.batch_alter_table("diary_entries") as batch_op:
        batch_op.add_column(sa.Column("straw_handling", _STRAW, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("diary_entries") as batch_op:
        batch_op.drop_column("straw_handling")
    with op.batch_alter_table("inputs") as batch_op:
        batch_op.drop_column("nitrogen_pct")
    _STRAW.drop(op.get_bind(), checkfirst=True)
