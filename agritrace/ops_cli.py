"""``agritrace devices …``, ``backup``, ``restore``, ``dead-letters``: running it for real.

``devices`` writes the broker's password file and ACL (Mosquitto's own formats);
``backup``/``restore`` save and bring back the whole record; ``dead-letters`` shows and
replays what RabbitMQ gave up delivering to the ingesters (docs/operations.md).
"""

from pathlib import Path
from typing import Annotated

import typer

from agritrace.database import DatabaseUrl, resolve_url

devices_app = typer.Typer(
    help="Broker accounts of drones and ingesters (Mosquitto password file and ACL).",
    no_args_is_help=True,
)

PasswdFile = Annotated[
    Path, typer.Option("--passwd", dir_okay=False, help="Mosquitto password file (created)")
]
AclFile = Annotated[Path, typer.Option("--acl", dir_okay=False, help="Mosquitto ACL (created)")]
Prefix = Annotated[
    str | None,
    typer.Option(help="first topic level (default: $AGRITRACE_TOPIC_PREFIX, else agri)"),
]


def _add(user: str, role: str, passwd: Path, acl: Path, prefix: str | None) -> None:
    from drone_ingest.accounts import AccountError, add_account
    from traceability.config import get_settings

    settings = get_settings()
    try:
        password = add_account(
            user=user,
            role=role,
            passwd=passwd,
            acl=acl,
            prefix=(prefix or settings.topic_prefix).strip("/"),
            share_group=settings.ingest_share_group,
        )
    except AccountError as exc:
        raise typer.BadParameter(str(exc)) from exc
    except OSError as exc:
        typer.secho(f"cannot write the broker's files: {exc}", err=True, fg="red")
        raise typer.Exit(1) from None
    typer.echo(f"{role} {user}: password (shown only once): {password}")
    typer.echo(f"written to {passwd} and {acl}; reload the broker (kill -HUP) to apply")


@devices_app.command("add")
def devices_add(
    code: Annotated[str, typer.Argument(help="the drone's code, also its MQTT user name")],
    passwd: PasswdFile,
    acl: AclFile,
    prefix: Prefix = None,
) -> None:
    """Create or rotate a drone's MQTT credentials; it may publish only its own topics."""
    _add(code, "drone", passwd, acl, prefix)


@devices_app.command("add-ingester")
def devices_add_ingester(
    passwd: PasswdFile,
    acl: AclFile,
    name: Annotated[str, typer.Argument(help="the ingesters' MQTT user name")] = "ingester",
    prefix: Prefix = None,
) -> None:
    """Create or rotate the ingesters' account: reads every drone's topics."""
    _add(name, "ingester", passwd, acl, prefix)


def backup(
    out: Annotated[Path, typer.Argument(dir_okay=False, help="the backup file to write")],
    database_url: DatabaseUrl = None,
) -> None:
    """Back up the whole record (PostgreSQL: pg_dump -Fc; SQLite: online backup)."""
    from traceability.backup import BackupError
    from traceability.backup import backup as run_backup

    try:
        kind = run_backup(resolve_url(database_url), out)
    except BackupError as exc:
        typer.secho(f"no backup made: {exc}", err=True, fg="red")
        raise typer.Exit(1) from None
    typer.echo(f"{out}: {kind}, {out.stat().st_size:,} bytes")


def restore(
    source: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="a file made by agritrace backup")
    ],
    force: Annotated[
        bool, typer.Option(help="overwrite a database that already holds a record")
    ] = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Restore a backup into an empty database (the same kind it was taken from)."""
    from traceability.backup import BackupError
    from traceability.backup import restore as run_restore

    url = resolve_url(database_url)
    try:
        run_restore(url, source, force=force)
    except BackupError as exc:
        typer.secho(f"nothing restored: {exc}", err=True, fg="red")
        raise typer.Exit(1) from None
    typer.echo(f"restored {source} into {url.split('@')[-1]}")


def dead_letters(
    replay: Annotated[
        bool, typer.Option(help="publish them again on their topics (after a fix)")
    ] = False,
    limit: Annotated[int, typer.Option(min=1, help="at most this many")] = 20,
    amqp_url: Annotated[
        str | None, typer.Option(help="RabbitMQ, default AGRITRACE_AMQP_URL")
    ] = None,
    queue: Annotated[
        str | None, typer.Option(help="the ingest queue, default AGRITRACE_INGEST_QUEUE")
    ] = None,
) -> None:
    """Show (or replay) the messages RabbitMQ dead-lettered after too many deliveries."""
    from drone_ingest import amqp
    from traceability.config import get_settings

    settings = get_settings()
    url, queue = amqp_url or settings.amqp_url, queue or settings.ingest_queue
    if not url:
        typer.secho("no broker: pass --amqp-url or set AGRITRACE_AMQP_URL", err=True, fg="red")
        raise typer.Exit(2)
    if replay:
        moved = amqp.replay_dead_letters(url, queue=queue, limit=limit)
        typer.echo(f"{moved} dead letter(s) published again from {amqp.dead_letter_queue(queue)}")
        return
    letters = amqp.dead_letters(url, queue=queue, limit=limit)
    for letter in letters:
        head = letter.payload[:120].decode("utf-8", errors="replace")
        typer.echo(
            f"{letter.topic}\t{letter.reason} x{letter.deaths}\t{len(letter.payload)} B\t{head}"
        )
    typer.echo(f"{len(letters)} dead letter(s) shown from {amqp.dead_letter_queue(queue)}")
