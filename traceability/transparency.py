"""A transparency log of the diaries' heads, in the manner of Certificate Transparency.

Every diary is a hash chain whose newest hash (its *head*) the field keeps. Someone
with write access to the database could still rewrite an entry and recompute every
hash and head after it; nothing inside the database can tell. So the heads are
anchored outside it: a *checkpoint* is a Merkle tree over every field's
``(code, length, head)`` (RFC 6962 / RFC 9162 hashing), whose root is signed with an
Ed25519 key that never enters the database, and published. Whoever keeps a copy of
a checkpoint can later check today's diaries against it, and a buyer can check that
the chain behind a lot is in a published tree with an inclusion proof.

The checkpoint's signed text follows the C2SP ``tlog-checkpoint`` note body: the
log's origin, the tree size in decimal, the root hash in base64, then one extension
line with the time of signing.

Pure functions: no database, no web.
"""

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from traceability import canonical
from traceability.errors import InvalidInput

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

# ---------------------------------------------------------------- Merkle tree (RFC 9162 §2.1)


def leaf_hash(data: bytes) -> bytes:
    """The hash of one leaf: SHA-256 of 0x00 followed by the leaf.

    >>> leaf_hash(b"").hex()[:16]
    '6e340b9cffb37a98'
    """
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """The hash of an inner node: SHA-256 of 0x01, the left hash and the right hash."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def field_leaf(code: str, length: int, head: str | None) -> bytes:
    """The leaf that stands for one field's diary: its code, length and head hash.

    >>> field_leaf("F1", 3, "ab")
    b'F1\\n3\\nab'
    """
    return f"{code}\n{length}\n{head or ''}".encode()


def levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Every level of the tree, leaves first and the root alone last.

    A level with an odd count promotes its last node unchanged, which gives exactly
    RFC 9162's tree (split at the largest power of two below the size).
    """
    if not leaf_hashes:
        return [[EMPTY_ROOT]]
    out = [list(leaf_hashes)]
    while len(out[-1]) > 1:
        below = out[-1]
        above = [node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)]
        if len(below) % 2:
            above.append(below[-1])
        out.append(above)
    return out


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The Merkle tree hash of the leaves (RFC 9162's MTH), SHA-256 of nothing if none."""
    return levels(leaf_hashes)[-1][0]


def inclusion_proof(tree: list[list[bytes]], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` in a tree given by :func:`levels`."""
    if not 0 <= index < len(tree[0]):
        raise InvalidInput(f"leaf {index} is not in a tree of {len(tree[0])}")
    path = []
    for level in tree[:-1]:
        sibling = index ^ 1
        if sibling < len(level):
            path.append(level[sibling])
        index //= 2
    return path


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (RFC 9162's k), for ``n`` > 1."""
    return 1 << ((n - 1).bit_length() - 1)


def subtree_hash(tree: list[list[bytes]], lo: int, hi: int) -> bytes:
    """MTH of leaves ``lo`` to ``hi`` (exclusive) of a tree given by :func:`levels`.

    A whole, aligned subtree is read off its level; any other range is split as RFC
    9162 §2.1.1 splits it.
    """
    n = hi - lo
    if n <= 0 or hi > len(tree[0]):
        raise InvalidInput(f"leaves {lo} to {hi} are not in a tree of {len(tree[0])}")
    if n & (n - 1) == 0 and lo % n == 0:
        k = n.bit_length() - 1
        return tree[k][lo >> k]
    k = _split(n)
    return node_hash(subtree_hash(tree, lo, lo + k), subtree_hash(tree, lo + k, hi))


def root_at(tree: list[list[bytes]], size: int) -> bytes:
    """The root of the tree's first ``size`` leaves (SHA-256 of nothing for none)."""
    if size == 0:
        return EMPTY_ROOT
    return subtree_hash(tree, 0, size)


def inclusion_path(tree: list[list[bytes]], index: int, size: int) -> list[bytes]:
    """RFC 9162 §2.1.3.1 PATH(index, D[size]): leaf ``index``'s audit path in the tree of
    the first ``size`` leaves (``size`` at most the leaves ``tree`` holds)."""
    if not 0 <= index < size <= len(tree[0]):
        raise InvalidInput(f"leaf {index} is not in a tree of {size}")
    return inclusion_path_by(lambda lo, hi: subtree_hash(tree, lo, hi), index, size)


def inclusion_path_by(mth: Callable[[int, int], bytes], index: int, size: int) -> list[bytes]:
    """PATH(index, D[size]) with ``mth(lo, hi)`` giving the hash of leaves ``lo`` to ``hi``:
    the same walk, whatever holds the tree (the levels in memory, or stored tiles)."""
    if not 0 <= index < size:
        raise InvalidInput(f"leaf {index} is not in a tree of {size}")
    path: list[bytes] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        k = _split(hi - lo)
        if m < k:
            path.append(mth(lo + k, hi))
            hi = lo + k
        else:
            path.append(mth(lo, lo + k))
            lo, m = lo + k, m - k
    return path[::-1]


def consistency_proof(tree: list[list[bytes]], first: int, second: int) -> list[bytes]:
    """RFC 9162 §2.1.4.1 PROOF(first, D[second]): that the tree of ``first`` leaves is a
    prefix of the tree of ``second`` (empty when ``first`` is 0 or equals ``second``)."""
    if not 0 <= first <= second <= len(tree[0]):
        raise InvalidInput(
            f"no consistency proof from {first} to {second} in a tree of {len(tree[0])}"
        )
    return consistency_proof_by(lambda lo, hi: subtree_hash(tree, lo, hi), first, second)


def consistency_proof_by(mth: Callable[[int, int], bytes], first: int, second: int) -> list[bytes]:
    """PROOF(first, D[second]) with ``mth(lo, hi)`` giving the hash of leaves ``lo`` to
    ``hi`` (see :func:`inclusion_path_by`)."""
    if not 0 <= first <= second:
        raise InvalidInput(f"no consistency proof from {first} to {second}")
    if first in (0, second):
        return []
    proof: list[bytes] = []
    lo, hi, m, whole = 0, second, first, True
    while m != hi - lo:
        k = _split(hi - lo)
        if m <= k:
            proof.append(mth(lo + k, hi))
            hi = lo + k
        else:
            proof.append(mth(lo, lo + k))
            lo, m, whole = lo + k, m - k, False
    if not whole:
        proof.append(mth(lo, hi))
    return proof[::-1]


def _hashes_ok(*hashes: bytes) -> bool:
    return all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in hashes)


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf hash ``leaf`` at ``index`` in a tree of ``size``
    whose root is ``expected_root`` (RFC 9162 §2.1.3.2). A hash that is not 32 bytes
    (an empty leaf hash or root among them) never verifies.

    >>> hs = [leaf_hash(bytes([i])) for i in range(5)]
    >>> t = levels(hs)
    >>> verify_inclusion(4, 5, hs[4], inclusion_proof(t, 4), t[-1][0])
    True
    >>> verify_inclusion(3, 5, hs[4], inclusion_proof(t, 4), t[-1][0])
    False
    >>> verify_inclusion(0, 1, b"", [], b"")
    False
    """
    if not 0 <= index < size or not _hashes_ok(leaf, expected_root, *proof):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == expected_root


def verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_root: bytes, second_root: bytes
) -> bool:
    """Whether ``proof`` shows the tree of ``first`` leaves with root ``first_root`` is a
    prefix of the tree of ``second`` leaves with root ``second_root`` (RFC 9162 §2.1.4.2).
    A hash that is not 32 bytes never verifies.

    >>> hs = [leaf_hash(bytes([i])) for i in range(7)]
    >>> t = levels(hs)
    >>> verify_consistency(3, 7, consistency_proof(t, 3, 7), root_at(t, 3), root_at(t, 7))
    True
    >>> verify_consistency(3, 7, consistency_proof(t, 3, 7), root_at(t, 4), root_at(t, 7))
    False
    """
    if not 0 <= first <= second or not _hashes_ok(first_root, second_root, *proof):
        return False
    if first == second:
        return not proof and first_root == second_root
    if first == 0:
        return not proof and first_root == EMPTY_ROOT
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
    walked = _consistency_roots(first - 1, second - 1, path)
    return walked is not None and walked == (first_root, second_root)


def _consistency_roots(fn: int, sn: int, path: list[bytes]) -> tuple[bytes, bytes] | None:
    """The two roots RFC 9162 §2.1.4.2 computes from a consistency path, or None if the
    path does not fit the sizes (``fn``, ``sn``: the two sizes less one)."""
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while fn & 1 == 0 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return (fr, sr) if sn == 0 else None


# ---------------------------------------------------------------- what the log's leaves hold


def entry_leaf(field_code: str, chain_seq: int, entry_hash: str) -> bytes:
    """The leaf of one diary entry: RFC 8785 JSON naming the field by its code, the
    entry's place in the field's chain and the entry's own content hash.

    >>> entry_leaf("GR-1", 2, "ab" * 32)[:40]
    b'{"field":"GR-1","hash":"abababababababab'
    """
    code, digest = canonical.jcs_plain_string(field_code), canonical.jcs_plain_string(entry_hash)
    if code is None or digest is None or type(chain_seq) is not int:
        return canonical.jcs(
            {"kind": "diary-entry", "field": field_code, "seq": chain_seq, "hash": entry_hash}
        )
    # The same bytes RFC 8785 gives (keys in order, nothing to escape), written directly:
    # the sequencer makes one per entry.
    return b'{"field":%s,"hash":%s,"kind":"diary-entry","seq":%d}' % (code, digest, chain_seq)


def acceptance_leaf(
    *, field_code: str, lot_code: str, entry_hash: str, role: str, accepted_at: datetime
) -> bytes:
    """The leaf of a reviewer's acceptance of an amendment: which lot, the amending
    entry's hash, the reviewer's role and the time (the reason is kept, not published)."""
    return canonical.jcs(
        {
            "kind": "amendment-acceptance",
            "field": field_code,
            "lot": lot_code,
            "hash": entry_hash,
            "role": role,
            "accepted_at": canonical.utc_text(accepted_at),
        }
    )


# ---------------------------------------------------------------- C2SP signed notes


ALG_ED25519 = 0x01
_SIG_PREFIX = "\u2014 "


def _check_key_name(name: str) -> None:
    if not name or any(c.isspace() for c in name) or "+" in name:
        raise InvalidInput(f"a key name is not empty and holds no space or '+': {name!r}")


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def note_key_hash(name: str, public: Ed25519PublicKey) -> bytes:
    """The 4-byte key ID of a signed note: SHA-256(name ‖ 0x0A ‖ 0x01 ‖ key), first 4 bytes."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([ALG_ED25519]) + _raw(public)).digest()[:4]


def vkey(name: str, public: Ed25519PublicKey) -> str:
    """The verifier key in the signed-note text form: ``name+hex(key ID)+base64(0x01 ‖ key)``."""
    _check_key_name(name)
    raw = bytes([ALG_ED25519]) + _raw(public)
    return f"{name}+{note_key_hash(name, public).hex()}+{base64.b64encode(raw).decode()}"


@dataclass(frozen=True, slots=True)
class Verifier:
    """A signed-note verifier key: its name, key ID and Ed25519 public key."""

    name: str
    key_hash: bytes
    public: Ed25519PublicKey

    @classmethod
    def parse(cls, text: str) -> "Verifier":
        """A verifier from its ``vkey`` text; ``InvalidInput`` naming what is wrong."""
        parts = text.strip().split("+", 2)
        if len(parts) != 3:
            raise InvalidInput("a verifier key is name+keyid+base64 key")
        name, hash_hex, key_b64 = parts
        _check_key_name(name)
        try:
            raw = base64.b64decode(key_b64, validate=True)
            key_hash = bytes.fromhex(hash_hex)
        except ValueError as exc:
            raise InvalidInput(f"the verifier key cannot be read: {exc}") from exc
        if len(key_hash) != 4 or len(raw) != 33 or raw[0] != ALG_ED25519:
            raise InvalidInput("the verifier key is not a 4-byte key ID and an Ed25519 key")
        public = Ed25519PublicKey.from_public_bytes(raw[1:])
        if note_key_hash(name, public) != key_hash:
            raise InvalidInput("the verifier key's ID does not match its name and key")
        return cls(name=name, key_hash=key_hash, public=public)

    @classmethod
    def of(cls, name: str, public: Ed25519PublicKey) -> "Verifier":
        """The verifier of ``public`` under ``name``."""
        _check_key_name(name)
        return cls(name=name, key_hash=note_key_hash(name, public), public=public)

    def text(self) -> str:
        """The ``vkey`` text form."""
        return vkey(self.name, self.public)


def sign_note(text: str, *, name: str, key: Ed25519PrivateKey) -> str:
    """The signed note: ``text`` (ending in a newline), a blank line, one signature line."""
    _check_key_name(name)
    if not text.endswith("\n") or "\n\n" in text:
        raise InvalidInput("a note's text ends in a newline and holds no blank line")
    sig = note_key_hash(name, key.public_key()) + key.sign(text.encode())
    return f"{text}\n{_SIG_PREFIX}{name} {base64.b64encode(sig).decode()}\n"


@dataclass(frozen=True, slots=True)
class NoteSignature:
    """One signature line of a signed note."""

    name: str
    key_hash: bytes
    signature: bytes


def split_note(note: str) -> tuple[str, list[NoteSignature]]:
    """A signed note's text and its signature lines; ``InvalidInput`` if it is malformed."""
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise InvalidInput("a signed note is text, a blank line and signature lines")
    text, sig_block = note[: cut + 1], note[cut + 2 :]
    sigs = []
    for line in sig_block.removesuffix("\n").split("\n"):
        if not line.startswith(_SIG_PREFIX):
            raise InvalidInput(f"not a signature line: {line[:60]!r}")
        try:
            name, b64 = line.removeprefix(_SIG_PREFIX).split(" ")
            raw = base64.b64decode(b64, validate=True)
        except ValueError as exc:
            raise InvalidInput(f"a signature line cannot be read: {line[:60]!r}") from exc
        if len(raw) < 5 or not name:
            raise InvalidInput(f"a signature line is too short: {line[:60]!r}")
        sigs.append(NoteSignature(name=name, key_hash=raw[:4], signature=raw[4:]))
    return text, sigs


def open_note(note: str, verifier: Verifier) -> str:
    """The text of a signed note that ``verifier`` signed; ``InvalidInput`` otherwise."""
    text, sigs = split_note(note)
    mine = [s for s in sigs if s.name == verifier.name and s.key_hash == verifier.key_hash]
    if not mine:
        raise InvalidInput(f"the note carries no signature by {verifier.name}")
    for s in mine:
        try:
            verifier.public.verify(s.signature, text.encode())
        except InvalidSignature:
            raise InvalidInput(f"the signature by {verifier.name} is not valid") from None
    return text


# ---------------------------------------------------------------- C2SP tlog-checkpoint


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A C2SP tlog-checkpoint: the log of ``origin`` held ``size`` leaves with this root."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """The note text: origin, size in decimal, base64 root, any extension lines."""
        root_b64 = base64.b64encode(self.root_hash).decode()
        lines = [self.origin, str(self.size), root_b64, *self.extensions]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str) -> "Checkpoint":
        """The checkpoint a note's text states (the signed note whole is also taken);
        ``InvalidInput`` naming what is wrong."""
        if "\n\n" in text:
            text = split_note(text)[0]
        if not text.endswith("\n"):
            raise InvalidInput("a checkpoint's text ends in a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3:
            raise InvalidInput("a checkpoint is at least three lines: origin, size, root")
        origin, size_text, root_b64, *ext = lines
        if not origin:
            raise InvalidInput("a checkpoint's origin line is empty")
        if (
            not size_text.isascii()
            or not size_text.isdigit()
            or (size_text != "0" and size_text.startswith("0"))
        ):
            raise InvalidInput(f"a checkpoint's size is a decimal number: {size_text[:30]!r}")
        try:
            root_hash = base64.b64decode(root_b64, validate=True)
        except ValueError as exc:
            raise InvalidInput(f"a checkpoint's root is not base64: {exc}") from exc
        if len(root_hash) != HASH_SIZE:
            raise InvalidInput("a checkpoint's root hash is not 32 bytes")
        if any(not e for e in ext):
            raise InvalidInput("a checkpoint's extension lines are not empty")
        return cls(origin=origin, size=int(size_text), root_hash=root_hash, extensions=tuple(ext))


def sign_checkpoint(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> str:
    """The checkpoint as a signed note, signed under its origin as key name."""
    return sign_note(checkpoint.body(), name=checkpoint.origin, key=key)


def open_checkpoint(note: str, verifier: Verifier) -> Checkpoint:
    """The checkpoint of a signed note that ``verifier`` signed for its own origin."""
    cp = Checkpoint.parse(open_note(note, verifier))
    if cp.origin != verifier.name:
        raise InvalidInput(f"the checkpoint is of '{cp.origin}', the key of '{verifier.name}'")
    return cp


# ---------------------------------------------------------------- superseded checkpoints


@dataclass(frozen=True, slots=True)
class HeadsCheckpoint:
    """A checkpoint of the superseded per-field-head tree (before revision 0012_trust):
    at ``issued_at`` the tree over every field's ``(code, length, head)`` held ``size``
    leaves with this ``root_hash``. Kept so that copies saved then can still be checked."""

    origin: str
    size: int
    root_hash: bytes
    issued_at: datetime

    def body(self) -> bytes:
        """The signed text (origin, size, base64 root, one ``issued-at`` line)."""
        root_b64 = base64.b64encode(self.root_hash).decode()
        when = self.issued_at.isoformat(timespec="seconds")
        return f"{self.origin}\n{self.size}\n{root_b64}\nissued-at {when}\n".encode()

    @classmethod
    def parse(cls, body: bytes | str) -> "HeadsCheckpoint":
        """The checkpoint a signed text states; ``InvalidInput`` naming what is wrong."""
        text = body.decode() if isinstance(body, bytes) else body
        lines = text.split("\n")
        if len(lines) != 5 or lines[-1] != "" or not lines[3].startswith("issued-at "):
            raise InvalidInput("a checkpoint is four lines: origin, size, root, issued-at")
        try:
            size = int(lines[1])
            root_hash = base64.b64decode(lines[2], validate=True)
            issued_at = datetime.fromisoformat(lines[3].removeprefix("issued-at "))
        except ValueError as exc:
            raise InvalidInput(f"the checkpoint cannot be read: {exc}") from exc
        if size < 0 or len(root_hash) != 32:
            raise InvalidInput("the checkpoint's size or root hash is not valid")
        return cls(origin=lines[0], size=size, root_hash=root_hash, issued_at=issued_at)


def key_id(public: Ed25519PublicKey) -> str:
    """The superseded checkpoints' name for a key: the start of its SHA-256, in hex."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(checkpoint: HeadsCheckpoint, key: Ed25519PrivateKey) -> str:
    """The Ed25519 signature of a superseded checkpoint's body, in base64."""
    return base64.b64encode(key.sign(checkpoint.body())).decode()


def signature_holds(body: bytes, signature_b64: str, public: Ed25519PublicKey) -> bool:
    """Whether ``signature_b64`` is ``public``'s signature of ``body``."""
    try:
        public.verify(base64.b64decode(signature_b64, validate=True), body)
    except (InvalidSignature, ValueError):
        return False
    return True


def new_key() -> Ed25519PrivateKey:
    """A fresh signing key."""
    return Ed25519PrivateKey.generate()


def private_pem(key: Ed25519PrivateKey) -> bytes:
    """The signing key as unencrypted PKCS #8 PEM (keep the file readable by its owner only)."""
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(public: Ed25519PublicKey) -> bytes:
    """The public key as SubjectPublicKeyInfo PEM."""
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_private(pem: bytes) -> Ed25519PrivateKey:
    """An Ed25519 signing key from PEM; ``InvalidInput`` if it is not one."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not a PEM private key: {exc}") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput("the checkpoint key must be an Ed25519 key")
    return key


def load_public(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ``InvalidInput`` if it is not one."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError) as exc:
        raise InvalidInput(f"not a PEM public key: {exc}") from exc
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput("the checkpoint key must be an Ed25519 key")
    return key


# ---------------------------------------------------------------- C2SP tlog-cosignature

ALG_COSIGNATURE_V1 = 0x04


def cosigner_key_hash(name: str, public: Ed25519PublicKey) -> bytes:
    """A cosigner's key ID: SHA-256(name ‖ 0x0A ‖ 0x04 ‖ key), first 4 bytes."""
    data = name.encode() + b"\n" + bytes([ALG_COSIGNATURE_V1]) + _raw(public)
    return hashlib.sha256(data).digest()[:4]


def cosigner_vkey(name: str, public: Ed25519PublicKey) -> str:
    """A cosigner's verifier key: ``name+hex(key ID)+base64(0x04 ‖ key)``."""
    _check_key_name(name)
    raw = bytes([ALG_COSIGNATURE_V1]) + _raw(public)
    return f"{name}+{cosigner_key_hash(name, public).hex()}+{base64.b64encode(raw).decode()}"


def parse_cosigner_vkey(text: str) -> tuple[str, Ed25519PublicKey]:
    """The name and key of a cosigner's verifier key; ``InvalidInput`` if it is not one."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise InvalidInput("a cosigner key is name+keyid+base64 key")
    name, hash_hex, key_b64 = parts
    try:
        raw = base64.b64decode(key_b64, validate=True)
        key_hash = bytes.fromhex(hash_hex)
    except ValueError as exc:
        raise InvalidInput(f"the cosigner key cannot be read: {exc}") from exc
    if len(raw) != 33 or raw[0] != ALG_COSIGNATURE_V1:
        raise InvalidInput("not an Ed25519 cosignature/v1 key (type 0x04)")
    public = Ed25519PublicKey.from_public_bytes(raw[1:])
    if cosigner_key_hash(name, public) != key_hash:
        raise InvalidInput("the cosigner key's ID does not match its name and key")
    return name, public


def _cosigned_message(body: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n{body}".encode()


def cosign(body: str, *, name: str, key: Ed25519PrivateKey, timestamp: int) -> str:
    """A cosignature/v1 signature line over a checkpoint's note text (``body``)."""
    _check_key_name(name)
    sig = key.sign(_cosigned_message(body, timestamp))
    raw = cosigner_key_hash(name, key.public_key()) + timestamp.to_bytes(8, "big") + sig
    return f"{_SIG_PREFIX}{name} {base64.b64encode(raw).decode()}\n"


def parse_cosigner_vkeys(text: str) -> list[tuple[str, Ed25519PublicKey]]:
    """Cosigner verifier keys separated by white space; ``InvalidInput`` names a bad one."""
    out = []
    for word in text.split():
        try:
            out.append(parse_cosigner_vkey(word))
        except InvalidInput as exc:
            raise InvalidInput(f"witness key {word[:40]!r}: {exc}") from exc
    return out


@dataclass(frozen=True, slots=True)
class Cosignature:
    """One cosignature line of a signed note, checked against the trusted witness keys:
    ``verified``, or ``problem`` says why not (``unknown-key``: no trusted key has that
    name and key ID; ``bad-signature``: the key is trusted, the signature fails)."""

    name: str
    key_id: str
    timestamp: int | None
    verified: bool
    problem: str | None


def cosignatures(
    note: str, *, origin: str, trusted: Sequence[tuple[str, Ed25519PublicKey]]
) -> list[Cosignature]:
    """Every signature line of ``note`` other than the log's own (``origin``), each
    checked against the ``trusted`` cosigner keys."""
    text, sigs = split_note(note)
    out = []
    for s in sigs:
        if s.name == origin:
            continue
        when = int.from_bytes(s.signature[:8], "big") if len(s.signature) == 72 else None
        keys = [p for n, p in trusted if n == s.name and cosigner_key_hash(n, p) == s.key_hash]
        if not keys:
            out.append(Cosignature(s.name, s.key_hash.hex(), when, False, "unknown-key"))
            continue
        ok = when is not None and cosignature_time(note, name=s.name, public=keys[0]) == when
        out.append(Cosignature(s.name, s.key_hash.hex(), when, ok, None if ok else "bad-signature"))
    return out


def cosignature_time(note: str, *, name: str, public: Ed25519PublicKey) -> int | None:
    """The time of ``name``'s valid cosignature on a signed note, or None if it has none."""
    text, sigs = split_note(note)
    key_hash = cosigner_key_hash(name, public)
    for s in sigs:
        if s.name != name or s.key_hash != key_hash or len(s.signature) != 72:
            continue
        timestamp = int.from_bytes(s.signature[:8], "big")
        try:
            public.verify(s.signature[8:], _cosigned_message(text, timestamp))
        except InvalidSignature:
            continue
        return timestamp
    return None
