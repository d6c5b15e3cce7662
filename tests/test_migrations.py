"""The migrations build exactly the schema the models describe, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

import traceability.models  # noqa: F401  (registers every table)


def test_migrated_schema_matches_models(engine):
    # ``engine`` is a database created empty and brought to head by the migrations alone.
    with engine.connect() as conn:
        ctx = MigrationContext.configure(
            conn, opts={"compare_type": True, "compare_server_default": True}
        )
        diffs = compare_metadata(ctx, SQLModel.metadata)
    assert diffs == [], f"migrations and models differ on {engine.dialect.name}: {diffs}"


def test_every_table_exists_and_head_is_recorded(engine):
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
    assert "alembic_version" in tables
    with engine.connect() as conn:
        assert MigrationContext.configure(conn).get_current_revision() is not None
