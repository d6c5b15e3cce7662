"""A flying mission's row updated in place: no index on when its last point came

Revision ID: 0017_mission_hot
Revises: 0016_emission_rows

The ingester moves every flying mission's count and last point's time with each batch:
at 6,000 drones, 6,000 updates of the missions table a second. With ``last_point_at``
indexed, none of them could be a heap-only update: each wrote a new entry into every
index of the table (49 of 96,061 updates were heap-only in one run; 186,112 dead rows
stood beside 6,011 live ones after 40 s in another). The idle missions are found instead
through a partial index of the open ones, whose members change only when a mission opens
or closes; the table leaves room in its pages (fillfactor 80 on PostgreSQL) for the new
versions of its rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_mission_hot"
down_revision: str | None = "0016_emission_rows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.drop_index("ix_missions_last_point_at", table_name="missions")
    op.create_index(
        "ix_missions_open", "missions", ["id"], postgresql_where=_OPEN, sqlite_where=_OPEN
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE missions SET (fillfactor = 80)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE missions RESET (fillfactor)")
    op.drop_index("ix_missions_open", table_name="missions")
    op.create_index("ix_missions_last_point_at", "missions", ["last_point_at"])
