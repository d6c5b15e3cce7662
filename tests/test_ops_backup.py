"""``agritrace backup`` and ``agritrace restore`` as docs/operations.md tells an operator to
run them: a restore into a fresh database gives back the very same trace of a lot.
"""

import uuid
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.conftest import PG_ADMIN_URL
from tests.ops import agritrace, db_url
from traceability.api.main import create_app
from traceability.db import make_engine

pytestmark = pytest.mark.integration


@pytest.fixture
def fresh_url(db: Engine, tmp_path) -> Iterator[str]:
    """The URL of a new, empty database of the same kind as ``db``."""
    if db.dialect.name == "sqlite":
        yield f"sqlite:///{tmp_path}/restored.db"
        return
    name = f"agritrace_restore_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _trace(engine: Engine, code: str) -> bytes:
    with TestClient(create_app(engine=engine)) as client:
        r = client.get(f"/api/v1/trace/{code}")
    assert r.status_code == 200, r.text
    return r.content


def test_restore_gives_back_the_same_trace(factory, db, fresh_url, tmp_path):
    field = factory.field()
    factory.season(field)
    factory.entry(field, activity="fertilize")
    lot = factory.lot(fields_=[field])
    factory.session.commit()
    before = _trace(db, lot.code)
    assert lot.code.encode() in before

    out = tmp_path / "agritrace.backup"
    made = agritrace("backup", str(out), "--database-url", db_url(db))
    assert str(out) in made.stdout and out.stat().st_size > 0
    agritrace("restore", str(out), "--database-url", fresh_url)

    restored = make_engine(fresh_url)
    try:
        assert _trace(restored, lot.code) == before
        # The restored database is a full one: the next backup restores too, and the
        # schema is at the same revision.
        with restored.connect() as a, db.connect() as b:
            version = "SELECT version_num FROM alembic_version"
            assert a.execute(text(version)).all() == b.execute(text(version)).all()
    finally:
        restored.dispose()


def test_restore_refuses_a_database_that_holds_a_record(db, tmp_path):
    out = tmp_path / "agritrace.backup"
    agritrace("backup", str(out), "--database-url", db_url(db))
    proc = agritrace("restore", str(out), "--database-url", db_url(db), check=False)
    assert proc.returncode == 1
    assert "already holds a record" in proc.stderr


def test_restore_refuses_a_file_that_is_no_backup(tmp_path):
    junk = tmp_path / "notes.txt"
    junk.write_text("not a backup")
    proc = agritrace(
        "restore", str(junk), "--database-url", f"sqlite:///{tmp_path}/x.db", check=False
    )
    assert proc.returncode == 1
    assert "neither a pg_dump -Fc archive nor a SQLite database" in proc.stderr
