"""the farmers' app: sign-in links, product registration, planned harvest, client_id per author

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import traceability.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0001 left the client_id constraint unnamed: PostgreSQL named it itself, and SQLite can
# find it only through a naming convention applied while the table is rebuilt.
_SQLITE_NAMES = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _client_id_unique(name_on_sqlite: str, name_on_pg: str):
    if op.get_bind().dialect.name == "sqlite":
        return (
            op.batch_alter_table("diary_entries", naming_convention=_SQLITE_NAMES),
            name_on_sqlite,
        )
    return op.batch_alter_table("diary_entries"), name_on_pg


_NEW_ACTIVITIES = ("purchase", "drain", "straw", "sale")
_STATUS = sa.Enum("registered", "banned", "unknown", name="registrationstatus")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        # PostgreSQL keeps the activities as an enum type; SQLite stores plain text.
        for value in _NEW_ACTIVITIES:
            op.execute(f"ALTER TYPE activity ADD VALUE IF NOT EXISTS '{value}'")
    _STATUS.create(bind, checkfirst=True)
    op.create_table(
        "signin_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("farmer_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column(
            "created_at", traceability.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column(
            "expires_at", traceability.models.UTCDateTime(timezone=True), nullable=False
        ),
        sa.Column("used_at", traceability.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("device_user_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["device_user_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["farmer_id"], ["farmers.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("signin_links") as batch_op:
        batch_op.create_index("ix_signin_links_device_user_id", ["device_user_id"], unique=False)
        batch_op.create_index("ix_signin_links_farmer_id", ["farmer_id"], unique=False)
        batch_op.create_index("ix_signin_links_token_hash", ["token_hash"], unique=True)

    with op.batch_alter_table("inputs") as batch_op:
        batch_op.add_column(
            sa.Column(
                "registration_status",
                _STATUS,
                nullable=False,
                server_default="unknown",
            )
        )
        batch_op.add_column(sa.Column("registered_crops", sa.JSON(), nullable=True))

    with op.batch_alter_table("seasons") as batch_op:
        batch_op.add_column(sa.Column("planned_harvest_on", sa.Date(), nullable=True))

    batch, name = _client_id_unique("uq_diary_entries_client_id", "diary_entries_client_id_key")
    with batch as batch_op:
        batch_op.drop_constraint(name, type_="unique")
        batch_op.create_unique_constraint("uq_diary_author_client", ["author_id", "client_id"])


def downgrade() -> None:
    batch, name = _client_id_unique("uq_diary_entries_client_id", "diary_entries_client_id_key")
    with batch as batch_op:
        batch_op.drop_constraint("uq_diary_author_client", type_="unique")
        batch_op.create_unique_constraint(name, ["client_id"])
    with op.batch_alter_table("seasons") as batch_op:
        batch_op.drop_column("planned_harvest_on")
    with op.batch_alter_table("inputs") as batch_op:
        batch_op.drop_column("registered_crops")
        batch_op.drop_column("registration_status")
    with op.batch_alter_table("signin_links") as batch_op:
        batch_op.drop_index("ix_signin_links_token_hash")
        batch_op.drop_index("ix_signin_links_farmer_id")
        batch_op.drop_index("ix_signin_links_device_user_id")
    op.drop_table("signin_links")
    # Enum values cannot be dropped from PostgreSQL's activity type; unused ones do no harm.
    _STATUS.drop(op.get_bind(), checkfirst=True)
