"""The transparency log served as C2SP tlog-tiles: hash tiles and entry bundles.

A hash tile at level ``L`` holds up to 256 node hashes at height ``8 × L`` of the tree,
an entry bundle the bytes of up to 256 leaves, each after its length. A hash tile is one
range read of the stored leaves or subtree hashes (:mod:`traceability.services.tlog_nodes`);
an entry's bytes are rebuilt from
the row it stands for, so a row changed behind the log gives bytes that no longer hash to
the tile's leaf.
"""

from sqlalchemy import select
from sqlmodel import Session

from traceability import transparency as tl
from traceability.errors import InvalidInput, NotFound
from traceability.models import AmendmentAcceptance, DiaryEntry, TlogLeaf
from traceability.services.tlog import ACCEPTANCES, SIZE, acceptance_leaf
from traceability.services.tlog_nodes import TILE_HEIGHT, TILE_WIDTH, Nodes


def tile_index(path: str) -> tuple[int, int | None]:
    """The index ``N`` and partial width ``W`` (None: a full tile) of a tile path's tail,
    e.g. ``x001/x234/067.p/8`` → (1234067, 8); ``InvalidInput`` if not in the spec's form.

    >>> tile_index("x001/x234/067")
    (1234067, None)
    >>> tile_index("000.p/3")
    (0, 3)
    """
    width = None
    if ".p/" in path:
        path, w = path.split(".p/", 1)
        if not w.isdigit() or w.startswith("0") or not 1 <= int(w) < TILE_WIDTH:
            raise InvalidInput(f"a partial tile's width is 1 to 255: {w!r}")
        width = int(w)
    parts = path.split("/")
    digits = [p.removeprefix("x") for p in parts[:-1]] + [parts[-1]]
    ok = all(p.startswith("x") for p in parts[:-1]) and all(
        len(d) == 3 and d.isascii() and d.isdigit() for d in digits
    )
    if not ok or (len(digits) > 1 and digits[0] == "000"):
        raise InvalidInput(f"a tile index is 3-digit groups, all but the last with x: {path!r}")
    return int("".join(digits)), width


def _tile_span(level: int, index: int, width: int | None, size: int) -> tuple[int, int]:
    """The tile's first node and its number of nodes at height ``8 × level``, if the tree
    of ``size`` leaves holds them all."""
    nodes = size >> (TILE_HEIGHT * level)  # whole subtrees at that height
    want = width or TILE_WIDTH
    first = index * TILE_WIDTH
    if first + want > nodes:
        raise NotFound(f"the log of {size} leaves has no tile {level}/{index} of width {want}")
    return first, want


def tile(session: Session, *, level: int, index: int, width: int | None) -> bytes:
    """A hash tile: the tile's node hashes, 32 bytes each, concatenated (one range read of
    the stored leaves or subtree hashes of that level)."""
    size = session.execute(SIZE).scalar_one()
    _first, count = _tile_span(level, index, width, size)
    return b"".join(Nodes(session, size).tile(level, index)[:count])


def entries_tile(session: Session, *, index: int, width: int | None) -> bytes:
    """An entry bundle: each leaf's bytes after its length as a big-endian uint16,
    rebuilt from the rows each leaf stands for."""
    size = session.execute(SIZE).scalar_one()
    first, count = _tile_span(0, index, width, size)
    rows = session.execute(
        select(TlogLeaf, DiaryEntry.chain_seq, DiaryEntry.hash)
        .outerjoin(DiaryEntry, DiaryEntry.id == TlogLeaf.entry_id)
        .where(TlogLeaf.idx >= first, TlogLeaf.idx < first + count)
        .order_by(TlogLeaf.idx)
    ).all()
    accepted = {
        r.id: r
        for r in session.execute(
            ACCEPTANCES.where(
                AmendmentAcceptance.id.in_(
                    [leaf.acceptance_id for leaf, _s, _h in rows if leaf.acceptance_id]
                )
            )
        )
    }
    out = bytearray()
    for leaf, seq, entry_hash_ in rows:
        if leaf.entry_id is not None and seq is not None:
            data = tl.entry_leaf(leaf.field_code, seq, entry_hash_)
        elif leaf.acceptance_id in accepted:
            data = acceptance_leaf(accepted[leaf.acceptance_id])
        else:
            raise NotFound(f"leaf {leaf.idx}'s row is gone from the database")
        out += len(data).to_bytes(2, "big") + data
    return bytes(out)
