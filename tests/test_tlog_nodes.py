"""The log's tree read from stored tiles: every whole subtree of 256^L leaves is stored as
the sequencer appends, and a proof or a tile reads only the hashes it needs.

Expected hashes come from RFC 9162 §2.1 written out recursively in this file (``mth``),
never from the code under test."""

import base64
import hashlib

import pytest
from sqlalchemy import or_, select, text, update
from sqlmodel import Session

from traceability import transparency as tl
from traceability.db import migrate
from traceability.errors import InvalidInput
from traceability.models import TlogLeaf, TlogNode
from traceability.services import tlog, tlog_nodes

# 256 × 256 + 300 leaves: two stored levels, and a partial tile at each.
N = 256 * 256 + 300
CHUNKS = (1, 255, 5000, 3, 253, 60_000, 324)  # sums to N; crosses tile edges unevenly


def mth(hashes: list[bytes]) -> bytes:
    """RFC 9162 §2.1.1 over leaf hashes, split at the largest power of two below n."""
    if len(hashes) == 1:
        return hashes[0]
    k = 1
    while k * 2 < len(hashes):
        k *= 2
    return hashlib.sha256(b"\x01" + mth(hashes[:k]) + mth(hashes[k:])).digest()


def _leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(i.to_bytes(4, "big")).digest() for i in range(n)]


def _append(session: Session, hashes: list[bytes], start: int, count: int) -> None:
    """Append leaves ``start``.. as the sequencer does: the leaves, then their nodes."""
    session.execute(
        TlogLeaf.__table__.insert(),
        [
            {"idx": i, "field_code": "T", "leaf_hash": hashes[i].hex()}
            for i in range(start, start + count)
        ],
    )
    tlog_nodes.store(session, size=start, new=hashes[start : start + count])
    session.commit()


@pytest.fixture
def grown(session):
    hashes = _leaves(N)
    at = 0
    for c in CHUNKS:
        _append(session, hashes, at, c)
        at += c
    assert at == N
    return hashes


