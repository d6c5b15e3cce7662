"""Each field's diary anchored in the newest signed checkpoint, with its inclusion proof.

What a buyer needs to check offline that the chain behind a lot is the one that was
published: the checkpoint (size, root, the signed note, its Ed25519 signature, the key
and its id), the field's leaf (``code\\nlength\\nhead``), the leaf's index and its
RFC 9162 audit path. And whether the diary today still gives that head at that length:
a chain rewritten in SQL with every hash and head recomputed holds as a chain, but no
longer ends where the signed checkpoint says it did.
"""

from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from traceability import transparency as tl
from traceability.models import LogCheckpoint, LogLeaf
from traceability.services import checkpoints
from traceability.services.trace.events import iso
from traceability.services.trace.structure import IDS, Structure

# The newest checkpoint and the leaves of the trace's fields, in one round trip (no
# checkpoint: no row; fields it does not cover: one row with no leaf).
_NEWEST = (
    select(
        LogCheckpoint.id,
        LogCheckpoint.origin,
        LogCheckpoint.size,
        LogCheckpoint.root_hash,
        LogCheckpoint.issued_at,
        LogCheckpoint.key_id,
        LogCheckpoint.public_key,
        LogCheckpoint.note,
        LogCheckpoint.signature,
        LogLeaf.field_id,
        LogLeaf.field_code,
        LogLeaf.idx,
        LogLeaf.length,
        LogLeaf.head,
    )
    .outerjoin(LogLeaf, (LogLeaf.checkpoint_id == LogCheckpoint.id) & LogLeaf.field_id.in_(IDS))
    .where(LogCheckpoint.id == select(func.max(LogCheckpoint.id)).scalar_subquery())
)


def _matches(rows: list[Any], length: int, head: str | None) -> bool:
    if length == 0:
        return True
    at = next((r.hash for r in rows if r.chain_seq == length), None)
    return at is not None and at == head


def _checkpoint(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "origin": row.origin,
        "tree_size": row.size,
        "root_hash": row.root_hash,
        "issued_at": iso(row.issued_at),
        "key_id": row.key_id,
        "public_key": row.public_key,
        "note": row.note,
        "signature": row.signature,
    }


def _anchor(cp: dict, levels: list[list[bytes]], leaf: Any, rows: list[Any]) -> dict[str, Any]:
    holds = _matches(rows, leaf.length, leaf.head)
    return {
        "checkpoint": cp,
        "leaf": tl.field_leaf(leaf.field_code, leaf.length, leaf.head).decode(),
        "leaf_index": leaf.idx,
        "leaf_hash": levels[0][leaf.idx].hex(),
        "audit_path": [h.hex() for h in tl.inclusion_proof(levels, leaf.idx)],
        "diary_length": leaf.length,
        "diary_head": leaf.head,
        "diary_matches": holds,
        "problem": None
        if holds
        else (
            f"the diary of field {leaf.field_code} no longer gives, at entry {leaf.length}, "
            "the head signed in this checkpoint: it was rewritten after it was anchored"
        ),
    }


def anchors(session: Session, st: Structure, diary_rows: list[Any]) -> dict[int, dict | None]:
    """For each field of the structure, its anchor (None: in no checkpoint yet)."""
    out: dict[int, dict | None] = dict.fromkeys(st.fields)
    found = session.connection().execute(_NEWEST, {"ids": list(st.fields)}).all()
    leaves = [r for r in found if r.field_id is not None]
    if not leaves:
        return out
    levels, _index = checkpoints.tree(session, found[0])
    cp = _checkpoint(found[0])
    by_field: dict[int, list[Any]] = {}
    for r in diary_rows:
        by_field.setdefault(r.field_id, []).append(r)
    for leaf in leaves:
        out[leaf.field_id] = _anchor(cp, levels, leaf, by_field.get(leaf.field_id, []))
    return out
