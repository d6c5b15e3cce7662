"""Superseded checkpoints of the diaries' heads (before revision 0012_trust): checking a
copy someone saved.

These checkpoints were a Merkle tree over every field's ``(code, length, head)``,
rebuilt each time: not append-only, and no longer published (the log is now
:mod:`traceability.services.tlog`). The rows stay, and ``check`` still recomputes every
covered chain from the entries' content — not from the stored hashes — and rebuilds
the root a saved copy signed.
"""

from types import SimpleNamespace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlmodel import Session

from traceability import transparency as tl
from traceability.models import (
    CheckpointCheck,
    CheckpointPublic,
    DiaryEntry,
    FarmField,
    LogCheckpoint,
    LogLeaf,
)
from traceability.services.diary import (
    GENESIS,
    EntryNames,
    entry_hash,
    names_in_chain,
    product_codes,
)

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
    statement = tl.HeadsCheckpoint.parse(body)
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
        select(DiaryEntry.__table__, FarmField.code.label("field_code"))
        .join(FarmField, FarmField.id == DiaryEntry.field_id)
        .order_by(DiaryEntry.field_id, DiaryEntry.chain_seq)
    ).all()
    products = product_codes(session)
    names: dict[int, EntryNames] = {}
    by_field: dict[int, list] = {}
    for row in rows:
        by_field.setdefault(row.field_id, []).append(row)
    for chain in by_field.values():
        names |= names_in_chain(chain, field_code=chain[0].field_code, product_codes=products)
    for row in (r._asdict() for r in rows):
        fid = row["field_id"]
        want = lengths.get(fid, 0)
        if row["chain_seq"] > want or fid in out:
            continue
        seq, prev = running.get(fid, (0, GENESIS))
        if row["chain_seq"] != seq + 1:
            out[fid] = (None, f"field '{codes[fid]}': entry {seq + 1} of its diary is missing")
            continue
        h = entry_hash(SimpleNamespace(**{**row, "prev_hash": prev}), names[row["id"]])
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
