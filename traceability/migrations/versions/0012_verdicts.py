"""Verdicts a buyer relies on: a lot's harvest time, how a product is applied, and the
times a mission's own fixes give

Revision ID: 0012_verdicts
Revises: 0011

- ``lots.harvested_at``: when the harvest ended, if the farmer gave a time (null for
  lots recorded with a day only; the day stays in ``harvested_on``).
- ``inputs.application_method``: spray (liquids and tank mixes), spread (granules
  and fertiliser, broadcast dry) or seed, as the label says. Products
  already in the catalogue are filled in from what they are: a fertiliser is broadcast
  as granules, a seed is sown, a pesticide whose name ends in GR (granules, Furadan 3GR)
  is broadcast, any other pesticide is sprayed.
- ``missions.first_fix_at`` / ``last_fix_at``: the first and last fix's own times, so a
  mission's day comes from its points, not from its start and end events. Filled in from
  the stored points of the missions already measured.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from traceability.models import UTCDateTime

revision: str = "0012_verdicts"
down_revision: str | None = "0012_fleets"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_METHOD = sa.Enum("spray", "spread", "seed", name="applicationmethod")


def upgrade() -> None:
    _METHOD.create(op.get_bind(), checkfirst=True)
    with op.batch_alter_table("lots") as batch_op:
        batch_op.add_column(sa.Column("harvested_at", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("inputs") as batch_op:
        batch_op.add_column(
            sa.Column("application_method", _METHOD, nullable=True)
        )
    with op.batch_alter_table("missions") as batch_op:
        batch_op.add_column(sa.Column("first_fix_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_fix_at", UTCDateTime(timezone=True), nullable=True))

    inputs = sa.table(
        "inputs",
        sa.column("kind", sa.String),
        sa.column("code", sa.String),
        sa.column("application_method", _METHOD),
    )
    # On PostgreSQL ``kind`` is an enum: compare it as text.
    kind = sa.cast(inputs.c.kind, sa.String)
    op.execute(inputs.update().where(kind == "fertilizer").values(application_method="spread"))
    op.execute(inputs.update().where(kind == "seed").values(application_method="seed"))
    pesticide = kind == "pesticide"
    granules = sa.func.upper(inputs.c.code).like("%GR")
    op.execute(
        inputs.update().where(pesticide, granules).values(application_method="spread")
    )
    op.execute(
        inputs.update()
        .where(pesticide, sa.not_(granules))
        .values(application_method="spray")
    )

    missions = sa.table(
        "missions",
        sa.column("mission_id", sa.String),
        sa.column("first_fix_at", UTCDateTime(timezone=True)),
        sa.column("last_fix_at", UTCDateTime(timezone=True)),
    )
    telemetry = sa.table(
        "telemetry", sa.column("mission_id", sa.String), sa.column("ts", UTCDateTime(timezone=True))
    )
    of_mission = telemetry.c.mission_id == missions.c.mission_id
    op.execute(
        missions.update().values(
            first_fix_at=sa.select(sa.func.min(telemetry.c.ts)).where(of_mission).scalar_subquery(),
            last_fix_at=sa.select(sa.func.max(telemetry.c.ts)).where(of_mission).scalar_subquery(),
        )
    )


def downgrade() -> None:
    with op.batch_alter_table("missions") as batch_op:
        batch_op.drop_column("last_fix_at")
        batch_op.drop_column("first_fix_at")
    with op.batch_alter_table("inputs") as batch_op:
        batch_op.drop_column("application_method")
    with op.batch_alter_table("lots") as batch_op:
        batch_op.drop_column("harvested_at")
    _METHOD.drop(op.get_bind(), checkfirst=True)
