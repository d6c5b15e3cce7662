"""A verdict nobody can quietly change: what it rests on in the diary's chain, the
reviewer's acceptance of amendments recorded after a lot, and missions far from the
fields they claim

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from traceability.models import UTCDateTime

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("diary_entries") as batch_op:
        batch_op.add_column(sa.Column("chained", sa.JSON(), nullable=True))
    op.create_table(
        "amendment_acceptances",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("accepted_by", sa.Integer(), nullable=True),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sqlmodel.sql.sqltypes.AutoString(length=1000), nullable=False),
        sa.Column("accepted_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"]),
        sa.ForeignKeyConstraint(["entry_id"], ["diary_entries.id"]),
        sa.ForeignKeyConstraint(["accepted_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("entry_id"),
    )
    op.create_index(
        op.f("ix_amendment_acceptances_lot_id"), "amendment_acceptances", ["lot_id"], unique=False
    )
    op.create_table(
        "mission_claims",
        sa.Column("mission_pk", sa.Integer(), nullable=False),
        sa.Column("field_id", sa.Integer(), nullable=False),
        sa.Column("distance_m", sa.Float(), nullable=False),
        sa.ForeignKeyConstraint(["mission_pk"], ["missions.id"]),
        sa.ForeignKeyConstraint(["field_id"], ["fields.id"]),
        sa.PrimaryKeyConstraint("mission_pk", "field_id"),
    )
    op.create_index(
        op.f("ix_mission_claims_field_id"), "mission_claims", ["field_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_mission_claims_field_id"), table_name="mission_claims")
    op.drop_table("mission_claims")
    op.drop_index(op.f("ix_amendment_acceptances_lot_id"), table_name="amendment_acceptances")
    op.drop_table("amendment_acceptances")
    with op.batch_alter_table("diary_entries") as batch_op:
        batch_op.drop_column("chained")
