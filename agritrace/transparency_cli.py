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
    origin: Annotated[
        str | None,
        typer.Option(help="the log's origin, the key's name (default: AGRITRACE_LOG_ORIGIN)"),
    ] = None,
) -> None:
    """Create an Ed25519 signing key (OUT, readable by its owner only), OUT.pub (PEM) and
    OUT.vkey (the C2SP signed-note verifier key to publish)."""
    from traceability import transparency as tl
    from traceability.config import get_settings
    from traceability.errors import AgritraceError

    if out.exists():
        raise typer.BadParameter(f"{out} exists; a signing key is never overwritten")
    name = origin or get_settings().log_origin
    key = tl.new_key()
    try:
        vkey = tl.vkey(name, key.public_key())
    except AgritraceError as exc:
        raise typer.BadParameter(str(exc)) from exc
    fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(tl.private_pem(key))
    pub = out.with_name(out.name + ".pub")
    pub.write_bytes(tl.public_pem(key.public_key()))
    vkey_file = out.with_name(out.name + ".vkey")
    vkey_file.write_text(vkey + "\n", encoding="utf-8")
    typer.echo(f"signing key {out}; verifier key {vkey_file}: {vkey}")


@checkpoint_app.command("publish")
def publish(
    key: Annotated[
        Path | None,
        typer.Option(help="the signing key (default: AGRITRACE_CHECKPOINT_KEY_FILE)"),
    ] = None,
    every: Annotated[
        float, typer.Option(help="keep publishing every this many seconds (0: once)")
    ] = 0.0,
    witness: Annotated[
        list[str] | None,
        typer.Option(help="a witness's URL prefix (C2SP tlog-witness); repeat for more"),
    ] = None,
    witness_key: Annotated[
        list[Path] | None,
        typer.Option(help="each --witness's cosigner key (vkey file), in the same order"),
    ] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Sequence every new diary entry and acceptance into the log, then sign a checkpoint
    of it (printed as JSON; the signed note alone is served at /tlog/checkpoint), and ask
    each witness to cosign it."""
    from sqlmodel import Session

    from traceability import transparency as tl
    from traceability.config import get_settings
    from traceability.errors import AgritraceError
    from traceability.services import tlog

    settings = get_settings()
    path = key or (Path(settings.checkpoint_key_file) if settings.checkpoint_key_file else None)
    if path is None:
        raise typer.BadParameter("give --key or set AGRITRACE_CHECKPOINT_KEY_FILE")
    try:
        signing_key = tl.load_private(path.read_bytes())
    except (OSError, AgritraceError) as exc:
        raise typer.BadParameter(f"{path}: {exc}") from exc
    urls, keys = witness or [], witness_key or []
    if len(urls) != len(keys):
        raise typer.BadParameter("give one --witness-key for each --witness")
    try:
        witnesses = [
            (url, *tl.parse_cosigner_vkey(k.read_text(encoding="utf-8")))
            for url, k in zip(urls, keys, strict=True)
        ]
    except (OSError, AgritraceError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    engine = existing_engine(database_url)
    while True:
        with Session(engine) as session:
            try:
                row = tlog.publish(session, key=signing_key, origin=settings.log_origin)
            except AgritraceError as exc:
                raise typer.BadParameter(f"AGRITRACE_LOG_ORIGIN: {exc}") from exc
            for url, name, public in witnesses:
                try:
                    tlog.request_cosignature(session, row=row, url=url, name=name, public=public)
                except (AgritraceError, OSError) as exc:
                    typer.echo(f"witness {name} at {url}: {exc}", err=True)
            typer.echo(tlog.public(row).model_dump_json())
        if every <= 0:
            return
        time.sleep(every)


def _saved_note(path: Path) -> str:
    """The signed note of a saved checkpoint: the API's JSON, or the note as text."""
    text = path.read_text(encoding="utf-8")
    if text.lstrip().startswith("{"):
        return json.loads(text)["note"]
    return text


def _verifier(path: Path, note: str):
    """The verifier from a vkey file, or from a PEM public key named as the note's origin."""
    from traceability import transparency as tl

    raw = path.read_bytes()
    if raw.lstrip().startswith(b"-----BEGIN"):
        return tl.Verifier.of(tl.Checkpoint.parse(note).origin, tl.load_public(raw))
    return tl.Verifier.parse(raw.decode("utf-8"))


def verify(
    saved: Annotated[
        Path, typer.Argument(help="a checkpoint saved as JSON (the API's) or as its signed note")
    ],
    public_key: Annotated[
        Path,
        typer.Option(
            help="the log's verifier key (vkey text, or PEM), kept apart from the database"
        ),
    ],
    database_url: DatabaseUrl = None,
) -> None:
    """Check a saved checkpoint against today's log and diaries; exit 1 if they disagree.

    The signature; that today's tree extends the saved one (a rollback or a fork fails);
    every leaf recomputed from its entry's content (each that differs is named).
    """
    from sqlmodel import Session

    from traceability.errors import AgritraceError
    from traceability.services import tlog

    try:
        note = _saved_note(saved)
        if "\n\n" not in note:
            return _verify_superseded(saved, public_key, database_url)
        verifier = _verifier(public_key, note)
    except (OSError, ValueError, KeyError, TypeError, AgritraceError) as exc:
        raise typer.BadParameter(str(exc)) from exc
    with Session(existing_engine(database_url)) as session:
        result = tlog.check(session, note=note, verifier=verifier)
    extends = "extends it" if result.consistent else "DOES NOT EXTEND IT"
    typer.echo(
        f"checkpoint of {result.saved_size} leaves: signature "
        f"{'valid' if result.signature_valid else 'NOT VALID'}; today's log of "
        f"{result.today_size} leaves {extends}; "
        f"{result.leaves_checked} leaves recomputed from the diaries"
    )
    if result.not_yet_logged:
        typer.echo(f"  ({result.not_yet_logged} newer entries are not in the log yet)")
    for problem in result.problems:
        typer.echo(f"  - {problem}")
    if not result.holds:
        raise typer.Exit(1)


def _verify_superseded(saved: Path, public_key: Path, database_url) -> None:
    """A checkpoint of the superseded per-field-head tree (before revision 0012_trust)."""
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
        f"superseded per-field checkpoint of {cp.issued_at:%Y-%m-%d %H:%M} UTC, "
        f"{result.tree_size} fields: "
        f"signature {'valid' if result.signature_valid else 'NOT VALID'}, "
        f"root {'matches' if result.root_matches else 'DOES NOT MATCH'} today's diaries"
    )
    for problem in result.problems:
        typer.echo(f"  - {problem}")
    if not result.holds:
        raise typer.Exit(1)


