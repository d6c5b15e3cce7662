"""The transparency log: RFC 9162 trees and proofs (against the RFC written out and against
published vectors), C2SP signed notes and checkpoints, the sequencer, and the check that
catches a rollback, a diary rewritten with every hash recomputed, and a field row swapped."""

import base64
import hashlib
import json
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, select, text, update
from sqlmodel import Session
from typer.testing import CliRunner

from agritrace.cli import app as cli
from traceability import transparency as tl
from traceability.errors import InvalidInput
from traceability.models import (
    CheckpointPublic,
    DiaryEntry,
    FarmField,
    TlogCheckpoint,
    TlogLeaf,
)
from traceability.services import diary, tlog, tlog_tiles

VECTORS = json.loads((Path(__file__).parent / "data" / "tlog_vectors.json").read_text())
ORIGIN = "agritrace.test/log"


def b64(s: str | None) -> bytes:
    return base64.b64decode(s or "")


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


def subproof(m: int, leaves: list[bytes], whole: bool) -> list[bytes]:
    """RFC 9162 §2.1.4.1 SUBPROOF, written out as the RFC states it."""
    n = len(leaves)
    if m == n:
        return [] if whole else [mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return subproof(m, leaves[:k], whole) + [mth(leaves[k:])]
    return subproof(m - k, leaves[k:], False) + [mth(leaves[:k])]


def test_the_hash_of_an_empty_leaf_is_sha256_of_one_zero_byte():
    # SHA-256(0x00), the first leaf of RFC 6962's test vectors.
    assert tl.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


@pytest.mark.parametrize("n", range(0, 20))
def test_roots_and_every_proof_agree_with_the_rfc(n):
    data = [f"leaf {i}".encode() for i in range(n)]
    hashes = [tl.leaf_hash(d) for d in data]
    assert tl.root(hashes) == mth(data)
    tree = tl.levels(hashes)
    for size in range(1, n + 1):
        root = mth(data[:size])
        assert tl.root_at(tree, size) == root
        for i in range(size):
            path = tl.inclusion_path(tree, i, size)
            assert tl.verify_inclusion(i, size, hashes[i], path, root)
            assert not tl.verify_inclusion(i, size, tl.leaf_hash(b"forged"), path, root)
            if size > 1:
                assert not tl.verify_inclusion((i + 1) % size, size, hashes[i], path, root)
        for first in range(1, size):
            proof = tl.consistency_proof(tree, first, size)
            assert proof == subproof(first, data[:size], True)
            assert tl.verify_consistency(first, size, proof, mth(data[:first]), root)
            # Not from another tree, nor to a root the log never had.
            assert not tl.verify_consistency(first, size, proof, tl.leaf_hash(b"x"), root)
            assert not tl.verify_consistency(first, size, proof, mth(data[:first]), mth([b"x"]))


def test_the_published_vectors_hold():
    leaves = [bytes.fromhex(h) for h in VECTORS["leaves_hex"]]
    tree = tl.levels([tl.leaf_hash(x) for x in leaves])
    for v in VECTORS["inclusion"]:
        proof = [b64(p) for p in v["proof"] or []]
        got = tl.verify_inclusion(
            v["leafIdx"], v["treeSize"], b64(v["leafHash"]), proof, b64(v["root"])
        )
        assert got is not v["wantErr"], v["file"]
        if not v["wantErr"]:
            assert tl.inclusion_path(tree, v["leafIdx"], v["treeSize"]) == proof, v["file"]
            assert tl.root_at(tree, v["treeSize"]) == b64(v["root"]), v["file"]
    for v in VECTORS["consistency"]:
        proof = [b64(p) for p in v["proof"] or []]
        got = tl.verify_consistency(v["size1"], v["size2"], proof, b64(v["root1"]), b64(v["root2"]))
        assert got is not v["wantErr"], v["file"]
        if not v["wantErr"]:
            assert tl.consistency_proof(tree, v["size1"], v["size2"]) == proof, v["file"]


def test_verifying_refuses_empty_and_short_hashes():
    h = tl.leaf_hash(b"a")
    assert not tl.verify_inclusion(0, 1, b"", [], b"")
    assert not tl.verify_inclusion(0, 1, h, [], b"")
    assert not tl.verify_inclusion(0, 1, h, [], h[:31])
    assert tl.verify_inclusion(0, 1, h, [], h)
    assert not tl.verify_inclusion(0, 2, h, [b""], tl.node_hash(h, h))
    assert not tl.verify_consistency(1, 1, [], b"", b"")
    assert not tl.verify_consistency(1, 2, [b"" * 32], h, tl.node_hash(h, h))
    assert tl.verify_consistency(1, 2, [h], h, tl.node_hash(h, h))


# ---------------------------------------------------------------- C2SP notes and checkpoints


def test_the_c2sp_example_checkpoint_parses():
    ex = VECTORS["c2sp_checkpoint_example"]
    cp = tl.Checkpoint.parse(ex["note"])
    assert (cp.origin, cp.size, cp.root_hash) == (ex["origin"], ex["size"], b64(ex["root_b64"]))
    _text, sigs = tl.split_note(ex["note"])
    assert [s.name for s in sigs] == ["example.com/behind-the-sofa"]


@pytest.mark.parametrize(
    "body, why",
    [
        ("o\n12\n", "three lines"),
        ("o\n012\n" + base64.b64encode(bytes(32)).decode() + "\n", "decimal"),
        ("o\n-1\n" + base64.b64encode(bytes(32)).decode() + "\n", "decimal"),
        ("o\n1\n" + base64.b64encode(bytes(31)).decode() + "\n", "32 bytes"),
        ("\n1\n" + base64.b64encode(bytes(32)).decode() + "\n", "origin"),
        ("o\n1\n" + base64.b64encode(bytes(32)).decode(), "newline"),
    ],
)
def test_a_malformed_checkpoint_is_refused_naming_why(body, why):
    with pytest.raises(InvalidInput, match=why):
        tl.Checkpoint.parse(body)


def test_go_s_published_signed_note_is_reproduced_byte_for_byte():
    # golang.org/x/mod/sumdb/note's TestSign: the key PeterNeumann+c74f20a3, its seed, the
    # text and the signed note it publishes.
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    seed = b64("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
    key = Ed25519PrivateKey.from_private_bytes(seed)
    assert tl.vkey("PeterNeumann", key.public_key()) == (
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )
    text_ = (
        "If you think cryptography is the answer to your problem,\n"
        "then you don't know what your problem is.\n"
    )
    note = tl.sign_note(text_, name="PeterNeumann", key=key)
    assert note == text_ + (
        "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXg"
        "KvqfqdngotpRZb6KE6RyyBwJnAM=\n"
    )
    verifier = tl.Verifier.parse(
        "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    )
    assert tl.open_note(note, verifier) == text_
    with pytest.raises(InvalidInput, match="not valid"):
        tl.open_note(note.replace("answer", "Answer"), verifier)
    with pytest.raises(InvalidInput, match="ID does not match"):
        tl.Verifier.parse("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


def test_a_checkpoint_is_signed_under_its_origin_and_opens_only_with_that_key():
    key = tl.new_key()
    cp = tl.Checkpoint(origin=ORIGIN, size=3, root_hash=hashlib.sha256(b"r").digest())
    note = tl.sign_checkpoint(cp, key)
    text_, sig_line = note.split("\n\n")
    assert text_ + "\n" == cp.body() and sig_line.startswith(f"\u2014 {ORIGIN} ")
    assert tl.open_checkpoint(note, tl.Verifier.of(ORIGIN, key.public_key())) == cp
    with pytest.raises(InvalidInput, match="no signature"):
        tl.open_checkpoint(note, tl.Verifier.of(ORIGIN, tl.new_key().public_key()))
    with pytest.raises(InvalidInput, match="not valid"):
        tl.open_checkpoint(note.replace("\n3\n", "\n4\n"), tl.Verifier.of(ORIGIN, key.public_key()))


# ---------------------------------------------------------------- the log, in the database


def entry_leaf_by_hand(code: str, seq: int, entry_hash: str) -> bytes:
    # RFC 8785 of ASCII strings and small integers: sorted keys, no spaces.
    return json.dumps(
        {"field": code, "hash": entry_hash, "kind": "diary-entry", "seq": seq},
        sort_keys=True,
        separators=(",", ":"),
    ).encode()


@pytest.fixture
def logged(session, factory):
    """Three fields with 1, 2 and 3 entries, and a checkpoint over the six."""
    fields = [factory.field(code=f"TL{i}") for i in range(3)]
    for i, f in enumerate(fields):
        for k in range(i + 1):
            factory.entry(f, activity="observe", note=f"entry {k}")
    key = tl.new_key()
    row = tlog.publish(session, key=key, origin=ORIGIN)
    return fields, key, tlog.public(row)


def _entries_in_id_order(session) -> list[bytes]:
    rows = session.execute(
        select(FarmField.code, DiaryEntry.chain_seq, DiaryEntry.hash)
        .join(FarmField, FarmField.id == DiaryEntry.field_id)
        .order_by(DiaryEntry.id)
    ).all()
    return [entry_leaf_by_hand(c, s, h) for c, s, h in rows]


def test_every_entry_is_a_leaf_in_id_order_and_the_checkpoint_is_a_signed_note(session, logged):
    _fields, key, cp = logged
    assert cp.tree_size == 6
    assert cp.root_hash == mth(_entries_in_id_order(session)).hex()
    assert cp.public_key == tl.vkey(ORIGIN, key.public_key())
    opened = tl.open_checkpoint(cp.note, tl.Verifier.parse(cp.public_key))
    assert opened.size == 6 and opened.root_hash.hex() == cp.root_hash
    idx = session.execute(select(TlogLeaf.idx).order_by(TlogLeaf.idx)).scalars().all()
    assert idx == list(range(6))


def test_the_tree_only_grows_and_the_api_proves_it(client, session, factory, logged):
    fields, key, first = logged
    factory.entry(fields[0], activity="observe", note="later")
    factory.entry(fields[2], activity="observe", note="later still")
    second = tlog.public(tlog.publish(session, key=key, origin=ORIGIN))
    assert second.tree_size == 8
    assert second.root_hash == mth(_entries_in_id_order(session)).hex()
    r = client.get("/api/v1/transparency/consistency", params={"from": 6, "to": 8})
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["from"], body["to"]) == (6, 8)
    proof = [b64(p) for p in body["proof"]]
    assert tl.verify_consistency(
        6, 8, proof, bytes.fromhex(first.root_hash), bytes.fromhex(second.root_hash)
    )
    r = client.get("/api/v1/transparency/inclusion", params={"index": 7, "size": 8})
    inc = r.json()
    leaf = tl.leaf_hash(_entries_in_id_order(session)[7])
    assert b64(inc["leaf_hash"]) == leaf
    assert tl.verify_inclusion(
        7, 8, leaf, [b64(p) for p in inc["proof"]], bytes.fromhex(second.root_hash)
    )
    # Sizes the log does not have are refused, clearly.
    assert client.get("/api/v1/transparency/consistency?from=6&to=9").status_code == 404
    bad = client.get("/api/v1/transparency/consistency?from=8&to=6")
    assert bad.status_code in (400, 422) and "'from'" in bad.text
    assert client.get("/api/v1/transparency/consistency?from=-1").status_code == 422


def test_the_checkpoint_and_its_key_are_served_as_text(client, logged):
    _fields, key, cp = logged
    r = client.get("/tlog/checkpoint")
    assert r.status_code == 200 and r.text == cp.note
    assert r.headers["content-type"].startswith("text/plain")
    assert "max-age" in r.headers["cache-control"]
    vkey = client.get("/api/v1/transparency/vkey").text.strip()
    assert vkey == tl.vkey(ORIGIN, key.public_key())
    assert tl.open_checkpoint(r.text, tl.Verifier.parse(vkey)).size == 6


def test_each_field_has_an_inclusion_proof_of_its_newest_entry(client, session, logged):
    fields, _key, cp = logged
    root = bytes.fromhex(cp.root_hash)
    for i, f in enumerate(fields):
        proof = client.get(f"/api/v1/fields/{f.code}/inclusion").json()
        assert proof["diary_length"] == i + 1
        leaf = entry_leaf_by_hand(f.code, i + 1, proof["diary_head"])
        assert proof["leaf"] == leaf.decode()
        path = [bytes.fromhex(h) for h in proof["audit_path"]]
        assert tl.verify_inclusion(proof["leaf_index"], 6, tl.leaf_hash(leaf), path, root)
    assert client.get("/api/v1/transparency/checkpoints").json()["count"] == 1


def test_no_checkpoint_yet_is_a_clear_404(client):
    r = client.get("/api/v1/transparency/checkpoint")
    assert r.status_code == 404 and "no checkpoint" in r.json()["detail"]
    assert client.get("/tlog/checkpoint").status_code == 404


def test_the_sequencer_is_gapless_in_batches_and_takes_nothing_twice(session, factory):
    f = factory.field(code="SEQ")
    for k in range(7):
        factory.entry(f, activity="observe", note=f"e{k}")
    assert tlog.sequence(session, batch=3) == 7
    assert tlog.sequence(session, batch=3) == 0
    rows = session.execute(select(TlogLeaf.idx, TlogLeaf.entry_id).order_by(TlogLeaf.idx)).all()
    ids = session.execute(select(DiaryEntry.id).order_by(DiaryEntry.id)).scalars().all()
    assert [r.idx for r in rows] == list(range(7)) and [r.entry_id for r in rows] == ids


def test_two_sequencers_at_once_give_one_gapless_order(db, factory):
    f = factory.field(code="RACE")
    for k in range(40):
        factory.entry(f, activity="observe", note=f"e{k}")
    added: list[int] = []
    errors: list[BaseException] = []

    def run():
        try:
            with Session(db) as s:
                added.append(tlog.sequence(s, batch=4))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert sum(added) == 40
    with Session(db) as s:
        rows = s.execute(select(TlogLeaf.idx, TlogLeaf.entry_id).order_by(TlogLeaf.idx)).all()
    assert [r.idx for r in rows] == list(range(40))
    assert len({r.entry_id for r in rows}) == 40


# ---------------------------------------------------------------- checking a saved checkpoint


def _check(session, cp: CheckpointPublic, key) -> tlog.LogCheck:
    return tlog.check(session, note=cp.note, verifier=tl.Verifier.of(ORIGIN, key.public_key()))


def _rewrite_history(session, field_code: str) -> None:
    """What someone with database access would do: change an old entry, then recompute
    every hash after it and the field's head, so the chain itself verifies again."""
    field = session.execute(select(FarmField).where(FarmField.code == field_code)).scalar_one()
    entries = list(
        session.execute(
            select(DiaryEntry).where(DiaryEntry.field_id == field.id).order_by(DiaryEntry.chain_seq)
        ).scalars()
    )
    names = diary.names_in_chain(entries, field_code=field.code, product_codes={})
    prev = diary.GENESIS
    for i, e in enumerate(entries):
        if i == 0:
            e.note = "nothing was sprayed here"
        e.prev_hash = prev
        e.hash = diary.entry_hash(e, names[e.id])
        prev = e.hash
    session.execute(update(FarmField).where(FarmField.id == field.id).values(diary_head=prev))
    session.commit()


def test_a_saved_checkpoint_holds_and_keeps_holding_as_the_log_grows(session, factory, logged):
    fields, key, cp = logged
    assert _check(session, cp, key).holds
    factory.entry(fields[0], activity="observe", note="later")
    tlog.publish(session, key=key, origin=ORIGIN)
    result = _check(session, cp, key)
    assert result.holds and result.today_size == 7 and result.leaves_checked == 7


def test_a_diary_rewritten_with_every_hash_recomputed_is_caught(session, logged):
    _fields, key, cp = logged
    _rewrite_history(session, "TL2")
    # The diary's own chain check is satisfied: every hash was recomputed.
    assert diary.verify_chain(session, field_code="TL2").valid
    result = _check(session, cp, key)
    assert result.signature_valid and not result.holds
    assert any("entry 1 " in p and "'TL2'" in p for p in result.problems), result.problems


def test_a_rollback_is_caught(session, factory, logged):
    fields, key, _cp = logged
    factory.entry(fields[1], activity="spray", note="the spray someone wants gone")
    later = tlog.public(tlog.publish(session, key=key, origin=ORIGIN))
    # Delete the newest entry, its leaf and the checkpoint that signed it; restore the head.
    newest = session.execute(select(func_max_id())).scalar_one()
    session.execute(delete(TlogCheckpoint).where(TlogCheckpoint.size == 7))
    session.execute(delete(TlogLeaf).where(TlogLeaf.entry_id == newest))
    session.execute(delete(DiaryEntry).where(DiaryEntry.id == newest))
    head = session.execute(
        select(DiaryEntry.hash).where(
            DiaryEntry.field_id == fields[1].id, DiaryEntry.chain_seq == 2
        )
    ).scalar_one()
    session.execute(
        update(FarmField)
        .where(FarmField.id == fields[1].id)
        .values(diary_length=2, diary_head=head)
    )
    session.commit()
    assert diary.verify_chain(session, field_code=fields[1].code).valid
    result = _check(session, later, key)
    assert not result.holds
    assert any("rollback" in p for p in result.problems), result.problems


def func_max_id():
    from sqlalchemy import func

    return func.max(DiaryEntry.id)


def test_a_swapped_field_row_is_caught(session, factory, logged):
    fields, key, cp = logged
    # Rename the field, give its code to a new field with an empty diary.
    session.execute(update(FarmField).where(FarmField.id == fields[2].id).values(code="TL2-old"))
    session.commit()
    factory.field(code="TL2")
    result = _check(session, cp, key)
    assert not result.holds
    assert any("'TL2-old'" in p and "logged as field 'TL2'" in p for p in result.problems), (
        result.problems
    )


# ---------------------------------------------------------------- on the command line


@pytest.fixture
def cli_db(db, monkeypatch):
    """The command line pointed at the test database (and let go of it afterwards)."""
    from traceability.config import get_settings
    from traceability.db import get_engine

    monkeypatch.setenv("AGRITRACE_DATABASE_URL", db.url.render_as_string(hide_password=False))
    monkeypatch.setenv("AGRITRACE_LOG_ORIGIN", ORIGIN)
    get_settings.cache_clear()
    get_engine.cache_clear()
    yield db
    get_engine.cache_clear()
    get_settings.cache_clear()


def test_verify_on_the_command_line(tmp_path, cli_db, session, logged):
    _fields, key, cp = logged
    saved = tmp_path / "checkpoint.json"
    saved.write_text(cp.model_dump_json())
    vkey = tmp_path / "log.vkey"
    vkey.write_text(tl.vkey(ORIGIN, key.public_key()) + "\n")
    runner = CliRunner()
    ok = runner.invoke(cli, ["verify", str(saved), "--public-key", str(vkey)])
    assert ok.exit_code == 0, ok.output
    assert "signature valid" in ok.output and "extends it" in ok.output
    # The signed note alone, and a PEM key, do as well.
    note = tmp_path / "checkpoint.txt"
    note.write_text(cp.note)
    pem = tmp_path / "log.pub"
    pem.write_bytes(tl.public_pem(key.public_key()))
    assert runner.invoke(cli, ["verify", str(note), "--public-key", str(pem)]).exit_code == 0

    _rewrite_history(session, "TL1")
    bad = runner.invoke(cli, ["verify", str(saved), "--public-key", str(vkey)])
    assert bad.exit_code == 1
    assert "'TL1'" in bad.output and "entry 1 " in bad.output

    # A checkpoint whose note was altered fails its signature.
    forged = json.loads(saved.read_text())
    forged["note"] = forged["note"].replace("\n6\n", "\n5\n")
    saved.write_text(json.dumps(forged))
    out = runner.invoke(cli, ["verify", str(saved), "--public-key", str(vkey)])
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
    assert published.tree_size == 6
    verifier = tl.Verifier.parse((tmp_path / "log.key.vkey").read_text())
    assert verifier.name == ORIGIN
    assert tl.open_checkpoint(published.note, verifier).size == 6


def test_no_row_id_is_in_a_v2_entry_s_canonical_form(session, factory):
    # Moving an entry's season (decided by time when judged) leaves its hash alone.
    f = factory.field(code="NOID")
    factory.season(f)
    e = factory.entry(f, activity="observe", note="x")
    assert e.hash_version == 2 and e.season_id is not None
    session.execute(text("UPDATE diary_entries SET season_id = NULL WHERE id = :i"), {"i": e.id})
    session.commit()
    assert diary.verify_chain(session, field_code="NOID").valid


def test_the_documented_example_entry_hashes_as_documented():
    from datetime import UTC, datetime

    from traceability import canonical

    doc = (Path(__file__).parent.parent / "docs" / "transparency.md").read_text()
    example = doc.split("the exact bytes hashed:\n\n```\n")[1].split("\n```")[0]
    content = canonical.entry_v2(
        field_code="GR-0042",
        chain_seq=1,
        prev_hash=diary.GENESIS,
        occurred_at=datetime(2026, 3, 1, 1, 0, tzinfo=UTC),
        recorded_at=datetime(2026, 3, 1, 2, 30, tzinfo=UTC),
        activity="spray",
        product_code="ANVIL",
        quantity=0.5,
        unit="L",
        area_ha=1.2,
        note="Phun rầy nâu",
        author_role="farmer",
        chained={"product": "ANVIL", "phi_days": 14, "max_dose_per_ha": 1.0},
    )
    assert canonical.jcs(content) == example.encode()
    documented = "13fcc47792cca3fd865cdb3e49cda5a2953ac870baedd23be1faf01722d2682b"
    assert hashlib.sha256(example.encode()).hexdigest() == documented
    assert canonical.entry_hash_v2(content) == documented
    leaf = entry_leaf_by_hand("GR-0042", 1, documented)
    assert tl.leaf_hash(leaf).hex() == (
        "71ac863f933b6133fa1c46fc4d116e63d62211a016739016bd1eecb8297576b9"
    )


def _superseded_checkpoint(session, key) -> CheckpointPublic:
    """A checkpoint as published before revision 0012_trust: a tree over every field's
    ``(code, length, head)``, its body with an ``issued-at`` line, signed apart."""
    from datetime import UTC, datetime

    from traceability.models import LogCheckpoint, LogLeaf

    heads = session.execute(
        select(FarmField.id, FarmField.code, FarmField.diary_length, FarmField.diary_head).order_by(
            FarmField.id
        )
    ).all()
    hashes = [tl.leaf_hash(f"{c}\n{n}\n{h or ''}".encode()) for _i, c, n, h in heads]
    statement = tl.HeadsCheckpoint(
        origin="test/diaries",
        size=len(heads),
        root_hash=mth([f"{c}\n{n}\n{h or ''}".encode() for _i, c, n, h in heads]),
        issued_at=datetime(2026, 11, 27, 9, 0, tzinfo=UTC),
    )
    assert statement.root_hash == tl.root(hashes)
    row = LogCheckpoint(
        origin=statement.origin,
        size=statement.size,
        root_hash=statement.root_hash.hex(),
        issued_at=statement.issued_at,
        key_id=tl.key_id(key.public_key()),
        public_key=tl.public_pem(key.public_key()).decode(),
        note=statement.body().decode(),
        signature=tl.sign(statement, key),
    )
    session.add(row)
    session.flush()
    for i, (fid, code, n, head) in enumerate(heads):
        session.add(
            LogLeaf(checkpoint_id=row.id, idx=i, field_id=fid, field_code=code, length=n, head=head)
        )
    session.commit()
    return CheckpointPublic(
        origin=row.origin,
        tree_size=row.size,
        root_hash=row.root_hash,
        issued_at=row.issued_at,
        key_id=row.key_id,
        public_key=row.public_key,
        note=row.note,
        signature=row.signature,
    )


def test_a_copy_of_a_superseded_checkpoint_is_still_checked(tmp_path, cli_db, session, logged):
    _fields, _key, _cp = logged
    key = tl.new_key()
    old = _superseded_checkpoint(session, key)
    saved = tmp_path / "old.json"
    saved.write_text(old.model_dump_json())
    pem = tmp_path / "old.pub"
    pem.write_bytes(tl.public_pem(key.public_key()))
    runner = CliRunner()
    ok = runner.invoke(cli, ["verify", str(saved), "--public-key", str(pem)])
    assert ok.exit_code == 0, ok.output
    assert "superseded" in ok.output and "root matches" in ok.output
    _rewrite_history(session, "TL2")
    bad = runner.invoke(cli, ["verify", str(saved), "--public-key", str(pem)])
    assert bad.exit_code == 1 and "'TL2'" in bad.output


# ---------------------------------------------------------------- C2SP tlog-tiles


def _mth_of_hashes(hashes: list[bytes]) -> bytes:
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(
        b"\x01" + _mth_of_hashes(hashes[:k]) + _mth_of_hashes(hashes[k:])
    ).digest()


def test_hash_tiles_hold_the_tree_s_nodes_at_the_paths_the_spec_gives(client, session):
    hashes = [hashlib.sha256(str(i).encode()).digest() for i in range(520)]
    session.execute(
        TlogLeaf.__table__.insert(),
        [{"idx": i, "field_code": "T", "leaf_hash": h.hex()} for i, h in enumerate(hashes)],
    )
    session.commit()
    r = client.get("/tlog/tile/0/000")
    assert r.status_code == 200 and r.content == b"".join(hashes[:256])
    assert "immutable" in r.headers["cache-control"]
    assert client.get("/tlog/tile/0/001").content == b"".join(hashes[256:512])
    assert client.get("/tlog/tile/0/002.p/8").content == b"".join(hashes[512:520])
    level1 = client.get("/tlog/tile/1/000.p/2").content
    assert level1 == _mth_of_hashes(hashes[:256]) + _mth_of_hashes(hashes[256:512])
    # Not yet whole, or not there at all.
    assert client.get("/tlog/tile/0/002").status_code == 404
    assert client.get("/tlog/tile/0/002.p/9").status_code == 404
    assert client.get("/tlog/tile/1/000").status_code == 404
    for bad in ("0/2", "0/x000/002", "0/002.p/0", "0/002.p/256", "0/abc", "64/000"):
        assert client.get(f"/tlog/tile/{bad}").status_code in (400, 422), bad


def test_an_entry_bundle_gives_each_leaf_s_bytes(client, session, logged):
    r = client.get("/tlog/tile/entries/000.p/6")
    assert r.status_code == 200
    body, leaves = r.content, []
    while body:
        n = int.from_bytes(body[:2], "big")
        leaves.append(body[2 : 2 + n])
        body = body[2 + n :]
    assert leaves == _entries_in_id_order(session)
    stored = session.execute(select(TlogLeaf.leaf_hash).order_by(TlogLeaf.idx)).scalars().all()
    assert [tl.leaf_hash(x).hex() for x in leaves] == stored
    assert client.get("/tlog/tile/entries/000.p/7").status_code == 404
    assert tlog_tiles.tile_index("x001/x234/067") == (1234067, None)


@settings(max_examples=500, deadline=None)
@given(st.text(), st.text(), st.integers(min_value=0, max_value=2**53 - 1))
def test_an_entry_leaf_is_exactly_rfc8785_whatever_its_strings(code, digest, seq):
    import rfc8785

    expected = rfc8785.dumps({"kind": "diary-entry", "field": code, "seq": seq, "hash": digest})
    assert tl.entry_leaf(code, seq, digest) == expected


def test_a_number_json_cannot_write_is_hashed_as_null_not_refused():
    from traceability import canonical

    got = canonical.jcs({"chained": {"dose": float("nan"), "n": [1.0, float("inf")]}})
    assert got == b'{"chained":{"dose":null,"n":[1,null]}}'
