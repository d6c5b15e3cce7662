"""Broker accounts: Mosquitto's password file and ACL file, written by ``agritrace devices``.

Each drone logs in with its code as user name and a password of its own; the ACL lets it
publish only under ``{prefix}/drones/{CODE}/#``. The ingesters' account reads
``{prefix}/drones/#`` (shared subscription included) and publishes nothing. Nobody else
reads telemetry.

Passwords are stored the way ``mosquitto_passwd`` stores them (Mosquitto 2):
``user:$7$ITERATIONS$SALT$HASH`` with PBKDF2-HMAC-SHA512, a 12-byte random salt and a
64-byte hash, both in standard base64.
"""

import base64
import hashlib
import os
import re
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path

#: PBKDF2 rounds of a new password. Mosquitto 2.0's own tool uses 101; a drone's password
#: is random and long, so more rounds only slow down every connection a little.
ITERATIONS = 1000
SALT_BYTES = 12
# A user name that is also a topic level: no '/', '+', '#', ':' (the password file's
# separator) or spaces.
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class AccountError(ValueError):
    """A name or file that cannot be used for a broker account."""


def check_name(name: str) -> str:
    """``name`` if it can be a broker user and a topic level, else :class:`AccountError`.

    >>> check_name("BL-DR-001")
    'BL-DR-001'
    >>> check_name("a/b")
    Traceback (most recent call last):
    drone_ingest.accounts.AccountError: 'a/b' cannot be a broker user name: ...
    """
    if not _NAME.fullmatch(name):
        raise AccountError(
            f"{name!r} cannot be a broker user name: use 1 to 64 letters, digits, '.', '_' "
            "or '-' (and no '/', '+', '#', ':' or spaces)"
        )
    return name


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The password file's ``$7$`` entry for ``password`` (PBKDF2-HMAC-SHA512).

    >>> hash_password("s3cret", salt=bytes(12), iterations=101)[:24]
    '$7$101$AAAAAAAAAAAAAAAA$'
    """
    salt = os.urandom(SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)
    b64 = base64.b64encode
    return f"$7${iterations}${b64(salt).decode()}${b64(digest).decode()}"


def check_password(entry: str, password: str) -> bool:
    """Whether ``password`` matches a ``$7$`` entry."""
    try:
        _, kind, iterations, salt, digest = entry.split("$")
        if kind != "7":
            return False
        computed = hashlib.pbkdf2_hmac(
            "sha512", password.encode(), base64.b64decode(salt), int(iterations)
        )
    except ValueError:
        return False
    return secrets.compare_digest(base64.b64encode(computed).decode(), digest)


def new_password() -> str:
    """A random password: 32 URL-safe characters (192 bits)."""
    return secrets.token_urlsafe(24)


def _write_atomically(path: Path, text: str, mode: int = 0o640) -> None:
    """Replace ``path`` with ``text`` in one step, keeping its permission bits if it exists."""
    if path.exists():
        mode = path.stat().st_mode & 0o777
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def set_password(passwd: Path, user: str, password: str) -> None:
    """Add ``user`` to the password file, or replace its password (a rotation)."""
    check_name(user)
    lines = passwd.read_text().splitlines() if passwd.exists() else []
    kept = [line for line in lines if line.strip() and line.split(":", 1)[0] != user]
    kept.append(f"{user}:{hash_password(password)}")
    _write_atomically(passwd, "\n".join(kept) + "\n")


@dataclass(frozen=True)
class Account:
    """One ``user`` section of the ACL: a drone's or an ingesters' account."""

    user: str
    role: str  # "drone" or "ingester"

    def rules(self, prefix: str, share_group: str) -> list[str]:
        """The ACL lines of this account."""
        head = [f"# agritrace {self.role}", f"user {self.user}"]
        if self.role == "drone":
            return [*head, f"topic write {prefix}/drones/{self.user}/#"]
        return [
            *head,
            f"topic read {prefix}/drones/#",
            f"topic read $share/{share_group}/{prefix}/drones/#",
        ]


ACL_HEADER = """\
# Mosquitto ACL written by `agritrace devices`; edit it with that command.
# A drone (user = its code) may only publish under its own topics; the ingesters
# read every drone's topics (shared subscription included) and publish nothing.
"""


def read_accounts(acl: Path) -> list[Account]:
    """The accounts an ACL written by :func:`write_acl` holds, in order."""
    accounts: list[Account] = []
    role = None
    for line in acl.read_text().splitlines() if acl.exists() else []:
        if line.startswith("# agritrace "):
            role = line.removeprefix("# agritrace ").strip()
        elif line.startswith("user ") and role in ("drone", "ingester"):
            accounts.append(Account(line.removeprefix("user ").strip(), role))
            role = None
    return accounts


def write_acl(acl: Path, accounts: list[Account], *, prefix: str, share_group: str) -> None:
    """Write the ACL for ``accounts`` (each user once, the last role given wins)."""
    by_user = {a.user: a for a in accounts}
    sections = ["\n".join(a.rules(prefix, share_group)) for a in by_user.values()]
    _write_atomically(acl, ACL_HEADER + "\n" + "\n\n".join(sections) + "\n", mode=0o644)


def add_account(
    *, user: str, role: str, passwd: Path, acl: Path, prefix: str, share_group: str
) -> str:
    """Create or rotate ``user``'s credentials and ACL section; returns the new password."""
    check_name(user)
    password = new_password()
    set_password(passwd, user, password)
    write_acl(
        acl,
        [*read_accounts(acl), Account(user, role)],
        prefix=prefix,
        share_group=share_group,
    )
    return password
