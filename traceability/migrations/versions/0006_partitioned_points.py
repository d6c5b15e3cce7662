"""Telemetry partitioned by month on PostgreSQL; exactly once through telemetry_keys

Revision ID: 0006
Revises: 0005

On PostgreSQL the plain ``telemetry`` table becomes a table partitioned by range of
``ts`` (one partition per UTC month in the schema ``telemetry_partitions``, and a
default partition), its rows copied over. A unique key on a partitioned table must
hold the partition key, but a point re-sent with another ``ts`` must still be a repeat:
``(drone_code, seq)`` moves to the narrow unpartitioned ``telemetry_keys`` table, on
both backends. SQLite keeps one plain table.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

from traceability.ingest import partitions

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _keys_table() -> None:
    op.create_table(
        "telemetry_keys",
        sa.Column("drone_code", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("drone_code", "seq"),
    )


def upgrade() -> None:
    _keys_table()
    if op.get_bind().dialect.name != "postgresql":
        op.execute("INSERT INTO telemetry_keys (drone_code, seq) SELECT drone_code, seq FROM telemetry")
        with op.batch_alter_table("telemetry") as batch_op:
            batch_op.drop_constraint("uq_telemetry_drone_seq", type_="unique")
        return
    conn = op.get_bind()
    op.execute("ALTER TABLE telemetry RENAME TO telemetry_unpartitioned")
    op.execute("ALTER INDEX ix_telemetry_mission_ts RENAME TO ix_telemetry_unpartitioned_mission_ts")
    op.execute("ALTER TABLE telemetry_unpartitioned RENAME CONSTRAINT telemetry_pkey TO telemetry_unpartitioned_pkey")
    op.execute(
        "CREATE TABLE telemetry (LIKE telemetry_unpartitioned INCLUDING DEFAULTS) "
        "PARTITION BY RANGE (ts)"
    )
    op.execute("ALTER TABLE telemetry ADD CONSTRAINT telemetry_pkey PRIMARY KEY (id, ts)")
    op.execute("CREATE INDEX ix_telemetry_mission_ts ON telemetry (mission_id, ts)")
    op.execute("ALTER SEQUENCE telemetry_id_seq OWNED BY telemetry.id")
    partitions.create_default(conn)
    months = {
        partitions.month_of(m)
        for m in conn.execute(
            sa.text("SELECT DISTINCT date_trunc('month', ts, 'UTC') FROM telemetry_unpartitioned")
        ).scalars()
    }
    partitions.ensure_months(conn, months | partitions.ahead(datetime.now(UTC)))
    op.execute("INSERT INTO telemetry SELECT * FROM telemetry_unpartitioned")
    op.execute(
        "INSERT INTO telemetry_keys (drone_code, seq) "
        "SELECT drone_code, seq FROM telemetry_unpartitioned"
    )
    op.execute("DROP TABLE telemetry_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE telemetry RENAME TO telemetry_partitioned")
        op.execute("ALTER INDEX ix_telemetry_mission_ts RENAME TO ix_telemetry_partitioned_mission_ts")
        op.execute("ALTER TABLE telemetry_partitioned RENAME CONSTRAINT telemetry_pkey TO telemetry_partitioned_pkey")
        op.execute("CREATE TABLE telemetry (LIKE telemetry_partitioned INCLUDING DEFAULTS)")
        op.execute("ALTER TABLE telemetry ADD CONSTRAINT telemetry_pkey PRIMARY KEY (id)")
        op.execute("ALTER SEQUENCE telemetry_id_seq OWNED BY telemetry.id")
        op.execute("INSERT INTO telemetry SELECT * FROM telemetry_partitioned")
        op.execute("DROP TABLE telemetry_partitioned CASCADE")
        op.execute(f"DROP SCHEMA IF EXISTS {partitions.SCHEMA} CASCADE")
        op.execute("CREATE INDEX ix_telemetry_mission_ts ON telemetry (mission_id, ts)")
        op.create_unique_constraint("uq_telemetry_drone_seq", "telemetry", ["drone_code", "seq"])
    else:
        with op.batch_alter_table("telemetry") as batch_op:
            batch_op.create_unique_constraint("uq_telemetry_drone_seq", ["drone_code", "seq"])
    op.drop_table("telemetry_keys")
