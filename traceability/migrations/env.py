"""Alembic environment: migrates the database named by the config or by settings."""

from alembic import context
from sqlmodel import SQLModel

import traceability.models  # noqa: F401  (registers every table on the metadata)
from traceability.db import make_engine

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_offline() -> None:
    """Emit SQL for the configured URL without connecting."""
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Migrate over a live connection (the caller's engine when it passed one)."""
    engine = config.attributes.get("engine")
    if engine is None:
        from traceability.config import get_settings

        engine = make_engine(
            config.get_main_option("sqlalchemy.url") or get_settings().database_url
        )
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:
            # Batch mode rebuilds a table to alter it; rebuilding one that others reference
            # (users, under tokens and diaries) needs SQLite's foreign keys off, which it
            # only accepts outside a transaction: here, before the migrations begin one.
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        # Batch mode lets later migrations alter columns on SQLite too.
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
        if sqlite:
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            if broken:
                raise RuntimeError(f"the migration left broken references: {broken[:10]}")


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