def test_every_whole_subtree_is_stored_once_with_the_rfc_hash(session, grown):
    nodes = {(n.level, n.idx): n.hash for n in session.execute(select(TlogNode)).scalars()}
    level1 = {(1, i): mth(grown[i * 256 : (i + 1) * 256]).hex() for i in range(N // 256)}
    level2 = {(2, 0): mth(grown[:65536]).hex()}
    assert nodes == level1 | level2


@pytest.mark.parametrize("size", [1, 255, 256, 257, 65535, 65536, 65537, N])
def test_roots_and_proofs_from_the_stored_tiles_are_the_rfc_s(session, grown, size):
    nodes = tlog_nodes.Nodes(session, size)
    assert nodes.root() == mth(grown[:size])
    for index in {0, size // 3, size - 1}:
        path = nodes.inclusion(index)
        assert tl.verify_inclusion(index, size, grown[index], path, mth(grown[:size]))
    for first in {1, size // 2, size - 1} - {0}:
        proof = nodes.consistency(first)
        assert tl.verify_consistency(first, size, proof, mth(grown[:first]), mth(grown[:size]))


def test_a_proof_reads_only_the_tiles_on_its_path(client, session, grown):
    """Every leaf outside the proven leaf's tile and the tree's last, partial tile is
    overwritten: a proof read from the stored subtrees still verifies against the root
    the real leaves give. (Reading every leaf, as before, gives a proof of another tree.)"""
    index = 253 * 256 + 17  # in tile 0/253; the last, partial tile is 0/257
    session.execute(
        update(TlogLeaf)
        .where(or_(TlogLeaf.idx < 253 * 256, TlogLeaf.idx.between(254 * 256, 257 * 256 - 1)))
        .values(leaf_hash="ab" * 32)
    )
    session.commit()
    r = client.get("/api/v1/transparency/inclusion", params={"index": index, "size": N})
    assert r.status_code == 200, r.text
    proof = [base64.b64decode(h) for h in r.json()["proof"]]
    assert len(proof) == 17  # ceil(log2(65836))
    assert tl.verify_inclusion(index, N, grown[index], proof, mth(grown))
    r = client.get("/api/v1/transparency/consistency", params={"from": 65_000, "to": N})
    proof = [base64.b64decode(h) for h in r.json()["proof"]]
    assert tl.verify_consistency(65_000, N, proof, mth(grown[:65_000]), mth(grown))


def test_a_proof_costs_a_few_range_reads(session, grown):
    # Three levels of tiles (0, 1, 2): at most the proven leaf's tile and the tree's
    # right edge at each, so six reads, whatever the size.
    nodes = tlog_nodes.Nodes(session, N)
    nodes.inclusion(12_345)
    nodes.consistency(40_000)
    assert nodes.reads <= 6


def test_higher_tiles_are_the_stored_subtrees(client, session, grown):
    r = client.get("/tlog/tile/1/000")
    assert r.content == b"".join(mth(grown[i * 256 : (i + 1) * 256]) for i in range(256))
    r = client.get("/tlog/tile/1/001.p/1")
    assert r.content == mth(grown[65536 : 65536 + 256])
    assert client.get("/tlog/tile/2/000.p/1").content == mth(grown[:65536])


def test_leaves_deleted_behind_the_log_leave_no_stale_subtree(session, grown):
    """A rollback done in SQL (the newest leaves deleted) and new leaves sequenced after
    it: the subtrees over the deleted leaves are dropped, and the new ones are of the new
    leaves (the fork itself is what a witness and ``verify`` catch)."""
    session.execute(TlogLeaf.__table__.delete().where(TlogLeaf.idx >= 65_000))
    session.commit()
    other = grown[:65_000] + _leaves(N + 1000)[N:]
    _append(session, other, 65_000, 1000)
    nodes = {(n.level, n.idx): n.hash for n in session.execute(select(TlogNode)).scalars()}
    assert nodes[(1, 255)] == mth(other[255 * 256 : 65536]).hex()
    assert nodes[(2, 0)] == mth(other[:65536]).hex()
    assert nodes[(1, 256)] == mth(other[65536 : 65536 + 256]).hex()
    assert max(nodes) == (2, 0) and len(nodes) == 66_000 // 256 + 1
    assert tlog_nodes.Nodes(session, 66_000).root() == mth(other)


def test_the_sequencer_stores_the_subtrees_of_what_it_appends(session, factory):
    field = factory.field(code="NODES")
    for k in range(300):
        factory.entry(field, activity="observe", note=f"n{k}")
    assert tlog.sequence(session, batch=100) == 300
    stored = [
        bytes.fromhex(h)
        for h in session.execute(select(TlogLeaf.leaf_hash).order_by(TlogLeaf.idx)).scalars()
    ]
    node = session.execute(select(TlogNode)).scalar_one()
    assert (node.level, node.idx, node.hash) == (1, 0, mth(stored[:256]).hex())


def test_the_migration_hashes_up_the_leaves_already_logged(fresh_db):
    migrate(fresh_db, "0013_emissions")
    hashes = _leaves(600)
    with fresh_db.begin() as conn:
        conn.execute(
            text("INSERT INTO tlog_leaves (idx, field_code, leaf_hash) VALUES (:i, 'T', :h)"),
            [{"i": i, "h": h.hex()} for i, h in enumerate(hashes)],
        )
    migrate(fresh_db)
    with Session(fresh_db) as s:
        rows = s.execute(select(TlogNode.level, TlogNode.idx, TlogNode.hash)).all()
    assert sorted(rows) == [(1, 0, mth(hashes[:256]).hex()), (1, 1, mth(hashes[256:512]).hex())]


# ---------------------------------------------------------------- a signed tree's tiles, checked


@pytest.fixture
def fresh_signed():
    tlog_nodes.forget_signed()
    yield
    tlog_nodes.forget_signed()


def test_a_signed_tree_gives_the_rfc_s_proofs_and_rereads_no_tile(session, grown, fresh_signed):
    root = mth(grown)
    first = tlog_nodes.signed(session, size=N, root=root)
    for index in (0, 300, 40_000, N - 1):
        assert tl.verify_inclusion(index, N, grown[index], first.inclusion(index), root)
    # Another answer for the same checkpoint: every tile it needs was checked already.
    again = tlog_nodes.signed(session, size=N, root=root)
    again.inclusion(40_000)
    assert again.reads == 0
    with pytest.raises(InvalidInput, match="do not give the signed checkpoint's root"):
        tlog_nodes.signed(session, size=N, root=mth(grown[:-1] + [grown[0]]))


def test_a_whole_tile_changed_after_signing_is_caught_not_served(session, grown, fresh_signed):
    """Leaf 1,000's hash is changed in SQL after the checkpoint was signed. Its tile (0/3)
    is whole and not one the root is computed from; read for a proof, it no longer hashes
    to the entry above it (the stored subtree of level 1), so no proof is built from it."""
    root = mth(grown)
    tlog_nodes.signed(session, size=N, root=root)  # the root holds: the edge is untouched
    session.execute(update(TlogLeaf).where(TlogLeaf.idx == 1000).values(leaf_hash="cd" * 32))
    session.commit()
    nodes = tlog_nodes.signed(session, size=N, root=root)
    with pytest.raises(InvalidInput, match="tile 0/3 does not hash"):
        nodes.inclusion(1001)