witness_app = typer.Typer(
    help="A C2SP tlog-witness: cosigns a log's checkpoints only while the log stays append-only.",
    no_args_is_help=True,
)


@witness_app.command("serve")
def witness_serve(
    key: Annotated[Path, typer.Option(help="the witness's Ed25519 signing key (PEM)")],
    log: Annotated[
        list[Path], typer.Option(help="a log's verifier key (vkey file); repeat for more logs")
    ],
    name: Annotated[str, typer.Option(help="the witness's name (its key name)")] = (
        "agritrace-witness"
    ),
    state: Annotated[
        Path, typer.Option(help="where the latest cosigned size and root of each log are kept")
    ] = Path("witness-state.json"),
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    port: Annotated[int, typer.Option()] = 8614,
) -> None:
    """Serve POST /add-checkpoint (C2SP tlog-witness) until stopped."""
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from traceability import transparency as tl
    from traceability.errors import AgritraceError
    from traceability.witness import Witness

    try:
        witness = Witness(
            name=name,
            key=tl.load_private(key.read_bytes()),
            verifiers=[tl.Verifier.parse(p.read_text(encoding="utf-8")) for p in log],
            state_file=state,
        )
        vkey = witness.vkey()
    except (OSError, AgritraceError) as exc:
        raise typer.BadParameter(str(exc)) from exc

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path.rstrip("/") != "/add-checkpoint":
                return self._answer(404, "text/plain", "only POST /add-checkpoint\n")
            try:
                size = int(self.headers.get("Content-Length") or 0)
            except ValueError:
                size = -1
            if not 0 <= size <= 64_000:
                return self._answer(400, "text/plain", "a Content-Length of 0 to 64000\n")
            answer = witness.add_checkpoint(self.rfile.read(size))
            return self._answer(answer.status, answer.content_type, answer.body)

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path.rstrip("/") == "/vkey":
                return self._answer(200, "text/plain", vkey + "\n")
            return self._answer(404, "text/plain", "POST /add-checkpoint, GET /vkey\n")

        def _answer(self, status: int, ctype: str, body: str) -> None:
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args) -> None:  # noqa: A002 - the stdlib's name
            typer.echo(f"witness: {format % args}", err=True)

    server = ThreadingHTTPServer((host, port), Handler)
    typer.echo(f"witness {vkey} on http://{host}:{port}/add-checkpoint", err=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
