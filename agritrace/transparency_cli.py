"""``agritrace checkpoint …`` and ``agritrace verify``: the transparency log on the command line.

A province keeps its signing key off the database's machine, publishes a checkpoint
on a schedule (``checkpoint publish --every 3600``), and offices and buyers save
the checkpoints they fetch; ``verify`` checks a saved one against the database.
"""

import json
import os
import time
from pathlib import Path
from typing import Annotated

import typer

from agritrace.database import DatabaseUrl, existing_engine

checkpoint_app = typer.Typer(
    help="The transparency log: a signing key and signed checkpoints of the diaries' heads.",
    no_args_is_help=True,
)


@checkpoint_app.command("keygen")
def keygen(
    out: Annotated[Path, typer.Argument(help="where to write the private key (PEM)")],
) -> None:
    """Create an Ed25519 signing key (OUT, readable by its owner only) and OUT.pub."""
    from traceability import transparency as tl

    if out.exists():
        raise typer.BadParameter(f"{out} exists; a signing key is never overwritten")
    key = tl.new_key()
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(tl.private_pem(key))
    pub = out.with_name(out.name + ".pub")
    pub.write_bytes(tl.public_pem(key.public_key()))
    typer.echo(f"signing key {out} (key id {tl.key_id(key.public_key())}); public key {pub}")


@checkpoint_app.command("publish")
def publish(
    key: Annotated[
        Path | None,
        typer.Option(help="the signing key (default: AGRITRACE_CHECKPOINT_KEY_FILE)"),
    ] = None,
    every: Annotated[
        float, typer.Option(help="keep publishing every this many seconds (0: once)")
    ] = 0.0,
    database_url: DatabaseUrl = None,
) -> None:
    """Sign a checkpoint over every field's diary head and store it (printed as JSON)."""
    from sqlmodel import Session

    from traceability import transparency as tl
    from traceability.config import get_settings
    from traceability.errors import AgritraceError
    from traceability.services import checkpoints

    settings = get_settings()
    path = key or (Path(settings.checkpoint_key_file) if settings.checkpoint_key_file else None)
    if path is None:
        raise typer.BadParameter("give --key or set AGRITRACE_CHECKPOINT_KEY_FILE")
    try:
        signing_key = tl.load_private(path.read_bytes())
    except (OSError, AgritraceError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from exc
    engine = existing_engine(database_url)
    while True:
        with Session(engine) as session:
            row = checkpoints.publish(session, key=signing_key, origin=settings.log_origin)
            typer.echo(checkpoints.public(row).model_dump_json())
        if every <= 0:
            return
        time.sleep(every)


def verify(
    saved: Annotated[Path, typer.Argument(help="a checkpoint saved as JSON")],
    public_key: Annotated[
        Path, typer.Option(help="the log's public key (PEM), kept apart from the database")
    ],
    database_url: DatabaseUrl = None,
) -> None:
    """Check a saved checkpoint against today's database; exit 1 if they disagree."""
    from pydantic import ValidationError
    from sqlmodel import Session

    from traceability import transparency as tl
    from traceability.errors import AgritraceError
    from traceability.models import CheckpointPublic
    from traceability.services import checkpoints

    try:
        cp = CheckpointPublic.model_validate(json.loads(saved.read_text(encoding="utf-8")))
        key = tl.load_public(public_key.read_bytes())
    except (OSError, ValueError, ValidationError, AgritraceError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    with Session(existing_engine(database_url)) as session:
        try:
            result = checkpoints.check(session, saved=cp, key=key)
        except AgritraceError as exc:
            raise typer.BadParameter(str(exc)) from exc
    typer.echo(
        f"checkpoint of {cp.issued_at:%Y-%m-%d %H:%M} UTC, {result.tree_size} fields: "
        f"signature {'valid' if result.signature_valid else 'NOT VALID'}, "
        f"root {'matches' if result.root_matches else 'DOES NOT MATCH'} today's diaries"
    )
    for problem in result.problems:
        typer.echo(f"  - {problem}")
    if not result.holds:
        raise typer.Exit(1)
