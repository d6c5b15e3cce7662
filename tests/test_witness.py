"""A C2SP tlog-witness: cosigns (tlog-cosignature/v1) a checkpoint only if it extends the
last one it cosigned, refuses a fork or a rollback saying why; the log asks it over HTTP."""

import base64
import socket
import subprocess
import sys
import time

import pytest
from sqlalchemy import delete

from tests.ports import free_port
from traceability import transparency as tl
from traceability.errors import Conflict
from traceability.models import DiaryEntry, TlogCheckpoint, TlogLeaf
from traceability.services import tlog
from traceability.witness import Witness

ORIGIN = "agritrace.test/witnessed"


def _log(leaves: list[bytes], key, size: int) -> tuple[str, list[list[bytes]]]:
    tree = tl.levels([tl.leaf_hash(x) for x in leaves])
    cp = tl.Checkpoint(origin=ORIGIN, size=size, root_hash=tl.root_at(tree, size))
    return tl.sign_checkpoint(cp, key), tree


def _body(old: int, proof: list[bytes], note: str) -> bytes:
    lines = "".join(base64.b64encode(p).decode() + "\n" for p in proof)
    return f"old {old}\n{lines}\n{note}".encode()


@pytest.fixture
def setup(tmp_path):
    log_key, witness_key = tl.new_key(), tl.new_key()
    w = Witness(
        name="witness.test/w1",
        key=witness_key,
        verifiers=[tl.Verifier.of(ORIGIN, log_key.public_key())],
        state_file=tmp_path / "state.json",
    )
    leaves = [f"leaf {i}".encode() for i in range(8)]
    return w, log_key, witness_key, leaves


def test_a_cosignature_is_the_spec_s_timestamped_signature(setup):
    w, log_key, witness_key, leaves = setup
    note, _ = _log(leaves, log_key, 3)
    answer = w.add_checkpoint(_body(0, [], note), now=1679315147)
    assert answer.status == 200 and answer.body.startswith("\u2014 witness.test/w1 ")
    raw = base64.b64decode(answer.body.split(" ")[2])
    pub = witness_key.public_key()
    # key ID: SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key)[:4]; then the time, 8 bytes big-endian.
    assert raw[:4] == tl.cosigner_key_hash("witness.test/w1", pub)
    assert int.from_bytes(raw[4:12], "big") == 1679315147
    text = note.split("\n\n")[0] + "\n"
    pub.verify(raw[12:], b"cosignature/v1\ntime 1679315147\n" + text.encode())
    assert tl.cosignature_time(note + answer.body, name="witness.test/w1", public=pub) == (
        1679315147
    )
    name, key = tl.parse_cosigner_vkey(w.vkey())
    assert name == "witness.test/w1" and key.public_bytes_raw() == pub.public_bytes_raw()


def test_the_witness_follows_an_append_only_log_and_refuses_the_rest(setup):
    w, log_key, _wk, leaves = setup
    note3, _ = _log(leaves, log_key, 3)
    assert w.add_checkpoint(_body(0, [], note3)).status == 200
    note5, tree = _log(leaves, log_key, 5)
    # A stale old size: 409 with the size the witness holds, as text/x.tlog.size.
    stale = w.add_checkpoint(_body(0, [], note5))
    assert (stale.status, stale.content_type, stale.body) == (409, "text/x.tlog.size", "3\n")
    good = w.add_checkpoint(_body(3, tl.consistency_proof(tree, 3, 5), note5))
    assert good.status == 200

    # A fork: leaf 2 rewritten, the tree regrown to 6; its own proof does not reach size 5.
    forked = leaves[:2] + [b"rewritten"] + leaves[3:]
    note6, ftree = _log(forked, log_key, 6)
    bad = w.add_checkpoint(_body(5, tl.consistency_proof(ftree, 5, 6), note6))
    assert bad.status == 422 and "not consistent" in bad.body
    # The same size with another root.
    note5f, _ = _log(forked, log_key, 5)
    same = w.add_checkpoint(_body(5, [], note5f))
    assert same.status == 409 and "fork" in same.body
    # A rollback to a smaller tree: the old size the witness holds is larger.
    note4, _ = _log(leaves, log_key, 4)
    back = w.add_checkpoint(_body(5, [], note4))
    assert back.status == 400 and "larger" in back.body
    # Nothing above moved the witness: it still holds 5.
    assert w.add_checkpoint(_body(0, [], note5)).body == "5\n"


def test_unknown_logs_foreign_keys_and_garbage_are_refused(setup):
    w, log_key, _wk, leaves = setup
    other, _ = _log(leaves, tl.new_key(), 3)
    assert w.add_checkpoint(_body(0, [], other)).status == 403
    cp = tl.Checkpoint(origin="someone.else/log", size=1, root_hash=tl.leaf_hash(b"x"))
    unknown = tl.sign_checkpoint(cp, log_key)
    assert w.add_checkpoint(_body(0, [], unknown)).status == 404
    note, _ = _log(leaves, log_key, 3)
    for body in (b"", b"old 03\n\n" + note.encode(), b"new 0\n\n" + note.encode(), b"\xff\n\n"):
        assert w.add_checkpoint(body).status == 400, body


# ---------------------------------------------------------------- over HTTP, from the log


