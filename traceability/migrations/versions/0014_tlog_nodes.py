"""The log's whole subtrees stored as they close, so a proof or a tile reads O(log n) rows

Revision ID: 0014_tlog_nodes
Revises: 0013_emissions

``tlog_nodes`` holds the hash of every whole, aligned subtree of 256^level leaves (the
entries of C2SP tlog-tiles' hash tiles above level 0). The leaves already in the log are
hashed up here once; from now on the sequencer adds each node when its last leaf comes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

from traceability import transparency as tl

revision: str = "0014_tlog_nodes"
down_revision: str | None = "0013_emissions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

WIDTH = 256
MAX_LEVEL = 4


def upgrade() -> None:
    op.create_table(
        "tlog_nodes",
        sa.Column("level", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("idx", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("hash", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.PrimaryKeyConstraint("level", "idx"),
    )
    conn = op.get_bind()
    nodes = sa.table("tlog_nodes", sa.column("level"), sa.column("idx"), sa.column("hash"))
    below = [
        bytes.fromhex(h)
        for (h,) in conn.execute(sa.text("SELECT leaf_hash FROM tlog_leaves ORDER BY idx"))
    ]
    for level in range(1, MAX_LEVEL + 1):
        below = [
            tl.levels(below[i : i + WIDTH])[-1][0]
            for i in range(0, len(below) - WIDTH + 1, WIDTH)
        ]
        rows = [{"level": level, "idx": i, "hash": h.hex()} for i, h in enumerate(below)]
        for start in range(0, len(rows), 5000):
            conn.execute(nodes.insert(), rows[start : start + 5000])
        if not below:
            break


def downgrade() -> None:
    op.drop_table("tlog_nodes")
