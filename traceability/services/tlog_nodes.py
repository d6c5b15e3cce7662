"""The log's tree read from stored hashes: a proof or a tile costs O(log n) small reads.

Besides each leaf's hash (``tlog_leaves``), the sequencer stores the hash of every whole,
aligned subtree of 256^L leaves (``tlog_nodes``, level ``L`` ≥ 1) as soon as its last
leaf is appended. These are exactly the entries of C2SP tlog-tiles' hash tiles at level
``L`` (RFC 9162 trees; a whole subtree, like a full tile, never changes), so:

- a hash tile at level ``L`` is one range read of at most 256 rows of level ``L``;
- any other aligned subtree of height ``8 × L + r`` is the root of 2^r consecutive
  stored hashes of level ``L`` (at most 128, within one tile);
- any range of leaves (a proof's hashes, a root) splits into O(log n) aligned subtrees,
  which touch at most two tiles per level.

:class:`Nodes` reads a tile once per instance (one instance per answer). A node missing
from the store (leaves written by hand, a database from before the nodes table) is
rebuilt from the level below, in memory; nothing is written when reading, so a replica
can answer.

:func:`signed` gives the tree a signed checkpoint names, checked against its root: the
tiles its root is computed from (every partial tile and the top one) are checked by the
root itself, and every whole tile read after is checked against the entry above it,
as a tlog client checks tiles (Go's ``tlog.TileHashReader``). Those checked tiles are
kept for the process, per checkpoint, so a scan's anchor reads no tile it read before.
"""

import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence

from sqlalchemy import delete, insert, select
from sqlmodel import Session

from traceability import transparency as tl
from traceability.errors import InvalidInput
from traceability.models import TlogLeaf, TlogNode

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
#: Levels kept: 256^4 leaves (4.3 × 10^9) is the most a tree of four stored levels spans
#: with whole tiles; higher subtrees are rebuilt from level 4 (at most 256 hashes a tile).
MAX_LEVEL = 4


