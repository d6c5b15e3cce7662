"""Missions record their source: the contract, MAVLink, ISO 11783-10 TaskData or a CSV export

Revision ID: 0012_fleets
Revises: 0011

Flight records now come from other fleets' formats, translated into the contract by the
adapters in ``traceability/ingest/sources/``. A mission says which one it came from, so
an operator (and an auditor) knows how its points were obtained. Missions stored before
came through the contract.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_fleets"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SOURCE = sa.Enum("contract", "mavlink", "isoxml", "csv", name="missionsource")


def upgrade() -> None:
    bind = op.get_bind()
    _SOURCE.create(bind, checkfirst=True)
    with op.batch_alter_table("missions") as batch_op:
        batch_op.add_column(
            sa.Column("source", _SOURCE, nullable=False, server_default="contract")
        )


def downgrade() -> None:
    with op.batch_alter_table("missions") as batch_op:
        batch_op.drop_column("source")
    _SOURCE.drop(op.get_bind(), checkfirst=True)
