"""organisations and roles

Organisations (cooperatives, drone services, the office) that users, farmers and drones
belong to; the office and cooperative roles; tokens in a table of their own (several
per user, each revocable and optionally expiring), the users' existing tokens moved
there unchanged; a commune code and a former-district label on fields.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 16:29:28.100903
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

import traceability.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES = ("admin", "office", "cooperative", "operator", "farmer")
OLD_ROLES = ("admin", "operator", "farmer")


def _organisation_fk(table: str) -> None:
    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.add_column(sa.Column("organisation_id", sa.Integer(), nullable=True))
        batch_op.create_index(f"ix_{table}_organisation_id", ["organisation_id"], unique=False)
        batch_op.create_foreign_key(
            f"fk_{table}_organisation_id", "organisations", ["organisation_id"], ["id"]
        )


def upgrade() -> None:
    op.create_table(
        "organisations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("name", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("cooperative", "drone_service", "office", name="organisationkind"),
            nullable=False,
        ),
        sa.Column("created_at", traceability.models.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("organisations", schema=None) as batch_op:
        batch_op.create_index("ix_organisations_code", ["code"], unique=True)

    op.create_table(
        "tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("created_at", traceability.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", traceability.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", traceability.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("tokens", schema=None) as batch_op:
        batch_op.create_index("ix_tokens_token_hash", ["token_hash"], unique=True)
        batch_op.create_index("ix_tokens_user_id", ["user_id"], unique=False)

    # Every user's one token becomes their first row of tokens: nobody has to sign in again.
    op.execute(
        "INSERT INTO tokens (user_id, token_hash, created_at) "
        "SELECT id, token_hash, created_at FROM users"
    )

    for table in ("drones", "farmers"):
        _organisation_fk(table)

    with op.batch_alter_table("fields", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("commune_code", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True)
        )
        batch_op.add_column(
            sa.Column("district", sqlmodel.sql.sqltypes.AutoString(length=200), nullable=True)
        )
        batch_op.create_index("ix_fields_commune_code", ["commune_code"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # A native enum grows in place; the values keep the models' order.
        op.execute("ALTER TYPE role ADD VALUE IF NOT EXISTS 'office' BEFORE 'operator'")
        op.execute("ALTER TYPE role ADD VALUE IF NOT EXISTS 'cooperative' BEFORE 'operator'")
    else:
        with op.batch_alter_table("users", schema=None) as batch_op:
            batch_op.alter_column(
                "role",
                existing_type=sa.Enum(*OLD_ROLES, name="role"),
                type_=sa.Enum(*ROLES, name="role"),
                existing_nullable=False,
            )
    _organisation_fk("users")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_token_hash")
        batch_op.drop_column("token_hash")


def downgrade() -> None:
    # Users keep their oldest token (one without any gets a hash no token has); other tokens
    # and organisations go, and users of the new roles are deactivated. (On PostgreSQL the
    # role type keeps its two new values: an enum value cannot be dropped.)
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("token_hash", sa.VARCHAR(length=64), nullable=True))
    op.execute(
        "UPDATE users SET token_hash = COALESCE((SELECT t.token_hash FROM tokens t "
        "WHERE t.user_id = users.id ORDER BY t.id LIMIT 1), 'no-token-' || id)"
    )
    op.execute("UPDATE users SET active = false WHERE role IN ('office', 'cooperative')")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.alter_column("token_hash", existing_type=sa.VARCHAR(length=64), nullable=False)
        batch_op.create_index("ix_users_token_hash", ["token_hash"], unique=True)
        batch_op.drop_constraint("fk_users_organisation_id", type_="foreignkey")
        batch_op.drop_index("ix_users_organisation_id")
        batch_op.drop_column("organisation_id")

    with op.batch_alter_table("fields", schema=None) as batch_op:
        batch_op.drop_index("ix_fields_commune_code")
        batch_op.drop_column("district")
        batch_op.drop_column("commune_code")

    for table in ("farmers", "drones"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(f"fk_{table}_organisation_id", type_="foreignkey")
            batch_op.drop_index(f"ix_{table}_organisation_id")
            batch_op.drop_column("organisation_id")

    op.drop_table("tokens")
    op.drop_table("organisations")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TYPE IF EXISTS organisationkind")
