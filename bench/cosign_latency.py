"""Time from a diary entry written through the API to the first checkpoint that covers it
and carries a witness's valid cosignature, on PostgreSQL.

    .venv/bin/python bench/cosign_latency.py --entries 40 --every 1

Builds ``agritrace_bench_cosign`` (migrated; one farmer's field), then starts, each its
own process as deployed:

- ``agritrace serve`` (the API, one worker);
- ``agritrace witness serve`` (a C2SP tlog-witness following the log's key);
- ``agritrace checkpoint publish --every SECONDS --witness URL --witness-key W.vkey``
  (the periodic publisher: sequence what waits, sign a checkpoint, ask the witness).

For each of ``--entries`` entries: POST /api/v1/diary (admin token), then poll the
database every 20 ms until a checkpoint whose size covers the entry's leaf holds a
cosignature that verifies with the witness's key (checked here with
``transparency.cosignature_time``). Entries are spaced by a random 0..``--every`` s so
they fall anywhere in the publisher's cycle.

Ceiling, in the same run: one publisher cycle done directly in this process after the
entries (sequence, sign, ask the witness), ``--entries`` times: the latency an entry
would have if the publisher never slept.
"""

import argparse
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import select, text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from tests.factories import Factory  # noqa: E402
from traceability import transparency as tl  # noqa: E402
from traceability.db import make_engine, migrate  # noqa: E402
from traceability.models import FarmField  # noqa: E402
from traceability.services import tlog  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
DB = "agritrace_bench_cosign"
URL = f"postgresql+psycopg://{PG.split('://', 1)[1]}/{DB}"
ORIGIN = "agritrace.bench/diaries"
WITNESS = "witness.bench/office"
TOKEN = "bench-admin-token-" + "x" * 32


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on {port}")


def _post(url: str, body: bytes) -> dict:
    import json

    req = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as r:  # noqa: S310 - our own server
        return json.loads(r.read())


def _pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--entries", type=int, default=40)
    ap.add_argument("--every", type=float, default=1.0, help="the publisher's period (s)")
    args = ap.parse_args()

    with psycopg.connect(f"{PG}/postgres", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{DB}"')
    engine = make_engine(URL)
    migrate(engine)
    with Session(engine) as s:
        code = Factory(s).field(code="BENCH-COSIGN").code

    tmp = Path(tempfile.mkdtemp(prefix="cosign-"))
    log_key, w_key = tl.new_key(), tl.new_key()
    (tmp / "log.key").write_bytes(tl.private_pem(log_key))
    (tmp / "log.vkey").write_text(tl.vkey(ORIGIN, log_key.public_key()))
    (tmp / "w.key").write_bytes(tl.private_pem(w_key))
    (tmp / "w.vkey").write_text(tl.cosigner_vkey(WITNESS, w_key.public_key()))
    api_port, w_port = _port(), _port()
    env = os.environ | {
        "AGRITRACE_DATABASE_URL": URL,
        "AGRITRACE_ADMIN_TOKEN": TOKEN,
        "AGRITRACE_LOG_ORIGIN": ORIGIN,
        "AGRITRACE_WITNESS_KEYS": (tmp / "w.vkey").read_text(),
    }
    cli = [sys.executable, "-m", "agritrace.cli"]
    procs = [
        subprocess.Popen(
            [*cli, "witness", "serve", "--key", str(tmp / "w.key"), "--log",
             str(tmp / "log.vkey"), "--name", WITNESS, "--state", str(tmp / "state.json"),
             "--port", str(w_port)],
            env=env, stderr=subprocess.DEVNULL,
        ),
        subprocess.Popen(
            [*cli, "serve", "--port", str(api_port), "--no-migrate"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        ),
    ]  # fmt: skip
    try:
        _wait(w_port)
        _wait(api_port)
        procs.append(
            subprocess.Popen(
                [*cli, "checkpoint", "publish", "--key", str(tmp / "log.key"), "--every",
                 str(args.every), "--witness", f"http://127.0.0.1:{w_port}",
                 "--witness-key", str(tmp / "w.vkey")],
                env=env, stdout=subprocess.DEVNULL,
            )
        )  # fmt: skip
        time.sleep(2 * args.every)  # the publisher's first cycles
        latency, writes = run(engine, code, api_port, args, w_key)
        procs[-1].terminate()
        procs[-1].wait(timeout=30)
        ceiling = cycles(engine, code, w_port, log_key, w_key, args.entries)
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
    load = os.getloadavg()
    print(f"load average {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f}")
    print(
        f"entry -> cosigned checkpoint, {len(latency)} entries, publisher every "
        f"{args.every:g} s: p50 {_pct(latency, 50):.2f} s  p99 {_pct(latency, 99):.2f} s  "
        f"max {max(latency):.2f} s"
    )
    print(f"  the API's write alone: p50 {_pct(writes, 50) * 1000:.1f} ms")
    print(
        f"ceiling, one cycle done directly (sequence, sign, witness): p50 "
        f"{_pct(ceiling, 50) * 1000:.1f} ms  p99 {_pct(ceiling, 99) * 1000:.1f} ms"
    )


def run(engine, code: str, port: int, args, w_key) -> tuple[list[float], list[float]]:
    """Write entries through the API; each one's time to a cosigned checkpoint."""
    import json

    rng = random.Random(17)
    public = w_key.public_key()
    latency, writes = [], []
    with engine.connect() as conn:
        for i in range(args.entries):
            time.sleep(rng.uniform(0, args.every))
            body = json.dumps(
                {"field_code": code, "activity": "observe", "note": f"bench {i}",
                 "occurred_at": datetime.now(UTC).isoformat()}
            ).encode()  # fmt: skip
            t0 = time.perf_counter()
            entry = _post(f"http://127.0.0.1:{port}/api/v1/diary", body)
            writes.append(time.perf_counter() - t0)
            idx = None
            while True:
                if idx is None:
                    idx = conn.execute(
                        text("SELECT idx FROM tlog_leaves WHERE entry_id = :e"), {"e": entry["id"]}
                    ).scalar_one_or_none()
                if idx is not None:
                    notes = conn.execute(
                        text("SELECT note FROM tlog_checkpoints WHERE size > :i ORDER BY id"),
                        {"i": idx},
                    ).scalars()
                    if any(tl.cosignature_time(n, name=WITNESS, public=public) for n in notes):
                        break
                conn.rollback()
                time.sleep(0.02)
            conn.rollback()
            latency.append(time.perf_counter() - t0)
            print(f"  entry {i}: {latency[-1]:.2f} s", flush=True)
    return latency, writes


def cycles(engine, code: str, w_port: int, log_key, w_key, n: int) -> list[float]:
    """One publisher cycle done directly, ``n`` times, a new entry before each."""
    out = []
    with Session(engine) as s:
        factory = Factory(s)
        field = s.execute(select(FarmField).where(FarmField.code == code)).scalar_one()
        for i in range(n):
            factory.entry(field, activity="observe", note=f"direct {i}")
            t0 = time.perf_counter()
            row = tlog.publish(s, key=log_key, origin=ORIGIN)
            tlog.request_cosignature(
                s, row=row, url=f"http://127.0.0.1:{w_port}", name=WITNESS,
                public=w_key.public_key(),
            )  # fmt: skip
            out.append(time.perf_counter() - t0)
    return out


if __name__ == "__main__":
    main()
