"""Signed checkpoints of the diaries' heads: publish, read, prove inclusion, check.

``publish`` takes every field's ``(code, length, head)``, builds the Merkle tree
(:mod:`traceability.transparency`), signs its root with a key kept outside the
database and stores the signed note with the leaves it covers. ``check`` is the
other side: given a checkpoint someone saved, it recomputes every covered chain
from the entries' content — not from the stored hashes — and rebuilds the root.
An entry edited behind the API's back, even with every later hash and head
recomputed, gives another root than the one that was signed.
"""

import threading
from collections import OrderedDict
from datetime import datetime
from types import SimpleNamespace
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import insert, select
from sqlmodel import Session

from traceability import transparency as tl
from traceability.errors import NotFound
from traceability.models import (
    CheckpointCheck,
    CheckpointPublic,
    CheckpointsPublic,
    DiaryEntry,
    FarmField,
    InclusionProof,
    LogCheckpoint,
    LogLeaf,
    utcnow,
)
from traceability.services.diary import GENESIS, entry_hash


def publish(
    session: Session, *, key: Ed25519PrivateKey, origin: str, now: datetime | None = None
) -> LogCheckpoint:
    """Sign and store a checkpoint over every field's current diary head."""
    fields = session.execute(
        select(FarmField.id, FarmField.code, FarmField.diary_length, FarmField.diary_head).order_by(
            FarmField.id
        )
    ).all()
    hashes = [tl.leaf_hash(tl.field_leaf(code, n, head)) for _, code, n, head in fields]
    statement = tl.Checkpoint(
        origin=origin,
        size=len(fields),
        root_hash=tl.root(hashes),
        issued_at=(now or utcnow()).replace(microsecond=0),
    )
    public = key.public_key()
    row = LogCheckpoint(
        origin=origin,
        size=statement.size,
        root_hash=statement.root_hash.hex(),
        issued_at=statement.issued_at,
        key_id=tl.key_id(public),
        public_key=tl.public_pem(public).decode(),
        note=statement.body().decode(),
        signature=tl.sign(statement, key),
    )
    session.add(row)
    session.flush()
    if fields:
        session.execute(
            insert(LogLeaf),
            [
                {
                    "checkpoint_id": row.id,
                    "idx": i,
                    "field_id": fid,
                    "field_code": code,
                    "length": n,
                    "head": head,
                }
                for i, (fid, code, n, head) in enumerate(fields)
            ],
        )
    session.commit()
    session.refresh(row)
    return row


def public(row: LogCheckpoint) -> CheckpointPublic:
    """The API shape of a checkpoint."""
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


