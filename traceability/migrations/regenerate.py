"""Regenerate the initial migration from the models (only before the first release)."""

from pathlib import Path
from tempfile import TemporaryDirectory

from alembic import command

from traceability.db import alembic_config, make_engine

if __name__ == "__main__":
    versions = Path(__file__).parent / "versions"
    for old in versions.glob("0001_*.py"):
        old.unlink()
    with TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{tmp}/empty.db")
        command.revision(
            alembic_config(engine), message="initial schema", autogenerate=True, rev_id="0001"
        )
