"""The transparency log: one append-only Merkle tree of every diary entry and acceptance.

A *sequencer* (:func:`sequence`) gives every diary entry and every reviewer's acceptance
of an amendment not yet in the log the next gapless index, in batches, under one lock
(PostgreSQL: an advisory lock for the transaction; SQLite: the database's write lock),
so two API workers, a publisher and a restart never give one index twice or skip one.
A leaf commits to what it stands for (:func:`traceability.transparency.entry_leaf`):
the field's code and the entry's own content hash. The tree only grows.

:func:`publish` signs a C2SP tlog-checkpoint of the tree as a C2SP signed note.
:func:`check` is the other side: from a checkpoint someone saved, it checks the
signature, that today's tree extends the saved one (RFC 9162 consistency: a rollback
or a fork fails), and recomputes every leaf from the rows' content, naming each field
and entry that no longer gives the leaf that was signed.
"""

import base64
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, insert, select, text
from sqlmodel import Session

from traceability import transparency as tl
from traceability.config import get_settings
from traceability.errors import AgritraceError, Conflict, InvalidInput, NotFound
from traceability.models import (
    AmendmentAcceptance,
    CheckpointPublic,
    CheckpointsPublic,
    CosignaturePublic,
    DiaryEntry,
    FarmField,
    FieldProof,
    InclusionProof,
    InputProduct,
    Lot,
    LotField,
    LotParent,
    LotProof,
    TlogCheckpoint,
    TlogLeaf,
    TlogNode,
    utcnow,
)
from traceability.services.diary import entry_hash, names_in_chain
from traceability.services.lots import get_lot
from traceability.services.tlog_nodes import TILE_HEIGHT, Nodes, signed
from traceability.services.tlog_nodes import store as store_nodes

#: How many leaves one sequencer transaction adds at most.
BATCH = 5000
# The advisory lock's key on PostgreSQL (any constant the database does not use else).
_LOCK_KEY = 0x61677269_746C6F67 & 0x7FFF_FFFF_FFFF_FFFF

_ENTRIES_TODO = (
    select(DiaryEntry.id, DiaryEntry.chain_seq, DiaryEntry.hash, FarmField.code)
    .join(FarmField, FarmField.id == DiaryEntry.field_id)
    .outerjoin(TlogLeaf, TlogLeaf.entry_id == DiaryEntry.id)
    .where(TlogLeaf.idx.is_(None))
    .order_by(DiaryEntry.id)
)
ACCEPTANCES = (
    select(
        AmendmentAcceptance.id,
        AmendmentAcceptance.role,
        AmendmentAcceptance.accepted_at,
        DiaryEntry.hash,
        FarmField.code,
        Lot.code.label("lot_code"),
    )
    .join(DiaryEntry, DiaryEntry.id == AmendmentAcceptance.entry_id)
    .join(FarmField, FarmField.id == DiaryEntry.field_id)
    .join(Lot, Lot.id == AmendmentAcceptance.lot_id)
)
_ACCEPTANCES_TODO = (
    ACCEPTANCES.outerjoin(TlogLeaf, TlogLeaf.acceptance_id == AmendmentAcceptance.id)
    .where(TlogLeaf.idx.is_(None))
    .order_by(AmendmentAcceptance.id)
)
SIZE = select(func.coalesce(func.max(TlogLeaf.idx) + 1, 0))


