"""What a trace's anchors cost: the same lots' traces built with and without them,
alternately lot by lot, in one process.

    .venv/bin/python bench/first_scan.py --lots 200     # builds agritrace_bench_first_now
    .venv/bin/python bench/trace_anchor_cost.py --rounds 3

On ``agritrace_bench_first_now`` (200 lots, one checkpoint of the append-only log), for
each lot in turn, ``services.trace.build_trace`` twice: with the newest checkpoint read
(each field's anchor: the checkpoint, its leaf and its inclusion proof from the stored
tiles) and with ``checkpoint=None`` (no anchor: the floor, everything else the same).
Alternating lot by lot puts both under the same load. Reports median wall and CPU
(``time.process_time``) ms per trace.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from traceability.db import make_engine  # noqa: E402
from traceability.services import trace  # noqa: E402
from traceability.services.trace import anchors  # noqa: E402

PG = os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="agritrace_bench_first_now")
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    engine = make_engine(f"postgresql+psycopg://{PG.split('://', 1)[1]}/{args.db}")
    out: dict[str, dict[str, list[float]]] = {
        k: {"wall": [], "cpu": []} for k in ("anchored", "no anchor")
    }
    with Session(engine) as s:
        codes = s.execute(text("SELECT code FROM lots ORDER BY id")).scalars().all()
        for _ in range(args.rounds):
            for code in codes:
                for name, cp in (("anchored", anchors.READ), ("no anchor", None)):
                    trace.clear_cache()
                    w0, c0 = time.perf_counter(), time.process_time()
                    data = trace.build_trace(s, code=code, base_url="https://x", checkpoint=cp)
                    out[name]["wall"].append((time.perf_counter() - w0) * 1000)
                    out[name]["cpu"].append((time.process_time() - c0) * 1000)
                    anchored = any(f.get("anchor") for f in data["fields"])
                    assert anchored == (name == "anchored"), (code, name)
                    s.rollback()
    load = os.getloadavg()
    print(f"{len(codes)} lots × {args.rounds}; load average {load[0]:.2f} / {load[1]:.2f} / "
          f"{load[2]:.2f}")  # fmt: skip
    for name, t in out.items():
        print(
            f"{name:10s} wall {statistics.median(t['wall']):6.2f} ms  "
            f"cpu {statistics.median(t['cpu']):6.2f} ms (median per trace)"
        )


if __name__ == "__main__":
    main()
