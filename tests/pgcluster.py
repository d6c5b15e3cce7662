"""A PostgreSQL primary and its streaming standby of our own, on this machine.

The system cluster at 5432 takes no replication connection, so a test (or a benchmark)
that needs a real replica makes one: ``initdb`` a primary on a free port, copy it with
``pg_basebackup -R`` (which writes the standby's ``primary_conninfo``) and start the copy
as a hot standby on another port. Both run as the ``postgres`` OS user (PostgreSQL will
not run as root), in a temporary folder it owns, with ``pg_stat_statements`` loaded so
that a caller can count the statements each server ran.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from tests.ports import free_port

OS_USER = "postgres"
SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "wal_level": "replica",
    "max_wal_senders": "4",
    "hot_standby": "on",
    "shared_preload_libraries": "'pg_stat_statements'",
    "fsync": "off",
    "shared_buffers": "32MB",
    "max_connections": "60",
    # No background writes: a test decides when the primary's WAL moves.
    "autovacuum": "off",
}


def bin_dir() -> Path:
    """The newest installed PostgreSQL's binaries."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if not found:
        raise FileNotFoundError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


def _version(path: str) -> int:
    return int(path.split("/")[4])


def _as_postgres(*args: str, timeout: float = 60) -> str:
    """Run ``args`` as the postgres OS user (directly when we are that user already)."""
    cmd = list(args)
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", OS_USER, "--", *cmd]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} failed: {done.stderr.strip() or done.stdout}")
    return done.stdout


@dataclass
class Cluster:
    """A running primary and standby; ``url(server)`` connects to either as postgres."""

    root: Path
    primary_port: int
    standby_port: int
    database: str = "agritrace"
    _engines: list[Engine] = field(default_factory=list)

    @property
    def primary_dir(self) -> Path:
        return self.root / "primary"

    @property
    def standby_dir(self) -> Path:
        return self.root / "standby"

    def url(self, server: str, database: str | None = None) -> str:
        port = self.primary_port if server == "primary" else self.standby_port
        return f"postgresql+psycopg://postgres@127.0.0.1:{port}/{database or self.database}"

    def admin(self, server: str) -> Engine:
        """An autocommit engine on ``server``'s database, closed with the cluster."""
        engine = create_engine(self.url(server), isolation_level="AUTOCOMMIT")
        self._engines.append(engine)
        return engine

    def ctl(self, server: str, action: str) -> None:
        """``pg_ctl start|stop`` of ``primary`` or ``standby``."""
        data = self.primary_dir if server == "primary" else self.standby_dir
        port = self.primary_port if server == "primary" else self.standby_port
        args = [str(bin_dir() / "pg_ctl"), "-D", str(data), "-w", "-t", "60"]
        if action == "start":
            args += ["-l", str(self.root / f"{server}.log"), "-o", f"-p {port} -k {self.root}"]
            args += ["start"]
        else:
            args += ["-m", "fast", "stop"]
        _as_postgres(*args, timeout=90)

    def wait_replayed(self, timeout: float = 30) -> None:
        """Until the standby has replayed everything the primary has written so far (its
        insert position: a commit made without waiting for the disk is flushed soon)."""
        with self.admin("primary").connect() as p:
            lsn = p.execute(text("SELECT pg_current_wal_insert_lsn()")).scalar()
        deadline = time.monotonic() + timeout
        with self.admin("standby").connect() as s:
            while True:
                done = s.execute(
                    text("SELECT pg_last_wal_replay_lsn() >= CAST(:l AS pg_lsn)"), {"l": lsn}
                ).scalar()
                if done:
                    return
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the standby did not replay up to {lsn}")
                time.sleep(0.05)

    def close(self) -> None:
        for engine in self._engines:
            engine.dispose()
        for server, data in (("standby", self.standby_dir), ("primary", self.primary_dir)):
            if (data / "postmaster.pid").exists():
                with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                    self.ctl(server, "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def start() -> Cluster:
    """Make and start a primary with database ``agritrace`` and its streaming standby."""
    bins = bin_dir()
    root = Path(tempfile.mkdtemp(prefix="agritrace-replica-"))
    if os.geteuid() == 0:
        shutil.chown(root, OS_USER, OS_USER)
    cluster = Cluster(root, free_port(), free_port())
    try:
        _as_postgres(
            str(bins / "initdb"), "-D", str(cluster.primary_dir), "-U", "postgres",
            "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        conf = "".join(f"{k} = {v}\n" for k, v in SETTINGS.items())
        _append(cluster.primary_dir / "postgresql.conf", conf)
        # initdb --auth=trust already lets local replication connections in (pg_hba.conf).
        cluster.ctl("primary", "start")
        boot = create_engine(cluster.url("primary", "postgres"), isolation_level="AUTOCOMMIT")
        with boot.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{cluster.database}"'))
        boot.dispose()
        with cluster.admin("primary").connect() as conn:
            conn.execute(text("CREATE EXTENSION pg_stat_statements"))
        _as_postgres(
            str(bins / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(cluster.primary_port),
            "-U", "postgres", "-D", str(cluster.standby_dir), "-R", "-X", "stream",
            "--checkpoint=fast", "--no-sync",
        )  # fmt: skip
        cluster.ctl("standby", "start")
        cluster.wait_replayed()
    except BaseException:
        cluster.close()
        raise
    return cluster


def _append(path: Path, text_: str) -> None:
    _as_postgres("sh", "-c", f"cat >> '{path}' <<'EOF'\n{text_}EOF")