def _root(hashes: Sequence[bytes]) -> bytes:
    """The root of a power-of-two run of hashes, hashed pairwise up."""
    row = list(hashes)
    while len(row) > 1:
        row = [tl.node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
    return row[0]


def _aligned(lo: int, hi: int) -> Iterator[tuple[int, int]]:
    """RFC 9162's split of leaves ``lo``..``hi`` into whole, aligned subtrees, each as
    (height, position), left to right (the MTH of the range is their right fold)."""
    while lo < hi:
        n = hi - lo
        if n & (n - 1) == 0 and lo % n == 0:
            h = n.bit_length() - 1
            yield h, lo >> h
            return
        k = 1 << ((n - 1).bit_length() - 1)
        # Every range an RFC 9162 tree splits starts at a multiple of its left part.
        if lo % k:
            raise InvalidInput(f"leaves {lo} to {hi} are not a subtree of an RFC 9162 tree")
        yield k.bit_length() - 1, lo // k
        lo += k


class Checked:
    """Tiles of one signed tree already checked against its root, shared by a process's
    answers: the tiles the root was computed from (never dropped), and up to ``whole``
    whole tiles checked against the entry above them (the least recently used dropped)."""

    def __init__(self, whole: int = 256) -> None:
        self.pinned: dict[tuple[int, int], list[list[bytes]]] = {}
        self.whole: OrderedDict[tuple[int, int], list[list[bytes]]] = OrderedDict()
        self.limit = whole
        self.lock = threading.Lock()

    def get(self, key: tuple[int, int]) -> list[list[bytes]] | None:
        """A checked tile's levels, or None."""
        with self.lock:
            if key in self.pinned:
                return self.pinned[key]
            if key in self.whole:
                self.whole.move_to_end(key)
                return self.whole[key]
        return None

    def put(self, key: tuple[int, int], levels: list[list[bytes]], *, pinned: bool) -> None:
        """Keep a checked tile."""
        with self.lock:
            if pinned:
                self.pinned[key] = levels
                return
            self.whole[key] = levels
            while len(self.whole) > self.limit:
                self.whole.popitem(last=False)


class Nodes:
    """The tree of the first ``size`` leaves, read from stored hashes a tile at a time.

    With ``checked`` (see :func:`signed`), tiles come from and go to that shared store,
    and a whole tile read from the database must hash to the entry above it."""

    def __init__(self, session: Session, size: int, checked: Checked | None = None) -> None:
        self.session, self.size = session, size
        # Each tile read, with the levels hashed up inside it (tl.levels).
        self._tiles: dict[tuple[int, int], list[list[bytes]]] = {}
        self.reads = 0  # how many range reads this instance made (the benchmark shows it)
        self.checked = checked
        self._pinning = False  # while the root is computed: the tiles it reads get pinned

    def _stored(self, level: int, first: int, count: int) -> list[bytes]:
        """Hashes ``first``..``first + count`` of ``level`` (whole subtrees of 256^level
        leaves), read in one range; any missing is rebuilt from the level below."""
        if count <= 0:
            return []
        self.reads += 1
        if level == 0:
            stmt = (
                select(TlogLeaf.idx, TlogLeaf.leaf_hash)
                .where(TlogLeaf.idx >= first, TlogLeaf.idx < first + count)
                .order_by(TlogLeaf.idx)
            )
        else:
            stmt = (
                select(TlogNode.idx, TlogNode.hash)
                .where(TlogNode.level == level, TlogNode.idx >= first, TlogNode.idx < first + count)
                .order_by(TlogNode.idx)
            )
        got = {i: bytes.fromhex(h) for i, h in self.session.execute(stmt)}
        if len(got) == count:
            return [got[i] for i in range(first, first + count)]
        if level == 0:
            raise InvalidInput(f"the log's leaves {first} to {first + count} are not all stored")
        out = []
        for i in range(first, first + count):
            if i not in got:
                got[i] = _root(self._stored(level - 1, i * TILE_WIDTH, TILE_WIDTH))
            out.append(got[i])
        return out

    def tile(self, level: int, index: int) -> list[bytes]:
        """Tile ``index`` of ``level``: up to 256 hashes of whole subtrees of 256^level
        leaves (fewer in the tree's last, partial tile)."""
        return self._tile(level, index)[0]

    def _tile(self, level: int, index: int) -> list[list[bytes]]:
        key = (level, index)
        if key in self._tiles:
            return self._tiles[key]
        got = self.checked.get(key) if self.checked is not None else None
        if got is None:
            whole = self.size >> (TILE_HEIGHT * level)
            count = min(TILE_WIDTH, whole - index * TILE_WIDTH)
            if count <= 0:
                raise InvalidInput(f"the tree of {self.size} has no tile {level}/{index}")
            got = tl.levels(self._stored(level, index * TILE_WIDTH, count))
            if self.checked is not None:
                self._check(level, index, got, count)
        self._tiles[key] = got
        return got

    def _check(self, level: int, index: int, levels: list[list[bytes]], count: int) -> None:
        """Keep a tile read for a signed tree: pinned while the root is computed from it,
        else a whole tile that hashes to the entry above it."""
        if self._pinning:
            self.checked.put((level, index), levels, pinned=True)
            return
        above = self.size >> (TILE_HEIGHT * (level + 1))
        if count != TILE_WIDTH or index >= above:
            raise InvalidInput(f"tile {level}/{index} is not one the signed root was computed from")
        parent = self._tile(level + 1, index // TILE_WIDTH)[0][index % TILE_WIDTH]
        if levels[-1][0] != parent:
            raise InvalidInput(
                f"the stored tile {level}/{index} does not hash to the signed tree's entry "
                "above it: the log's stored hashes were changed"
            )
        self.checked.put((level, index), levels, pinned=False)

    def subtree(self, height: int, position: int) -> bytes:
        """The hash of the whole subtree of 2^height leaves at ``position`` (in its size)."""
        level, r = divmod(height, TILE_HEIGHT)
        if level > MAX_LEVEL:
            level, r = MAX_LEVEL, height - TILE_HEIGHT * MAX_LEVEL
        first = position << r
        run = 1 << r
        if run <= TILE_WIDTH:
            # Whole groups inside a tile: its levels hold them (tl.levels only promotes
            # the odd last node of a level, never part of a whole group).
            return self._tile(level, first // TILE_WIDTH)[r][(first % TILE_WIDTH) >> r]
        hashes = [
            h for t in range(first // TILE_WIDTH, (first + run) // TILE_WIDTH)
            for h in self.tile(level, t)
        ]  # fmt: skip
        return _root(hashes)

    def mth(self, lo: int, hi: int) -> bytes:
        """RFC 9162's MTH of leaves ``lo``..``hi`` (exclusive), within the tree's size."""
        if not 0 <= lo < hi <= self.size:
            raise InvalidInput(f"leaves {lo} to {hi} are not in a tree of {self.size}")
        parts = [self.subtree(h, p) for h, p in _aligned(lo, hi)]
        out = parts[-1]
        for left in reversed(parts[:-1]):
            out = tl.node_hash(left, out)
        return out

    def root(self) -> bytes:
        """The tree's root (SHA-256 of nothing when empty)."""
        return self.mth(0, self.size) if self.size else tl.EMPTY_ROOT

    def leaf(self, index: int) -> bytes:
        """Leaf ``index``'s hash."""
        return self.subtree(0, index)

    def inclusion(self, index: int) -> list[bytes]:
        """RFC 9162 PATH(index, D[size])."""
        return tl.inclusion_path_by(self.mth, index, self.size)

    def consistency(self, first: int) -> list[bytes]:
        """RFC 9162 PROOF(first, D[size])."""
        if first > self.size:
            raise InvalidInput(f"no consistency proof from {first} to {self.size}")
        return tl.consistency_proof_by(self.mth, first, self.size)


# The signed trees whose tiles were checked, newest used last: (root, size) -> tiles.
_SIGNED: "OrderedDict[tuple[bytes, int], Checked]" = OrderedDict()
_SIGNED_LOCK = threading.Lock()
_SIGNED_KEPT = 2


def signed(session: Session, *, size: int, root: bytes) -> Nodes:
    """The tree of ``size`` leaves whose signed root is ``root``, every tile it reads
    checked against it (``InvalidInput`` naming what does not hold). Keyed by the root
    alone: a root names its leaves, whatever database they are read from."""
    key = (root, size)
    with _SIGNED_LOCK:
        checked = _SIGNED.get(key)
        if checked is not None:
            _SIGNED.move_to_end(key)
    if checked is not None:
        return Nodes(session, size, checked)
    checked = Checked()
    nodes = Nodes(session, size, checked)
    nodes._pinning = True
    try:
        ok = nodes.root() == root
    finally:
        nodes._pinning = False
    if not ok:
        raise InvalidInput("the stored leaves do not give the signed checkpoint's root")
    with _SIGNED_LOCK:
        _SIGNED[key] = checked
        while len(_SIGNED) > _SIGNED_KEPT:
            _SIGNED.popitem(last=False)
    return nodes


def forget_signed() -> None:
    """Drop every checked tile kept for signed trees."""
    with _SIGNED_LOCK:
        _SIGNED.clear()


def store(session: Session, *, size: int, new: Sequence[bytes]) -> int:
    """In the sequencer's transaction, after leaves ``size``.. (hashes ``new``) were
    appended: store the hash of every subtree of 256^L leaves they complete, and drop
    any stored beyond the tree (left by leaves deleted behind the log's back, which the
    tree's checks then show as a fork). Returns how many were stored."""
    rows: list[dict] = []
    below = list(new)
    before = size  # how many hashes the level below held before
    reader = Nodes(session, size)
    for level in range(1, MAX_LEVEL + 1):
        beyond = size >> (TILE_HEIGHT * level)
        session.execute(delete(TlogNode).where(TlogNode.level == level, TlogNode.idx >= beyond))
    for level in range(1, MAX_LEVEL + 1):
        kept = before // TILE_WIDTH
        after = before + len(below)
        done = after // TILE_WIDTH - kept  # subtrees at this level that are now whole
        if done <= 0:
            break
        head = reader._stored(level - 1, kept * TILE_WIDTH, before - kept * TILE_WIDTH)
        run = head + below
        below = [_root(run[i * TILE_WIDTH : (i + 1) * TILE_WIDTH]) for i in range(done)]
        rows += [{"level": level, "idx": kept + i, "hash": h.hex()} for i, h in enumerate(below)]
        before = kept
    if rows:
        session.execute(insert(TlogNode.__table__), rows)
    return len(rows)