def latest(session: Session) -> LogCheckpoint:
    """The newest checkpoint; ``NotFound`` if none was published yet."""
    row = session.execute(
        select(LogCheckpoint).order_by(LogCheckpoint.id.desc()).limit(1)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("no checkpoint has been published yet")
    return row


def list_checkpoints(session: Session, *, offset: int = 0, limit: int = 100) -> CheckpointsPublic:
    """Published checkpoints, newest first."""
    rows = session.execute(
        select(LogCheckpoint).order_by(LogCheckpoint.id.desc()).offset(offset).limit(limit)
    ).scalars()
    count = session.execute(select(LogCheckpoint.id)).all()
    return CheckpointsPublic(data=[public(r) for r in rows], count=len(count))


# A tree is rebuilt from its leaves once per process and checkpoint, then every
# inclusion proof is a walk up its levels.
# Keyed by id and root: the root names the leaves, whatever database the id is from.
_TREES: "OrderedDict[tuple[int, str], tuple[list[list[bytes]], dict[int, int]]]" = OrderedDict()
_TREES_LOCK = threading.Lock()
_TREES_SIZE = 2


def tree(session: Session, row: Any) -> tuple[list[list[bytes]], dict[int, int]]:
    """The tree of checkpoint ``row`` (anything with ``id`` and ``root_hash``) as levels,
    and each field's leaf index; rebuilt from its leaves once per process."""
    checkpoint_id, cache_key = row.id, (row.id, row.root_hash)
    with _TREES_LOCK:
        if cache_key in _TREES:
            _TREES.move_to_end(cache_key)
            return _TREES[cache_key]
    leaves = session.execute(
        select(LogLeaf.idx, LogLeaf.field_id, LogLeaf.field_code, LogLeaf.length, LogLeaf.head)
        .where(LogLeaf.checkpoint_id == checkpoint_id)
        .order_by(LogLeaf.idx)
    ).all()
    levels = tl.levels([tl.leaf_hash(tl.field_leaf(c, n, h)) for _, _, c, n, h in leaves])
    index_of = {fid: idx for idx, fid, _, _, _ in leaves}
    with _TREES_LOCK:
        _TREES[cache_key] = (levels, index_of)
        while len(_TREES) > _TREES_SIZE:
            _TREES.popitem(last=False)
    return levels, index_of


def inclusion(session: Session, *, field_ids: list[int]) -> dict[int, InclusionProof]:
    """For each field in the newest checkpoint, its leaf and audit path."""
    try:
        row = latest(session)
    except NotFound:
        return {}
    levels, index_of = tree(session, row)
    wanted = [fid for fid in field_ids if fid in index_of]
    if not wanted:
        return {}
    leaves = session.execute(
        select(LogLeaf).where(LogLeaf.checkpoint_id == row.id, LogLeaf.field_id.in_(wanted))
    ).scalars()
    cp = public(row)
    return {
        leaf.field_id: InclusionProof(
            field_code=leaf.field_code,
            checkpoint=cp,
            checkpoint_id=row.id,
            leaf_index=leaf.idx,
            diary_length=leaf.length,
            diary_head=leaf.head,
            leaf_hash=levels[0][leaf.idx].hex(),
            audit_path=[h.hex() for h in tl.inclusion_proof(levels, leaf.idx)],
        )
        for leaf in leaves
    }


# ---------------------------------------------------------------- checking a saved checkpoint


def check(session: Session, *, saved: CheckpointPublic, key: Ed25519PublicKey) -> CheckpointCheck:
    """Check a saved checkpoint, signed by ``key``, against today's diaries.

    The signature is checked on the saved note; the note's root is then rebuilt
    from the diaries as they are now, each chain recomputed from its entries'
    content up to the length the checkpoint covered.
    """
    problems: list[str] = []
    body = saved.note.encode()
    signature_valid = tl.signature_holds(body, saved.signature, key)
    statement = tl.Checkpoint.parse(body)
    stored = session.execute(
        select(LogCheckpoint.id).where(
            LogCheckpoint.origin == statement.origin,
            LogCheckpoint.size == statement.size,
            LogCheckpoint.issued_at == statement.issued_at,
        )
    ).scalar_one_or_none()
    if stored is None:
        problems.append(
            "the database holds no checkpoint of this origin, size and time: "
            "its record of which fields the tree covered is gone"
        )
        return CheckpointCheck(
            signature_valid=signature_valid,
            root_matches=False,
            tree_size=statement.size,
            fields_checked=0,
            problems=problems,
        )
    leaves = session.execute(
        select(LogLeaf.field_id, LogLeaf.field_code, LogLeaf.length, LogLeaf.head)
        .where(LogLeaf.checkpoint_id == stored)
        .order_by(LogLeaf.idx)
    ).all()
    if len(leaves) != statement.size:
        problems.append(
            f"the checkpoint covered {statement.size} fields, the database lists {len(leaves)}"
        )
    heads = _recomputed_heads(
        session, {fid: n for fid, _, n, _ in leaves}, {fid: c for fid, c, _, _ in leaves}
    )
    hashes = []
    for fid, code, length, head in leaves:
        now_head, why = heads.get(fid, (None, f"field '{code}' has no entries any more"))
        if why:
            problems.append(why)
        elif length and now_head != head:
            problems.append(
                f"field '{code}': its diary up to entry {length} no longer gives the head "
                "that was signed (an entry was changed, even if every hash was recomputed)"
            )
        hashes.append(tl.leaf_hash(tl.field_leaf(code, length, now_head if length else head)))
    root_matches = tl.root(hashes) == statement.root_hash
    if not root_matches and not problems:
        problems.append("the fields' heads rebuild another root than the one that was signed")
    return CheckpointCheck(
        signature_valid=signature_valid,
        root_matches=root_matches,
        tree_size=statement.size,
        fields_checked=len(leaves),
        problems=problems,
    )


def _recomputed_heads(
    session: Session, lengths: dict[int, int], codes: dict[int, str]
) -> dict[int, tuple[str | None, str | None]]:
    """Each field's chain recomputed from content up to ``lengths[field]``: ``(head, problem)``."""
    out: dict[int, tuple[str | None, str | None]] = {
        fid: (None, None) for fid, n in lengths.items() if n == 0
    }
    running: dict[int, tuple[int, str]] = {}
    rows = session.execute(
        select(DiaryEntry.__table__).order_by(DiaryEntry.field_id, DiaryEntry.chain_seq)
    ).mappings()
    for row in rows:
        fid = row["field_id"]
        want = lengths.get(fid, 0)
        if row["chain_seq"] > want or fid in out:
            continue
        seq, prev = running.get(fid, (0, GENESIS))
        if row["chain_seq"] != seq + 1:
            out[fid] = (None, f"field '{codes[fid]}': entry {seq + 1} of its diary is missing")
            continue
        h = entry_hash(SimpleNamespace(**{**row, "prev_hash": prev}))
        running[fid] = (row["chain_seq"], h)
    for fid, want in lengths.items():
        if fid in out or want == 0:
            continue
        seq, head = running.get(fid, (0, GENESIS))
        if seq != want:
            out[fid] = (
                None,
                f"field '{codes[fid]}': its diary holds {seq} of the {want} entries signed",
            )
        else:
            out[fid] = (head, None)
    return out


def signed_public_key(row: CheckpointPublic) -> Ed25519PublicKey:
    """The public key a checkpoint names (to compare with the one kept apart)."""
    return tl.load_public(row.public_key.encode())
