"""Which database a command works on: the ``--database-url`` option every command takes.

A command that only reads answers a missing or empty database with one sentence, and
never leaves an empty SQLite file behind.
"""

from pathlib import Path
from typing import Annotated

import typer

DEFAULT_DATABASE_URL = "sqlite:///./agritrace.db"
DEMO_DATABASE_URL = "sqlite:///./agritrace-demo.db"
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        metavar="URL",
        show_default=False,
        help="SQLAlchemy URL of the database (default: $AGRITRACE_DATABASE_URL, "
        f"else {DEFAULT_DATABASE_URL})",
    ),
]


def resolve_url(url: str | None) -> str:
    """The URL given, else the configured one."""
    from traceability.config import Settings

    return url or Settings().database_url


def engine_for(url: str | None):
    """An engine on the database (created or migrated by the caller as it needs)."""
    from traceability.db import make_engine

    return make_engine(resolve_url(url))


def existing_engine(url: str | None):
    """An engine on a database that exists and has its schema; else one sentence and exit 1."""
    from sqlalchemy import inspect
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError

    from traceability.db import make_engine

    url = resolve_url(url)
    parsed = make_url(url)
    shown = parsed.render_as_string(hide_password=True)
    path = parsed.database if parsed.get_backend_name() == "sqlite" else None
    # Checked before connecting: SQLite would create an empty file for a missing one.
    if path and path != ":memory:" and not Path(path).exists():
        _no_database(f"there is no database at {path}", url)
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            ready = inspect(conn).has_table("alembic_version")
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        _no_database(f"cannot open the database {shown} ({reason})", url)
    if not ready:
        _no_database(f"the database {shown} is empty", url)
    return engine


def _no_database(problem: str, url: str) -> None:
    """Say what is wrong with the database and how to make it, then exit 1."""
    hint = f"create it with: agritrace db upgrade --database-url {url}"
    if url == DEFAULT_DATABASE_URL and Path("agritrace-demo.db").exists():
        hint = f"the demo's database is another one: add --database-url {DEMO_DATABASE_URL}"
    typer.secho(f"{problem}; {hint}", err=True, fg="red")
    raise typer.Exit(1)