@pytest.fixture
def served(tmp_path):
    """``agritrace witness serve`` running, following ORIGIN; yields (url, name, key, log key)."""
    log_key, witness_key = tl.new_key(), tl.new_key()
    (tmp_path / "w.key").write_bytes(tl.private_pem(witness_key))
    (tmp_path / "log.vkey").write_text(tl.vkey(ORIGIN, log_key.public_key()))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "agritrace.cli", "witness", "serve", "--key",
         str(tmp_path / "w.key"), "--log", str(tmp_path / "log.vkey"), "--name",
         "witness.test/w1", "--state", str(tmp_path / "state.json"), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}", "witness.test/w1", witness_key.public_key(), log_key
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_log_gets_cosignatures_and_a_rolled_back_log_does_not(session, factory, served):
    url, name, public, log_key = served
    f = factory.field(code="WIT")
    for k in range(3):
        factory.entry(f, activity="observe", note=f"e{k}")
    first = tlog.publish(session, key=log_key, origin=ORIGIN)
    tlog.request_cosignature(session, row=first, url=url, name=name, public=public)
    assert tl.cosignature_time(first.note, name=name, public=public) is not None
    for k in range(2):
        factory.entry(f, activity="observe", note=f"later {k}")
    second = tlog.publish(session, key=log_key, origin=ORIGIN)
    # The witness answers 409 with its size; the log follows with a proof from there.
    tlog.request_cosignature(session, row=second, url=url, name=name, public=public)
    stored = session.get(TlogCheckpoint, second.id)
    assert tl.cosignature_time(stored.note, name=name, public=public) is not None
    # The note with its cosignature still opens with the log's key.
    assert tl.open_checkpoint(stored.note, tl.Verifier.of(ORIGIN, log_key.public_key())).size == 5

    # Roll the log back: the newest entries and leaves go, another entry takes their place.
    session.execute(delete(TlogCheckpoint))
    session.execute(delete(TlogLeaf).where(TlogLeaf.idx >= 3))
    newest = sorted(session.query(DiaryEntry.id).all())[-2:]
    session.execute(delete(DiaryEntry).where(DiaryEntry.id.in_([i for (i,) in newest])))
    session.commit()
    factory.entry(factory.field(code="WIT2"), activity="spray", note="instead")
    third = tlog.publish(session, key=log_key, origin=ORIGIN)
    assert third.size == 4
    with pytest.raises(Conflict, match="more than this log has|not consistent|refused"):
        tlog.request_cosignature(session, row=third, url=url, name=name, public=public)


def test_checkpoint_publish_asks_the_witness_on_the_command_line(
    tmp_path, db, session, factory, served, monkeypatch
):
    from typer.testing import CliRunner

    from agritrace.cli import app as cli
    from traceability.config import get_settings
    from traceability.db import get_engine

    url, name, public, log_key = served
    monkeypatch.setenv("AGRITRACE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("AGRITRACE_LOG_ORIGIN", ORIGIN)
    get_settings.cache_clear()
    get_engine.cache_clear()
    try:
        factory.entry(factory.field(code="CLIW"), activity="observe")
        (tmp_path / "log.key").write_bytes(tl.private_pem(log_key))
        (tmp_path / "w.vkey").write_text(tl.cosigner_vkey(name, public))
        r = CliRunner().invoke(
            cli,
            ["checkpoint", "publish", "--key", str(tmp_path / "log.key"), "--witness", url,
             "--witness-key", str(tmp_path / "w.vkey")],
        )  # fmt: skip
        assert r.exit_code == 0, r.output
        session.expire_all()
        note = tlog.latest(session).note
        assert tl.cosignature_time(note, name=name, public=public) is not None
        # A witness key that is not the witness's: reported, the checkpoint still published.
        (tmp_path / "other.vkey").write_text(tl.cosigner_vkey(name, tl.new_key().public_key()))
        r = CliRunner().invoke(
            cli,
            ["checkpoint", "publish", "--key", str(tmp_path / "log.key"), "--witness", url,
             "--witness-key", str(tmp_path / "other.vkey")],
        )  # fmt: skip
        assert r.exit_code == 0 and "no valid cosignature" in r.output, r.output
    finally:
        get_engine.cache_clear()
        get_settings.cache_clear()


def test_a_forged_cosignature_answered_by_a_witness_is_refused_and_not_stored(
    session, factory, monkeypatch
):
    """A witness (or someone between) answers a cosignature line with the witness's name
    and key ID whose signature is over another checkpoint: it is refused and the stored
    note keeps the log's signature alone."""
    key, witness_key = tl.new_key(), tl.new_key()
    name = "witness.test/w1"
    factory.entry(factory.field(code="FORGE"), activity="observe")
    row = tlog.publish(session, key=key, origin=ORIGIN)
    before = row.note
    other = before.split("\n\n")[0].replace(f"\n{row.size}\n", f"\n{row.size + 1}\n") + "\n"
    forged = tl.cosign(other, name=name, key=witness_key, timestamp=9)
    monkeypatch.setattr(tlog, "_post", lambda url, body, timeout: (200, "text/plain", forged))
    with pytest.raises(Conflict, match="no valid cosignature"):
        tlog.request_cosignature(
            session, row=row, url="http://w.test", name=name, public=witness_key.public_key()
        )
    session.expire_all()
    assert session.get(TlogCheckpoint, row.id).note == before
