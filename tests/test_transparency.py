"""The transparency log: Merkle trees, signed checkpoints, inclusion proofs, and the check
that catches a diary rewritten with every hash and head recomputed."""

import hashlib
import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update
from typer.testing import CliRunner

from agritrace.cli import app as cli
from traceability import transparency as tl
from traceability.models import CheckpointPublic, DiaryEntry, FarmField
from traceability.services import checkpoints, diary

# ---------------------------------------------------------------- the tree, by the RFC


def mth(leaves: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 written out as the RFC states it: recursive, split at the largest
    power of two below n (an independent check of the level-by-level builder)."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + mth(leaves[:k]) + mth(leaves[k:])).digest()


def test_the_hash_of_an_empty_leaf_is_sha256_of_one_zero_byte():
    # SHA-256(0x00), the first leaf of RFC 6962's test vectors.
    assert tl.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@pytest.mark.parametrize("n", range(0, 34))
def test_root_and_every_inclusion_proof_agree_with_the_rfc(n):
    data = [f"leaf {i}".encode() for i in range(n)]
    hashes = [tl.leaf_hash(d) for d in data]
    assert tl.root(hashes) == mth(data)
    tree = tl.levels(hashes)
    for i in range(n):
        proof = tl.inclusion_proof(tree, i)
        assert tl.verify_inclusion(i, n, hashes[i], proof, mth(data))
        # The same path does not prove another leaf, another place or another root.
        assert not tl.verify_inclusion(i, n, tl.leaf_hash(b"forged"), proof, mth(data))
        if n > 1:
            assert not tl.verify_inclusion((i + 1) % n, n, hashes[i], proof, mth(data))
        assert not tl.verify_inclusion(i, n, hashes[i], proof, hashlib.sha256(b"x").digest())


def test_a_signed_checkpoint_verifies_and_an_altered_one_does_not():
    key = tl.new_key()
    cp = tl.Checkpoint(
        origin="example/diaries",
        size=3,
        root_hash=hashlib.sha256(b"r").digest(),
        issued_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
    )
    sig = tl.sign(cp, key)
    assert tl.signature_holds(cp.body(), sig, key.public_key())
    assert tl.Checkpoint.parse(cp.body()) == cp
    forged = cp.body().replace(b"\n3\n", b"\n4\n")
    assert not tl.signature_holds(forged, sig, key.public_key())
    assert not tl.signature_holds(cp.body(), sig, tl.new_key().public_key())
    with pytest.raises(Exception, match="four lines"):
        tl.Checkpoint.parse(b"just one line")


# ---------------------------------------------------------------- against the database


@pytest.fixture
def logged(session, factory):
    """Three fields with diaries and a published checkpoint over them."""
    fields = [factory.field(code=f"TL{i}") for i in range(3)]
    for i, f in enumerate(fields):
        for k in range(i + 1):
            factory.entry(f, activity="observe", note=f"entry {k}")
    key = tl.new_key()
    row = checkpoints.publish(session, key=key, origin="test/diaries")
    return fields, key, checkpoints.public(row)


def test_a_published_checkpoint_covers_every_fields_head(session, logged):
    fields, key, cp = logged
    assert cp.tree_size == 3
    heads = session.execute(
        select(FarmField.code, FarmField.diary_length, FarmField.diary_head).order_by(FarmField.id)
    ).all()
    expected = mth([tl.field_leaf(c, n, h) for c, n, h in heads])
    assert cp.root_hash == expected.hex()
    assert tl.signature_holds(cp.note.encode(), cp.signature, key.public_key())


def test_each_field_has_an_inclusion_proof_over_http(client, session, logged):
    fields, _key, _cp = logged
    published = client.get("/api/v1/transparency/checkpoint").json()
    root = bytes.fromhex(published["root_hash"])
    for f in fields:
        r = client.get(f"/api/v1/fields/{f.code}/inclusion")
        assert r.status_code == 200
        proof = r.json()
        leaf = tl.leaf_hash(tl.field_leaf(f.code, proof["diary_length"], proof["diary_head"]))
        assert proof["leaf_hash"] == leaf.hex()
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        assert tl.verify_inclusion(proof["leaf_index"], 3, leaf, path, root)
    assert client.get("/api/v1/transparency/checkpoints").json()["count"] == 1


def test_no_checkpoint_yet_is_a_clear_404(client):
    r = client.get("/api/v1/transparency/checkpoint")
    assert r.status_code == 404 and "no checkpoint" in r.json()["detail"]


def _rewrite_history(session, field_code: str) -> None:
    """What someone with database access would do: change an old entry, then recompute
    every hash after it and the field's head, so the chain itself verifies again."""
    field = session.execute(select(FarmField).where(FarmField.code == field_code)).scalar_one()
    entries = session.execute(
        select(DiaryEntry).where(DiaryEntry.field_id == field.id).order_by(DiaryEntry.chain_seq)
    ).scalars()
    prev = diary.GENESIS
    for i, e in enumerate(list(entries)):
        if i == 0:
            e.note = "nothing was sprayed here"
        e.prev_hash = prev
        e.hash = diary.entry_hash(e)
        prev = e.hash
    session.execute(update(FarmField).where(FarmField.id == field.id).values(diary_head=prev))
    session.commit()


def test_a_saved_checkpoint_holds_until_history_is_rewritten(session, logged):
    _fields, key, cp = logged
    assert checkpoints.check(session, saved=cp, key=key.public_key()).holds

    _rewrite_history(session, "TL2")
    # The diary's own chain check is satisfied: every hash was recomputed.
    assert diary.verify_chain(session, field_code="TL2").valid
    result = checkpoints.check(session, saved=cp, key=key.public_key())
    assert result.signature_valid and not result.root_matches and not result.holds
    assert any("'TL2'" in p for p in result.problems), result.problems


def test_appending_after_a_checkpoint_keeps_it_valid(session, factory, logged):
    fields, key, cp = logged
    factory.entry(fields[0], activity="observe", note="later")
    assert checkpoints.check(session, saved=cp, key=key.public_key()).holds


@pytest.fixture
def cli_db(db, monkeypatch):
    """The command line pointed at the test database (and let go of it afterwards)."""
    from traceability.config import get_settings
    from traceability.db import get_engine

    monkeypatch.setenv("AGRITRACE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield db
    get_engine.cache_clear()


def test_verify_on_the_command_line(tmp_path, cli_db, session, logged):
    _fields, key, cp = logged
    saved = tmp_path / "checkpoint.json"
    saved.write_text(cp.model_dump_json())
    pub = tmp_path / "log.pub"
    pub.write_bytes(tl.public_pem(key.public_key()))
    runner = CliRunner()
    ok = runner.invoke(cli, ["verify", str(saved), "--public-key", str(pub)])
    assert ok.exit_code == 0, ok.output
    assert "signature valid" in ok.output and "root matches" in ok.output

    _rewrite_history(session, "TL1")
    bad = runner.invoke(cli, ["verify", str(saved), "--public-key", str(pub)])
    assert bad.exit_code == 1
    assert "DOES NOT MATCH" in bad.output and "'TL1'" in bad.output

    # A checkpoint whose note was altered fails its signature.
    forged = json.loads(saved.read_text())
    forged["note"] = forged["note"].replace("\n3\n", "\n2\n")
    saved.write_text(json.dumps(forged))
    out = runner.invoke(cli, ["verify", str(saved), "--public-key", str(pub)])
    assert out.exit_code == 1 and "NOT VALID" in out.output


def test_keygen_and_publish_on_the_command_line(tmp_path, cli_db, logged):
    runner = CliRunner()
    keyfile = tmp_path / "log.key"
    r = runner.invoke(cli, ["checkpoint", "keygen", str(keyfile)])
    assert r.exit_code == 0, r.output
    assert keyfile.stat().st_mode & 0o077 == 0  # readable by its owner only
    again = runner.invoke(cli, ["checkpoint", "keygen", str(keyfile)])
    assert again.exit_code != 0 and "never overwritten" in again.output
    r = runner.invoke(cli, ["checkpoint", "publish", "--key", str(keyfile)])
    assert r.exit_code == 0, r.output
    published = CheckpointPublic.model_validate_json(r.output.strip())
    assert published.tree_size == 3
    pub = tl.load_public((tmp_path / "log.key.pub").read_bytes())
    assert tl.signature_holds(published.note.encode(), published.signature, pub)
