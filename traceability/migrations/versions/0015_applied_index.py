"""The province's sums read the diary's possible applications from one index

Revision ID: 0015_applied_index
Revises: 0014_pre_season

The office's dashboard sums a season's applications: on a province's million diary
entries, a scan of the whole table (its hashes and notes included) for the one in three
that name a product. A partial index of those entries (a product named, no withdrawal),
in id order and carrying the columns the sums read, lets PostgreSQL answer from the
index alone. SQLite keeps the partial index without the carried columns.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_applied_index"
down_revision: str | None = "0014_pre_season"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_diary_applied",
        "diary_entries",
        ["id"],
        postgresql_include=[
            "field_id", "occurred_at", "input_id", "activity", "area_ha", "mission_id"
        ],
        postgresql_where=sa.text("input_id IS NOT NULL AND retracts IS false"),
        sqlite_where=sa.text("input_id IS NOT NULL AND retracts = 0"),
    )  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_diary_applied", table_name="diary_entries")
