"""Engine, sessions and schema migration for any SQLAlchemy URL (SQLite or PostgreSQL)."""

from collections.abc import Iterator
from functools import cache, lru_cache
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

from traceability.config import get_settings

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    # WAL lets the API read while an ingester writes; foreign keys are off by
    # default in SQLite and the record relies on them.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """A new engine for ``url`` with agritrace's connection settings."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        # Up to 40 connections: as many as the threads FastAPI runs blocking routes on, so
        # a burst waits for PostgreSQL rather than for a free connection. All of them are
        # kept once opened: a connection closed after a burst and opened again costs a new
        # backend, and its prepared statements, on every request of the next burst.
        engine = create_engine(url, pool_pre_ping=True, pool_size=40, max_overflow=0)
    return engine


# Connections of the one-statement reads beside an engine (the buyer's scans): kept open,
# so their prepared statements stay; a thread beyond these waits for one to come back.
READ_POOL_SIZE = 8
# How these connections show in ``pg_stat_activity``.
READ_POOL_NAME = "agritrace-read"


@cache
def read_engine(engine: Engine) -> Engine:
    """A small pool beside ``engine``'s for one-statement reads (PostgreSQL only).

    Its connections run in autocommit, so a read is one round trip: no BEGIN, no COMMIT,
    no pre-ping. A connection the server has dropped fails its statement; the caller
    invalidates it and tries once more on a fresh one (``trace_cache``).
    """
    return create_engine(
        engine.url,
        # A server that is gone refuses at once; one that does not answer is given 2 s.
        connect_args={"application_name": READ_POOL_NAME, "connect_timeout": 2},
        isolation_level="AUTOCOMMIT",
        pool_size=READ_POOL_SIZE,
        max_overflow=0,
        pool_reset_on_return=None,
    )


@lru_cache
def get_engine(url: str | None = None) -> Engine:
    """The shared engine for ``url`` (default: the configured database)."""
    return make_engine(url or get_settings().database_url)


def get_session() -> Iterator[Session]:
    """A session on the configured database, closed when the request ends."""
    with Session(get_engine()) as session:
        yield session


@lru_cache
def _replica_engine(url: str) -> Engine:
    return make_engine(url)


def get_replica() -> Engine | None:
    """The configured read replica (``AGRITRACE_READ_DATABASE_URL``), if any."""
    url = get_settings().read_database_url
    return _replica_engine(url) if url else None


def get_read_session() -> Iterator[Session]:
    """A session for reads that may come from the replica (reports, the resolver); the
    configured database itself when there is none. Nothing is written through it."""
    with Session(get_replica() or get_engine()) as session:
        yield session


def alembic_config(engine: Engine):
    """An Alembic config pointing at the bundled migrations and at ``engine``."""
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    cfg.attributes["engine"] = engine
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Bring the schema of ``engine``'s database up to ``revision``."""
    from alembic import command

    command.upgrade(alembic_config(engine), revision)
