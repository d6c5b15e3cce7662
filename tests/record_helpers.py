"""Helpers shared by the record's API tests: row counts and error-message checks."""

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

API = "/api/v1"


def rows(engine: Engine, *tables: str) -> dict[str, int]:
    """How many rows each table holds, read on a fresh connection (what is really stored)."""
    out = {}
    with engine.connect() as conn:
        for name in tables:
            table = SQLModel.metadata.tables[name]
            out[name] = conn.execute(select(func.count()).select_from(table)).scalar_one()
    return out


def all_rows(engine: Engine) -> dict[str, int]:
    """Row counts of every table of the record."""
    return rows(engine, *SQLModel.metadata.tables)


def rejected(response, status: int, *words: str) -> str:
    """Assert ``response`` is a ``status`` answer whose ``detail`` mentions every word."""
    assert response.status_code == status, (response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail, response.text
    for word in words:
        assert word.lower() in detail.lower(), f"{word!r} not in {detail!r}"
    return detail