def _lock(session: Session) -> None:
    """Take the sequencer's lock until the transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})
    else:
        # A write that matches nothing takes SQLite's write lock before anything is read.
        session.execute(delete(TlogLeaf).where(TlogLeaf.idx < 0))


def acceptance_leaf(row: Any) -> bytes:
    """The leaf of an acceptance row selected like :data:`_ACCEPTANCES_TODO`."""
    return tl.acceptance_leaf(
        field_code=row.code,
        lot_code=row.lot_code,
        entry_hash=row.hash,
        role=row.role,
        accepted_at=row.accepted_at,
    )


def sequence(session: Session, *, batch: int = BATCH) -> int:
    """Give every entry and acceptance not yet in the log the next indexes, in batches of
    ``batch`` (one transaction each); returns how many leaves were added."""
    session.commit()
    added = 0
    # Within one call, a batch looks only at the entry ids past those the batch before
    # looked at: the first batch's anti-join found every older entry not yet in the log
    # (one committed later with a smaller id waits for the next call), so a call costs one
    # scan of the diary, not one per batch.
    after = 0
    while True:
        _lock(session)
        size = session.execute(SIZE).scalar_one()
        todo, after, more = _entries_todo(session, after=after, batch=batch)
        rows = [
            {
                "entry_id": r.id,
                "field_code": r.code,
                "leaf_hash": tl.leaf_hash(tl.entry_leaf(r.code, r.chain_seq, r.hash)).hex(),
            }
            for r in todo
        ]
        if not more:
            rows += [
                {
                    "acceptance_id": r.id,
                    "field_code": r.code,
                    "leaf_hash": tl.leaf_hash(acceptance_leaf(r)).hex(),
                }
                for r in session.execute(_ACCEPTANCES_TODO.limit(batch - len(rows)))
            ]
        if rows:
            for i, row in enumerate(rows):
                row["idx"] = size + i
                row.setdefault("entry_id", None)
                row.setdefault("acceptance_id", None)
            _insert(session, rows)
            store_nodes(session, size=size, new=[bytes.fromhex(r["leaf_hash"]) for r in rows])
        session.commit()
        added += len(rows)
        if not more and len(rows) < batch:
            return added


_COLUMNS = ("idx", "entry_id", "acceptance_id", "field_code", "leaf_hash")


def _insert(session: Session, rows: list[dict]) -> None:
    """Write leaves in the session's transaction: COPY on PostgreSQL, else one INSERT."""
    conn = session.connection()
    if conn.dialect.name == "postgresql":
        # COPY: the cheapest way to write many rows (bench/tlog_bench.py measures it).
        dbapi = conn.connection.dbapi_connection
        with dbapi.cursor().copy(f"COPY tlog_leaves ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(tuple(row[c] for c in _COLUMNS))
    else:
        conn.execute(insert(TlogLeaf.__table__), rows)


def _entries_todo(session: Session, *, after: int, batch: int) -> tuple[list, int, bool]:
    """Entries not yet in the log: the first ``batch`` of them when ``after`` is 0, else
    those in the next ``batch`` entry ids past ``after`` (an index range, not a scan of
    the whole diary). Returns the rows, the new ``after`` and whether more may follow."""
    if after == 0:
        rows = session.execute(_ENTRIES_TODO.limit(batch)).all()
        return rows, (rows[-1].id if rows else 0), len(rows) == batch
    last = session.execute(
        select(DiaryEntry.id)
        .where(DiaryEntry.id > after)
        .order_by(DiaryEntry.id)
        .offset(batch - 1)
        .limit(1)
    ).scalar_one_or_none()
    stmt = _ENTRIES_TODO.where(DiaryEntry.id > after)
    if last is not None:
        stmt = stmt.where(DiaryEntry.id <= last)
    rows = session.execute(stmt).all()
    return rows, (last if last is not None else after), last is not None


def leaf_hashes(session: Session, size: int | None = None) -> list[bytes]:
    """The stored leaf hashes, in index order (the first ``size`` of them)."""
    stmt = select(TlogLeaf.leaf_hash).order_by(TlogLeaf.idx)
    if size is not None:
        stmt = stmt.where(TlogLeaf.idx < size)
    return [bytes.fromhex(h) for h in session.execute(stmt).scalars()]


def tree(session: Session) -> list[list[bytes]]:
    """Every level of today's tree over the stored leaf hashes."""
    return tl.levels(leaf_hashes(session))


def publish(
    session: Session, *, key: Ed25519PrivateKey, origin: str, now: datetime | None = None
) -> TlogCheckpoint:
    """Sequence what is waiting, then sign and store a checkpoint of the whole tree."""
    sequence(session)
    size = session.execute(SIZE).scalar_one()
    cp = tl.Checkpoint(origin=origin, size=size, root_hash=Nodes(session, size).root())
    verifier = tl.Verifier.of(origin, key.public_key())
    row = TlogCheckpoint(
        origin=origin,
        size=cp.size,
        root_hash=cp.root_hash.hex(),
        signed_at=(now or utcnow()).replace(microsecond=0),
        key_hash=verifier.key_hash.hex(),
        vkey=verifier.text(),
        note=tl.sign_checkpoint(cp, key),
    )
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


@lru_cache(maxsize=4)
def _parsed_witness_keys(text_: str) -> tuple[tuple[str, Any], ...]:
    return tuple(tl.parse_cosigner_vkeys(text_))


def witness_keys() -> tuple[tuple[str, Any], ...]:
    """The configured witnesses' cosigner keys (AGRITRACE_WITNESS_KEYS), as (name, key)."""
    return _parsed_witness_keys(get_settings().witness_keys)


def cosignatures(row: Any) -> list[tl.Cosignature]:
    """Each witness's cosignature on checkpoint ``row``, checked against the configured keys."""
    return tl.cosignatures(row.note, origin=row.origin, trusted=witness_keys())


def public(row: TlogCheckpoint) -> CheckpointPublic:
    """The API shape of a checkpoint: the signed note whole, what it states, and each
    witness's cosignature checked against the configured witness keys."""
    _text, sigs = tl.split_note(row.note)
    return CheckpointPublic(
        cosignatures=[CosignaturePublic(**asdict(c)) for c in cosignatures(row)],
        origin=row.origin,
        tree_size=row.size,
        root_hash=row.root_hash,
        issued_at=row.signed_at,
        key_id=row.key_hash,
        public_key=row.vkey,
        note=row.note,
        signature=base64.b64encode(sigs[0].key_hash + sigs[0].signature).decode(),
    )


def latest(session: Session) -> TlogCheckpoint:
    """The newest checkpoint; ``NotFound`` if none was published yet."""
    row = session.execute(
        select(TlogCheckpoint).order_by(TlogCheckpoint.id.desc()).limit(1)
    ).scalar_one_or_none()
    if row is None:
        raise NotFound("no checkpoint has been published yet")
    return row


def list_checkpoints(session: Session, *, offset: int = 0, limit: int = 100) -> CheckpointsPublic:
    """Published checkpoints, newest first."""
    rows = session.execute(
        select(TlogCheckpoint).order_by(TlogCheckpoint.id.desc()).offset(offset).limit(limit)
    ).scalars()
    count = session.execute(select(func.count()).select_from(TlogCheckpoint)).scalar_one()
    return CheckpointsPublic(data=[public(r) for r in rows], count=count)


def _b64(hashes: Sequence[bytes]) -> list[str]:
    return [base64.b64encode(h).decode() for h in hashes]


def _sizes(
    session: Session, first: int, second: int | None, names: tuple[str, str] = ("from", "to")
) -> tuple[int, int]:
    size = session.execute(SIZE).scalar_one()
    second = size if second is None else second
    if not 0 <= first <= second:
        raise InvalidInput(
            f"'{names[0]}' ({first}) must be at least 0 and at most '{names[1]}' ({second})"
        )
    if second > size:
        raise NotFound(f"the log holds {size} leaves, not {second}")
    return first, second


def consistency(session: Session, *, first: int, second: int | None = None) -> dict[str, Any]:
    """The RFC 9162 consistency proof from the tree of ``first`` leaves to ``second``
    (default: every leaf sequenced so far), hashes in base64."""
    first, second = _sizes(session, first, second)
    proof = Nodes(session, second).consistency(first)
    return {"from": first, "to": second, "proof": _b64(proof)}


def inclusion(session: Session, *, index: int, size: int | None = None) -> dict[str, Any]:
    """The RFC 9162 inclusion proof of leaf ``index`` in the tree of ``size`` leaves."""
    index, size = _sizes(session, index, size, ("index", "size"))
    if index >= size:
        raise InvalidInput(f"leaf {index} is not in a tree of {size}")
    nodes = Nodes(session, size)
    return {
        "index": index,
        "size": size,
        "leaf_hash": base64.b64encode(nodes.leaf(index)).decode(),
        "proof": _b64(nodes.inclusion(index)),
    }


# ---------------------------------------------------------------- checking a saved checkpoint


@dataclass
class LogCheck:
    """What checking a saved checkpoint against today's database found."""

    signature_valid: bool = False
    consistent: bool = False
    saved_size: int = 0
    today_size: int = 0
    leaves_checked: int = 0
    not_yet_logged: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        """Whether the database still agrees with the checkpoint."""
        return self.signature_valid and self.consistent and not self.problems


def check(session: Session, *, note: str, verifier: tl.Verifier) -> LogCheck:
    """Check a saved checkpoint note, signed by ``verifier``, against today's database."""
    out = LogCheck()
    try:
        saved = tl.open_checkpoint(note, verifier)
    except AgritraceError as exc:
        out.problems.append(f"the saved checkpoint: {exc}")
        return out
    out.signature_valid, out.saved_size = True, saved.size
    try:
        today_row = latest(session)
        today = tl.open_checkpoint(today_row.note, verifier)
    except AgritraceError as exc:
        out.problems.append(f"today's checkpoint: {exc}")
        return out
    out.today_size = today.size
    stored = leaf_hashes(session)
    if today.size < saved.size or len(stored) < saved.size:
        out.problems.append(
            f"rollback: the saved checkpoint signed {saved.size} leaves, today's log holds "
            f"{min(today.size, len(stored))}: its newest leaves were removed"
        )
        _recompute(session, out, stored, saved)
        return out
    levels = tl.levels(stored[: today.size])
    if tl.root_at(levels, today.size) != today.root_hash:
        out.problems.append("today's stored leaves do not give today's signed root")
    proof = tl.consistency_proof(levels, saved.size, today.size)
    out.consistent = tl.verify_consistency(
        saved.size, today.size, proof, saved.root_hash, today.root_hash
    )
    if not out.consistent:
        out.problems.append(
            f"fork: today's tree of {today.size} leaves does not extend the saved tree of "
            f"{saved.size} (no consistency proof between them holds)"
        )
    _recompute(session, out, stored, saved)
    _check_nodes(session, out, stored)
    return out


def _check_nodes(session: Session, out: LogCheck, stored: list[bytes]) -> None:
    """Name each stored subtree hash (a tile's entry above level 0) that the stored leaves
    do not give: proofs and tiles are read from them."""
    full = tl.levels(stored)
    for node in session.execute(select(TlogNode).order_by(TlogNode.level, TlogNode.idx)).scalars():
        height = TILE_HEIGHT * node.level
        whole = len(stored) >> height
        if node.idx >= whole:
            out.problems.append(
                f"the stored tile hash {node.level}/{node.idx} lies beyond the log's "
                f"{len(stored)} leaves"
            )
        elif full[height][node.idx].hex() != node.hash:
            out.problems.append(
                f"the stored tile hash {node.level}/{node.idx} is not the hash of its leaves"
            )


def _recompute(session: Session, out: LogCheck, stored: list[bytes], saved: tl.Checkpoint) -> None:
    """Recompute every leaf from its row's content; name each that differs, and check the
    recomputed leaves give the saved root (every entry's inclusion in the signed tree)."""
    rows = {r.idx: r for r in session.execute(select(TlogLeaf).order_by(TlogLeaf.idx)).scalars()}
    now = _recomputed_leaves(session, rows)
    for idx in range(len(stored)):
        leaf, what = now.get(idx, (None, f"leaf {idx} has no row any more"))
        if leaf is None:
            out.problems.append(what)
        elif leaf != stored[idx] and idx < saved.size:
            out.problems.append(f"{what}: its content no longer gives the leaf that was signed")
        elif leaf != stored[idx]:
            out.problems.append(f"{what}: its content no longer gives its stored leaf")
    out.leaves_checked = len(stored)
    if len(stored) >= saved.size:
        recomputed = [now.get(i, (stored[i], ""))[0] or stored[i] for i in range(saved.size)]
        if tl.root(recomputed) != saved.root_hash and not out.problems:
            out.problems.append("the rows rebuild another root than the one that was signed")
    out.not_yet_logged = session.execute(
        select(func.count())
        .select_from(DiaryEntry)
        .outerjoin(TlogLeaf, TlogLeaf.entry_id == DiaryEntry.id)
        .where(TlogLeaf.idx.is_(None))
    ).scalar_one()


def _recomputed_leaves(
    session: Session, rows: dict[int, TlogLeaf]
) -> dict[int, tuple[bytes | None, str]]:
    """Each leaf index's leaf hash recomputed from the rows it points at, and its name."""
    entries = session.execute(
        select(DiaryEntry, FarmField.code)
        .join(FarmField, FarmField.id == DiaryEntry.field_id)
        .order_by(DiaryEntry.field_id, DiaryEntry.chain_seq)
    ).all()
    products = dict(session.execute(select(InputProduct.id, InputProduct.code)).all())
    by_field: dict[int, list[DiaryEntry]] = {}
    code_of: dict[int, str] = {}
    for e, code in entries:
        by_field.setdefault(e.field_id, []).append(e)
        code_of[e.field_id] = code
    entry_of: dict[int, tuple[DiaryEntry, str, Any]] = {}
    for fid, chain in by_field.items():
        names = names_in_chain(chain, field_code=code_of[fid], product_codes=products)
        for e in chain:
            entry_of[e.id] = (e, code_of[fid], names[e.id])
    accepted = {r.id: r for r in session.execute(ACCEPTANCES)}
    out: dict[int, tuple[bytes | None, str]] = {}
    for idx, row in rows.items():
        if row.entry_id is not None:
            found = entry_of.get(row.entry_id)
            if found is None:
                out[idx] = (
                    None,
                    f"leaf {idx}: diary entry {row.entry_id} of field '{row.field_code}' is gone",
                )
                continue
            e, code, names = found
            what = f"leaf {idx}: entry {e.chain_seq} (id {e.id}) of field '{code}'"
            if code != row.field_code:
                what += f" (logged as field '{row.field_code}')"
            leaf = tl.entry_leaf(code, e.chain_seq, entry_hash(e, names))
            out[idx] = (tl.leaf_hash(leaf), what)
        else:
            a = accepted.get(row.acceptance_id)
            if a is None:
                out[idx] = (None, f"leaf {idx}: acceptance {row.acceptance_id} is gone")
                continue
            what = (
                f"leaf {idx}: the acceptance of an amendment of field '{a.code}' "
                f"for lot '{a.lot_code}'"
            )
            out[idx] = (tl.leaf_hash(acceptance_leaf(a)), what)
    return out


# ---------------------------------------------------------------- proofs for the trace


def checkpoint_nodes(session: Session, row: Any) -> Nodes:
    """The tree a checkpoint ``row`` (``size``, ``root_hash``) signed, read from the stored
    tiles (O(log n) rows a proof, none for a tile this process already checked), each
    checked against its root; ``InvalidInput`` if they no longer give it."""
    try:
        return signed(session, size=row.size, root=bytes.fromhex(row.root_hash))
    except InvalidInput as exc:
        raise InvalidInput(f"checkpoint {row.id}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class FieldLeaf:
    """A field's newest entry in a checkpoint: its leaf index, place in the chain, hash."""

    idx: int
    chain_seq: int
    entry_hash: str
    field_code: str

    def leaf(self) -> bytes:
        """The leaf's bytes."""
        return tl.entry_leaf(self.field_code, self.chain_seq, self.entry_hash)


def newest_leaves(session: Session, *, size: int, field_ids: list[int]) -> dict[int, FieldLeaf]:
    """Each field's newest entry among the first ``size`` leaves, by field id."""
    rows = session.execute(
        select(
            DiaryEntry.field_id, TlogLeaf.idx, DiaryEntry.chain_seq, DiaryEntry.hash, FarmField.code
        )
        .join(TlogLeaf, TlogLeaf.entry_id == DiaryEntry.id)
        .join(FarmField, FarmField.id == DiaryEntry.field_id)
        .where(DiaryEntry.field_id.in_(field_ids), TlogLeaf.idx < size)
        .order_by(DiaryEntry.field_id, DiaryEntry.chain_seq)
    ).all()
    return {fid: FieldLeaf(idx, seq, h, code) for fid, idx, seq, h, code in rows}


def field_inclusion(session: Session, *, field_code: str) -> InclusionProof | None:
    """The field's newest entry in the newest checkpoint with its audit path, if any."""
    try:
        row = latest(session)
    except NotFound:
        return None
    fid = session.execute(select(FarmField.id).where(FarmField.code == field_code)).scalar_one()
    found = newest_leaves(session, size=row.size, field_ids=[fid]).get(fid)
    if found is None:
        return None
    nodes = checkpoint_nodes(session, row)
    return InclusionProof(
        field_code=field_code,
        leaf=found.leaf().decode(),
        checkpoint=public(row),
        checkpoint_id=row.id,
        leaf_index=found.idx,
        diary_length=found.chain_seq,
        diary_head=found.entry_hash,
        leaf_hash=nodes.leaf(found.idx).hex(),
        audit_path=[h.hex() for h in nodes.inclusion(found.idx)],
    )


# ---------------------------------------------------------------- witnesses


def _post(url: str, body: bytes, timeout: float) -> tuple[int, str, str]:
    """POST ``body``; the answer's status, content type and text (stdlib only)."""
    req = urllib.request.Request(url, data=body, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - a configured URL
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()


def request_cosignature(
    session: Session,
    *,
    row: TlogCheckpoint,
    url: str,
    name: str,
    public: Any,
    timeout: float = 10.0,
) -> str:
    """Ask the witness at ``url`` (C2SP tlog-witness) to cosign checkpoint ``row``; keep its
    cosignature in the row's note and return the line. ``Conflict`` naming the witness's
    reason when it refuses."""
    old = 0
    nodes = Nodes(session, row.size)
    for _attempt in range(3):
        proof = nodes.consistency(old) if old else []
        body = f"old {old}\n" + "".join(f"{p}\n" for p in _b64(proof)) + "\n" + row.note
        status, ctype, text_ = _post(url.rstrip("/") + "/add-checkpoint", body.encode(), timeout)
        if status == 409 and ctype.startswith("text/x.tlog.size"):
            old = int(text_.strip())
            if old > row.size:
                raise Conflict(
                    f"witness {name} cosigned {old} leaves already, more than this log has"
                )
            continue
        if status != 200:
            raise Conflict(f"witness {name} refused the checkpoint ({status}): {text_.strip()}")
        line = next((x + "\n" for x in text_.splitlines() if x.startswith(f"\u2014 {name} ")), "")
        if not line or tl.cosignature_time(row.note + line, name=name, public=public) is None:
            raise Conflict(f"witness {name} answered no valid cosignature")
        row.note += line
        session.add(row)
        session.commit()
        return line
    raise Conflict(f"witness {name} keeps answering with another size")


def _lineage_field_ids(session: Session, lot_id: int) -> list[int]:
    """The fields of a lot and of every lot it was milled or mixed from."""
    lots, todo = {lot_id}, [lot_id]
    while todo:
        parents = session.execute(
            select(LotParent.parent_id).where(LotParent.lot_id.in_(todo))
        ).scalars()
        todo = [p for p in parents if p not in lots]
        lots.update(todo)
    return sorted(
        session.execute(select(LotField.field_id).where(LotField.lot_id.in_(lots)))
        .scalars()
        .unique()
    )


def lot_proof(session: Session, *, code: str) -> LotProof:
    """The newest checkpoint and each of a lot's fields' inclusion proof in it, built now
    (apart from the stored trace, which a new checkpoint does not make stale)."""
    lot = get_lot(session, code=code)
    row = latest(session)
    field_ids = _lineage_field_ids(session, lot.id)
    codes = dict(
        session.execute(
            select(FarmField.id, FarmField.code).where(FarmField.id.in_(field_ids))
        ).all()
    )
    leaves = newest_leaves(session, size=row.size, field_ids=field_ids)
    nodes = checkpoint_nodes(session, row) if leaves else None
    proofs = []
    for fid, leaf in sorted(leaves.items(), key=lambda kv: codes[kv[0]]):
        stored = nodes.leaf(leaf.idx)
        proofs.append(
            FieldProof(
                field_code=codes[fid],
                leaf=leaf.leaf().decode(),
                leaf_index=leaf.idx,
                leaf_hash=stored.hex(),
                audit_path=[h.hex() for h in nodes.inclusion(leaf.idx)],
                diary_length=leaf.chain_seq,
                diary_head=leaf.entry_hash,
                diary_matches=tl.leaf_hash(leaf.leaf()) == stored,
            )
        )
    return LotProof(
        lot_code=lot.code,
        checkpoint=public(row),
        fields=proofs,
        not_anchored=sorted(codes[f] for f in field_ids if f not in leaves),
    )
