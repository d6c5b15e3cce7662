"""The ingest pipeline alone: a stream of messages stored as the ingester's writer stores
them, without a broker.

Run by ``bench/ingest_live_bench.py`` (``ingest_pipeline.py URL PREFIX STREAM [--code
PATH]``): the messages in ``STREAM`` (lines of topic, tab, payload; the drones already in
the database at ``URL``) go through ``handlers.store`` in one thread, in batches of up to
``--batch-points`` points (the ingester's batch size), each in its own session and
transaction, as a writer commits them. Prints the seconds and the CPU seconds of the
stores (the messages are read and built before the clock starts). ``--code PATH`` runs
another checkout's pipeline.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

# ``--code PATH``: the pipeline of another checkout (read before anything is imported).
_CODE = sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv[:-1] else None
sys.path.insert(0, _CODE or str(Path(__file__).resolve().parents[1]))

from sqlmodel import Session  # noqa: E402

from drone_ingest import handlers  # noqa: E402
from traceability.config import get_settings  # noqa: E402
from traceability.db import make_engine  # noqa: E402


def batches(stream_file: Path, batch_points: int) -> list[list[handlers.Message]]:
    """The stream's messages, cut as the writer cuts its batches: up to ``batch_points``."""
    out: list[list[handlers.Message]] = [[]]
    points = 0
    for i, line in enumerate(stream_file.read_bytes().splitlines()):
        topic, payload = line.split(b"\t", 1)
        n = max(1, payload.count(b'"seq"'))
        if points + n > batch_points and out[-1]:
            out.append([])
            points = 0
        out[-1].append(handlers.Message(topic=topic.decode(), payload=payload, qos=1, mid=i))
        points += n
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("url")
    ap.add_argument("prefix")
    ap.add_argument("stream", type=Path)
    ap.add_argument("--batch-points", type=int, default=5000)
    ap.add_argument("--code", help="another checkout whose pipeline runs")
    args = ap.parse_args()
    engine = make_engine(args.url)
    max_bytes = get_settings().max_payload_bytes
    work = batches(args.stream, args.batch_points)
    with Session(engine) as s:  # connected and warm, as a writer is
        handlers.store(s, [], prefix=args.prefix, max_bytes=max_bytes)
    cpu, t = time.process_time(), time.perf_counter()
    for batch in work:
        with Session(engine) as s:
            handlers.store(s, batch, prefix=args.prefix, max_bytes=max_bytes)
    print(time.perf_counter() - t, time.process_time() - cpu)


if __name__ == "__main__":
    main()
