"""Shared fixtures: every database test runs on SQLite and on the real PostgreSQL.

Set ``AGRITRACE_TEST_BACKENDS`` (``sqlite,postgresql`` by default) to choose. Where
PostgreSQL is not reachable its tests are skipped, except under ``CI=true``,
where a missing service fails the run.
"""

import os
import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from tests.factories import Factory
from traceability.config import get_settings
from traceability.db import make_engine, migrate

PG_ADMIN_URL = os.environ.get(
    "AGRITRACE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
BACKENDS = [
    b.strip()
    for b in os.environ.get("AGRITRACE_TEST_BACKENDS", "sqlite,postgresql").split(",")
    if b.strip()
]
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
ADMIN_TOKEN = "test-admin-token-" + uuid.uuid4().hex


def unavailable(what: str, why: object) -> None:
    """Skip a test whose service is missing, or fail it under CI."""
    message = f"{what} is not available: {why}"
    if IN_CI:
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(autouse=True)
def _settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AGRITRACE_ADMIN_TOKEN", ADMIN_TOKEN)
    monkeypatch.setenv("AGRITRACE_PUBLIC_BASE_URL", "https://trace.example.vn")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _postgres_engine() -> Iterator[Engine]:
    # A database of our own per test process, so parallel runs never share tables.
    name = f"agritrace_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "not available"
        unavailable("PostgreSQL at 127.0.0.1:5432", exc)
    engine = make_engine(PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=BACKENDS)
def fresh_db(request, tmp_path) -> Iterator[Engine]:
    """An empty database of each backend, not yet migrated."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path}/fresh.db")
        yield engine
        engine.dispose()
        return
    yield from _postgres_engine()


@pytest.fixture(scope="session", params=BACKENDS)
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    """A migrated database of each backend, shared by the session's tests."""
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("db") / "agritrace.db"
        eng = make_engine(f"sqlite:///{path}")
        migrate(eng)
        yield eng
        eng.dispose()
    elif request.param == "postgresql":
        gen = _postgres_engine()
        eng = next(gen)
        migrate(eng)
        yield eng
        gen.close()
    else:
        raise ValueError(f"unknown backend {request.param}")


def _truncate(engine: Engine) -> None:
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        else:
            for table in tables:
                conn.execute(text(f"DELETE FROM {table}"))


@pytest.fixture
def db(engine: Engine) -> Engine:
    """The backend's engine with every table emptied."""
    _truncate(engine)
    return engine


@pytest.fixture
def session(db: Engine) -> Iterator[Session]:
    """A session on an empty database."""
    with Session(db) as s:
        yield s


@pytest.fixture
def client(db: Engine) -> Iterator[TestClient]:
    """An HTTP client on the app, bound to the test database."""
    from traceability.api.main import create_app

    app = create_app(engine=db)

    with TestClient(app) as c:
        yield c


@pytest.fixture
def factory(session: Session) -> Factory:
    """Small builders of test records."""
    return Factory(session)


@pytest.fixture
def admin_headers() -> dict[str, str]:
    """Headers of the bootstrap admin."""
    return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
