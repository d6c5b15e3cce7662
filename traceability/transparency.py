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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from traceability.errors import InvalidInput

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
        return [[hashlib.sha256(b"").digest()]]
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


def verify_inclusion(
    index: int, size: int, leaf: bytes, proof: Sequence[bytes], expected_root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf hash ``leaf`` at ``index`` in a tree of ``size``
    whose root is ``expected_root`` (RFC 9162 §2.1.3.2).

    >>> hs = [leaf_hash(bytes([i])) for i in range(5)]
    >>> t = levels(hs)
    >>> verify_inclusion(4, 5, hs[4], inclusion_proof(t, 4), t[-1][0])
    True
    >>> verify_inclusion(3, 5, hs[4], inclusion_proof(t, 4), t[-1][0])
    False
    """
    if not 0 <= index < size:
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


# ---------------------------------------------------------------- signed checkpoints


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement: at ``issued_at`` the log of ``origin`` held ``size`` leaves
    with this ``root_hash``."""

    origin: str
    size: int
    root_hash: bytes
    issued_at: datetime

    def body(self) -> bytes:
        """The signed text (C2SP tlog-checkpoint body with one extension line)."""
        root_b64 = base64.b64encode(self.root_hash).decode()
        when = self.issued_at.isoformat(timespec="seconds")
        return f"{self.origin}\n{self.size}\n{root_b64}\nissued-at {when}\n".encode()

    @classmethod
    def parse(cls, body: bytes | str) -> "Checkpoint":
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
    """A short, stable name for a public key: the start of its SHA-256, in hex."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(checkpoint: Checkpoint, key: Ed25519PrivateKey) -> str:
    """The Ed25519 signature of the checkpoint's body, in base64."""
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
