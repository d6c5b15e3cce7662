"""Each field's diary anchored in the newest signed checkpoint, with its inclusion proof.

What a buyer needs to check offline that the chain behind a lot is the one that was
logged: the checkpoint (size, root, the C2SP signed note, the verifier key and its id),
the leaf of the field's newest logged entry (RFC 8785 JSON: field code, place in the
chain, entry hash — the hash chains every earlier entry), the leaf's index and its
RFC 9162 audit path. And whether the diary today still holds that entry with that hash:
a chain rewritten in SQL with every hash and head recomputed holds as a chain, but no
longer gives the entry that was logged.
"""

from typing import Any

from sqlalchemy import and_, func, select
from sqlmodel import Session

from traceability import transparency as tl
from traceability.errors import NotFound
from traceability.models import DiaryEntry, FarmField, TlogCheckpoint, TlogLeaf
from traceability.services import tlog
from traceability.services.trace.events import iso
from traceability.services.trace.structure import IDS, Structure

# The newest checkpoint and, joined to it, every logged entry of the fields among its
# leaves (field by field, oldest first: the last of each field is its newest), in one
# statement: a first scan's anchor costs one round trip, as :func:`tlog.latest` then
# :func:`tlog.newest_leaves` would cost two. No leaf: one row, the checkpoint's; no
# checkpoint: no row.
_NEWEST = (
    select(
        TlogCheckpoint.id,
        TlogCheckpoint.origin,
        TlogCheckpoint.size,
        TlogCheckpoint.root_hash,
        TlogCheckpoint.signed_at,
        TlogCheckpoint.key_hash,
        TlogCheckpoint.vkey,
        TlogCheckpoint.note,
        DiaryEntry.field_id,
        TlogLeaf.idx,
        DiaryEntry.chain_seq,
        DiaryEntry.hash,
        FarmField.code,
    )
    .select_from(TlogCheckpoint)
    .outerjoin(
        DiaryEntry.__table__.join(TlogLeaf, TlogLeaf.entry_id == DiaryEntry.id).join(
            FarmField, FarmField.id == DiaryEntry.field_id
        ),
        and_(DiaryEntry.field_id.in_(IDS), TlogLeaf.idx < TlogCheckpoint.size),
    )
    .where(TlogCheckpoint.id == select(func.max(TlogCheckpoint.id)).scalar_subquery())
    .order_by(DiaryEntry.field_id, DiaryEntry.chain_seq)
)


def _checkpoint(row: Any) -> dict[str, Any]:
    cp = tlog.public(row)
    return {
        "id": row.id,
        "origin": cp.origin,
        "tree_size": cp.tree_size,
        "root_hash": cp.root_hash,
        "issued_at": iso(cp.issued_at),
        "key_id": cp.key_id,
        "public_key": cp.public_key,
        "note": cp.note,
        "signature": cp.signature,
        # The note's other signature lines: witnesses' cosignatures, named as written,
        # and each checked against the configured witness keys.
        "witnesses": [s.name for s in tl.split_note(cp.note)[1] if s.name != cp.origin],
        "witnesses_verified": [c.name for c in cp.cosignatures if c.verified],
        "cosignatures": [c.model_dump() for c in cp.cosignatures],
    }


def _anchor(cp: dict, nodes: tlog.Nodes, leaf: tlog.FieldLeaf, rows: list) -> dict:
    # The leaf today's diary gives (the field's code now, the entry's hash now) against the
    # leaf that was logged and signed.
    at = next((r.hash for r in rows if r.chain_seq == leaf.chain_seq), None)
    stored = nodes.leaf(leaf.idx)
    holds = at == leaf.entry_hash and tl.leaf_hash(leaf.leaf()) == stored
    return {
        "checkpoint": cp,
        "leaf": leaf.leaf().decode(),
        "leaf_index": leaf.idx,
        "leaf_hash": stored.hex(),
        "audit_path": [h.hex() for h in nodes.inclusion(leaf.idx)],
        "diary_length": leaf.chain_seq,
        "diary_head": leaf.entry_hash,
        "diary_matches": holds,
        "problem": None
        if holds
        else (
            f"the diary of field {leaf.field_code} no longer gives, at entry {leaf.chain_seq}, "
            "the hash logged in this checkpoint: it was rewritten after it was anchored"
        ),
    }


#: Passed as ``checkpoint``: read the newest checkpoint now.
READ = object()


def newest_checkpoint(session: Session) -> Any | None:
    """The newest checkpoint (None: none yet), to read once for many traces in one snapshot."""
    try:
        return tlog.latest(session)
    except NotFound:
        return None


def _newest(session: Session, field_ids: list[int]) -> tuple[Any | None, dict]:
    """The newest checkpoint (None: none yet) and the fields' newest leaves in it, as
    :func:`newest_checkpoint` and :func:`tlog.newest_leaves` give them, in one statement."""
    rows = session.execute(_NEWEST, {"ids": field_ids}).all()
    if not rows:
        return None, {}
    leaves = {
        r.field_id: tlog.FieldLeaf(r.idx, r.chain_seq, r.hash, r.code)
        for r in rows
        if r.field_id is not None
    }
    return rows[0], leaves


def anchors(
    session: Session, st: Structure, diary_rows: list[Any], checkpoint: Any = READ
) -> dict[int, dict | None]:
    """For each field of the structure, its anchor (None: in no checkpoint yet).

    ``checkpoint`` is the newest checkpoint if the caller already read it.
    """
    out: dict[int, dict | None] = dict.fromkeys(st.fields)
    if checkpoint is READ:
        row, leaves = _newest(session, list(st.fields))
    else:
        row = checkpoint
        if row is None:
            return out
        leaves = tlog.newest_leaves(session, size=row.size, field_ids=list(st.fields))
    if not leaves:
        return out
    nodes = tlog.checkpoint_nodes(session, row)
    cp = _checkpoint(row)
    by_field: dict[int, list[Any]] = {}
    for r in diary_rows:
        by_field.setdefault(r.field_id, []).append(r)
    for fid, leaf in leaves.items():
        out[fid] = _anchor(cp, nodes, leaf, by_field.get(fid, []))
    return out
