"""A C2SP tlog-witness: cosigns a log's checkpoint only if it extends the last one it cosigned.

:class:`Witness` answers ``add-checkpoint`` requests (the request body in, an HTTP status,
content type and body out); ``agritrace witness serve`` puts it on HTTP. For each log it
trusts (by the log's verifier key) it keeps the size and root of the latest checkpoint
it cosigned, in one JSON file, checked and replaced under one lock so two requests can
never roll it back. A checkpoint that is not consistent with that one is refused, and
the answer says why.

Pure apart from its state file: no database, no web framework.
"""

import base64
import binascii
import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from traceability import transparency as tl
from traceability.errors import AgritraceError

_OLD = re.compile(r"old (0|[1-9][0-9]*)")
MAX_PROOF = 63


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer: status, content type, body."""

    status: int
    content_type: str
    body: str


def _text(status: int, why: str) -> Answer:
    return Answer(status, "text/plain; charset=utf-8", why + "\n")


class Witness:
    """A witness named ``name`` signing with ``key``, trusting the logs of ``verifiers``."""

    def __init__(
        self,
        *,
        name: str,
        key: Ed25519PrivateKey,
        verifiers: list[tl.Verifier],
        state_file: Path,
    ) -> None:
        self.name, self.key, self.state_file = name, key, state_file
        self.logs: dict[str, list[tl.Verifier]] = {}
        for v in verifiers:
            self.logs.setdefault(v.name, []).append(v)
        self._lock = threading.Lock()

    def vkey(self) -> str:
        """The witness's cosigner key (type 0x04), to give to those who check cosignatures."""
        return tl.cosigner_vkey(self.name, self.key.public_key())

    def _state(self) -> dict[str, dict]:
        try:
            return json.loads(self.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}

    def _save(self, state: dict[str, dict]) -> None:
        tmp = self.state_file.with_name(self.state_file.name + ".tmp")
        tmp.write_text(json.dumps(state, sort_keys=True), encoding="utf-8")
        os.replace(tmp, self.state_file)

    def add_checkpoint(self, body: bytes, *, now: int | None = None) -> Answer:
        """Answer one ``add-checkpoint`` request body."""
        parsed = _parse(body)
        if isinstance(parsed, Answer):
            return parsed
        old, proof, note, cp = parsed
        trusted = self.logs.get(cp.origin)
        if trusted is None:
            return _text(404, f"this witness does not follow the log '{cp.origin}'")
        if not any(_opens(note, v) for v in trusted):
            return _text(403, f"no signature by a key of the log '{cp.origin}' verifies")
        if old > cp.size:
            return _text(400, f"old size {old} is larger than the checkpoint's {cp.size}")
        with self._lock:
            state = self._state()
            seen = state.get(cp.origin, {"size": 0, "root": None})
            refused = _refusal(seen, old, proof, cp)
            if refused is not None:
                return refused
            state[cp.origin] = {"size": cp.size, "root": base64.b64encode(cp.root_hash).decode()}
            self._save(state)
        text_ = note[: note.index("\n\n") + 1]
        when = int(time.time()) if now is None else now
        return Answer(
            200,
            "text/plain; charset=utf-8",
            tl.cosign(text_, name=self.name, key=self.key, timestamp=when),
        )


def _parse(body: bytes) -> "tuple[int, list[bytes], str, tl.Checkpoint] | Answer":
    """The old size, proof, note and checkpoint of a request body, or a 400 saying why."""
    try:
        head, note = body.decode("utf-8").split("\n\n", 1)
    except (UnicodeDecodeError, ValueError):
        return _text(400, "the body is an old size line, proof lines, a blank line, a note")
    lines = head.split("\n")
    m = _OLD.fullmatch(lines[0])
    if m is None:
        return _text(400, f"the first line is 'old <size>': {lines[0][:40]!r}")
    if len(lines) - 1 > MAX_PROOF:
        return _text(400, f"at most {MAX_PROOF} consistency proof lines")
    try:
        proof = [base64.b64decode(x, validate=True) for x in lines[1:]]
        cp = tl.Checkpoint.parse(note)
    except (AgritraceError, binascii.Error, ValueError) as exc:
        return _text(400, f"the request cannot be read: {exc}")
    return int(m.group(1)), proof, note, cp


def _refusal(seen: dict, old: int, proof: list[bytes], cp: tl.Checkpoint) -> Answer | None:
    """Why a checkpoint does not extend the last one cosigned (``seen``), or None."""
    if old != seen["size"]:
        return Answer(409, "text/x.tlog.size", f"{seen['size']}\n")
    seen_root = base64.b64decode(seen["root"]) if seen["root"] else tl.EMPTY_ROOT
    if old == cp.size:
        if seen["root"] is not None and cp.root_hash != seen_root:
            return _text(
                409,
                f"a fork: the checkpoint of {cp.size} leaves has another root than the one "
                "this witness cosigned",
            )
        return None
    if old == 0:
        return _text(422, "the consistency proof from size 0 is empty") if proof else None
    if not tl.verify_consistency(old, cp.size, proof, seen_root, cp.root_hash):
        return _text(
            422,
            f"the checkpoint of {cp.size} leaves is not consistent with the one of {old} "
            "leaves this witness cosigned (a fork or a rewritten log)",
        )
    return None


def _opens(note: str, verifier: tl.Verifier) -> bool:
    try:
        tl.open_note(note, verifier)
    except AgritraceError:
        return False
    return True
