"""Backup and restore of the whole record, with each database's own tools.

- PostgreSQL: ``pg_dump -Fc`` (a compressed archive of schema and data, consistent
  while the API and the ingesters keep writing) and ``pg_restore``;
- SQLite: the online backup API of the ``sqlite3`` module, page by page, consistent even
  while another process writes (WAL).

A restore goes into an empty database (``--force`` to overwrite one that has a schema),
so that nothing of an older record survives next to the restored one.
"""

import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from sqlalchemy import inspect
from sqlalchemy.engine import URL, make_url

from traceability.db import make_engine

PG_MAGIC = b"PGDMP"
SQLITE_MAGIC = b"SQLite format 3\x00"


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database has nothing to back up")
    return Path(url.database)


def _pg_command(tool: str, url: URL) -> tuple[list[str], dict[str, str]]:
    """``tool``'s connection arguments and environment for ``url`` (password not on argv)."""
    path = shutil.which(tool)
    if path is None:
        raise BackupError(f"{tool} is not installed (Debian: apt-get install postgresql-client)")
    args = [path, "--no-password", "-h", url.host or "localhost", "-p", str(url.port or 5432)]
    if url.username:
        args += ["-U", url.username]
    env = dict(os.environ)
    if url.password:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _run(args: list[str], env: dict[str, str]) -> None:
    proc = subprocess.run(args, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise BackupError(f"{Path(args[0]).name} failed: {proc.stderr.strip()[-2000:]}")


def backup(database_url: str, out: Path) -> str:
    """Write a backup of ``database_url`` to ``out``; returns its kind."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "postgresql":
        args, env = _pg_command("pg_dump", url)
        _run([*args, "-Fc", "--no-owner", "-f", str(out), "-d", url.database or ""], env)
        return "PostgreSQL custom archive (pg_dump -Fc)"
    if backend == "sqlite":
        path = _sqlite_path(url)
        if not path.exists():
            raise BackupError(f"there is no database at {path}")
        out.unlink(missing_ok=True)
        with sqlite3.connect(path) as src, sqlite3.connect(out) as dst:
            src.backup(dst)
        return "SQLite database (online backup)"
    raise BackupError(f"cannot back up a {backend} database")


def _kind_of(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(16)
    if head.startswith(PG_MAGIC):
        return "postgresql"
    if head == SQLITE_MAGIC:
        return "sqlite"
    raise BackupError(f"{path} is neither a pg_dump -Fc archive nor a SQLite database")


def _has_schema(database_url: str) -> bool:
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            return inspect(conn).has_table("alembic_version")
    finally:
        engine.dispose()


def restore(database_url: str, source: Path, *, force: bool = False) -> None:
    """Restore the backup ``source`` into ``database_url`` (empty unless ``force``)."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    kind = _kind_of(source)
    if kind != backend:
        raise BackupError(f"{source} is a {kind} backup; it cannot go into a {backend} database")
    if backend == "sqlite":
        path = _sqlite_path(url)
        if path.exists() and _has_schema(database_url) and not force:
            raise BackupError(f"{path} already holds a record; restore into a new file or --force")
        with sqlite3.connect(source) as src, sqlite3.connect(path) as dst:
            src.backup(dst)
        return
    if _has_schema(database_url) and not force:
        raise BackupError(
            f"database {url.database} already holds a record; restore into a new one "
            "(createdb) or --force"
        )
    args, env = _pg_command("pg_restore", url)
    flags = ["--clean", "--if-exists"] if force else []
    _run(
        [*args, "--no-owner", "--exit-on-error", *flags, "-d", url.database or "", str(source)], env
    )
