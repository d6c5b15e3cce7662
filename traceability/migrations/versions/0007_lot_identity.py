"""Vietnam's national trace data: a lot's brand, shelf life and photo; a cooperative's
address, brand and VietGAP certificate

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import traceability.models

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TEXT = sqlmodel.sql.sqltypes.AutoString


def upgrade() -> None:
    with op.batch_alter_table("lots") as batch_op:
        batch_op.add_column(sa.Column("brand", _TEXT(length=200), nullable=True))
        batch_op.add_column(sa.Column("shelf_life_days", sa.Integer(), nullable=True))
    with op.batch_alter_table("organisations") as batch_op:
        batch_op.add_column(sa.Column("address", _TEXT(length=200), nullable=True))
        batch_op.add_column(sa.Column("brand", _TEXT(length=200), nullable=True))
        batch_op.add_column(sa.Column("certificate_standard", _TEXT(length=64), nullable=True))
        batch_op.add_column(sa.Column("certificate_no", _TEXT(length=64), nullable=True))
        batch_op.add_column(sa.Column("certificate_issuer", _TEXT(length=200), nullable=True))
        batch_op.add_column(sa.Column("certificate_valid_from", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("certificate_valid_to", sa.Date(), nullable=True))
    op.create_table(
        "lot_images",
        sa.Column("lot_id", sa.Integer(), nullable=False),
        sa.Column("media_type", _TEXT(length=32), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", _TEXT(length=64), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column(
            "uploaded_at", traceability.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.ForeignKeyConstraint(["lot_id"], ["lots.id"]),
        sa.ForeignKeyConstraint(["uploaded_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("lot_id"),
    )


def downgrade() -> None:
    op.drop_table("lot_images")
    with op.batch_alter_table("organisations") as batch_op:
        for name in (
            "certificate_valid_to",
            "certificate_valid_from",
            "certificate_issuer",
            "certificate_no",
            "certificate_standard",
            "brand",
            "address",
        ):
            batch_op.drop_column(name)
    with op.batch_alter_table("lots") as batch_op:
        batch_op.drop_column("shelf_life_days")
        batch_op.drop_column("brand")
