"""Each field's diary anchored in the newest signed checkpoint, with its inclusion proof.

What a buyer needs to check offline that the chain behind a lot is the one that was
published: the checkpoint (size, root, the signed note, its Ed25519 signature, the key
and its id), the field's leaf (``code\\nlength\\nhead``), the leaf's index and its
RFC 9162 audit path. And whether the diary today still gives that head at that length:
a chain rewritten in SQL with every hash and head recomputed holds as a chain, but no
longer ends where the signed checkpoint says it did.
"""

from typing import Any

from sqlmodel import Session

from traceability import transparency as tl
from traceability.services import checkpoints
from traceability.services.trace.events import iso
from traceability.services.trace.structure import Structure


def _matches(rows: list[Any], length: int, head: str | None) -> bool:
    if length == 0:
        return True
    at = next((r.hash for r in rows if r.chain_seq == length), None)
    return at is not None and at == head


def anchors(session: Session, st: Structure, diary_rows: list[Any]) -> dict[int, dict | None]:
    """For each field of the structure, its anchor (None: in no checkpoint yet)."""
    proofs = checkpoints.inclusion(session, field_ids=list(st.fields))
    by_field: dict[int, list[Any]] = {}
    for r in diary_rows:
        by_field.setdefault(r.field_id, []).append(r)
    out: dict[int, dict | None] = {}
    for fid, f in st.fields.items():
        p = proofs.get(fid)
        if p is None:
            out[fid] = None
            continue
        cp = p.checkpoint
        holds = _matches(by_field.get(fid, []), p.diary_length, p.diary_head)
        out[fid] = {
            "checkpoint": {
                "id": p.checkpoint_id,
                "origin": cp.origin,
                "tree_size": cp.tree_size,
                "root_hash": cp.root_hash,
                "issued_at": iso(cp.issued_at),
                "key_id": cp.key_id,
                "public_key": cp.public_key,
                "note": cp.note,
                "signature": cp.signature,
            },
            "leaf": tl.field_leaf(p.field_code, p.diary_length, p.diary_head).decode(),
            "leaf_index": p.leaf_index,
            "leaf_hash": p.leaf_hash,
            "audit_path": p.audit_path,
            "diary_length": p.diary_length,
            "diary_head": p.diary_head,
            "diary_matches": holds,
            "problem": None
            if holds
            else (
                f"the diary of field {f.code} no longer gives, at entry {p.diary_length}, "
                "the head signed in this checkpoint: it was rewritten after it was anchored"
            ),
        }
    return out
