"""paho's read of a stream of one-point messages, as plain paho and as the ingester's client.

Run with ``.venv/bin/python bench/paho_read.py [--messages 60000] [--rounds 3] [--code PATH]``.

The network thread's own work per message, without a broker: MQTT 3.1.1 PUBLISH packets
at QoS 1 (one-point telemetry of 6,000 drones, as the fleet sends them) are written into
one end of a socket pair by another thread; the client reads them from the other end by
calling its ``loop_read`` until the ingester (``Ingester._on_message``, two lanes) holds
every message. Timed: this process's CPU per message (the writing thread's included; it
is the same for both), the least and the median of the rounds (on a shared machine other
work only ever adds to the time of the same work, so the least is the steadier figure).
Plain paho reads each packet in three or more ``recv`` calls and one packet a
``loop_read``; the ingester's client (``drone_ingest.mqtt``) reads ahead, goes on through
the packets it holds, and hands a message to ``on_message`` without looking for
per-topic callbacks it never adds.
"""

from __future__ import annotations

import argparse
import inspect
import socket
import statistics
import sys
import threading
import time
from importlib.metadata import version
from pathlib import Path

# ``--code PATH``: the clients of another checkout (read before anything is imported).
_CODE = sys.argv[sys.argv.index("--code") + 1] if "--code" in sys.argv[:-1] else None
sys.path.insert(0, _CODE or str(Path(__file__).resolve().parents[1]))

import paho.mqtt.client as mqtt  # noqa: E402
from paho.mqtt.enums import CallbackAPIVersion  # noqa: E402

from drone_ingest.client import Ingester  # noqa: E402
from drone_ingest.mqtt import BrokerAddress, ReadAhead, new_client  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wire_publisher import publish_packet  # noqa: E402

POINT = (
    b'{"mission_id":"M-1","seq":%d,"ts":"2026-03-01T01:00:00Z","lat":9.2,"lon":105.4,'
    b'"spraying":true}'
)


def stream(n: int) -> bytes:
    """``n`` one-point messages from 6,000 drones in turn."""
    return b"".join(
        publish_packet(b"agri/drones/BL-%04d/telemetry" % (i % 6000), POINT % i, i % 65535 + 1)
        for i in range(n)
    )


def read_all(kind: str, data: bytes, n: int) -> float:
    """CPU seconds per message for ``kind``'s client to hand all ``n`` messages on."""
    lanes = {"writers": 2} if "writers" in inspect.signature(Ingester).parameters else {}
    ingester = Ingester(mqtt_url=None, engine=None, **lanes)
    if kind == "paho":
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2)
    else:
        client = new_client(BrokerAddress.parse("mqtt://127.0.0.1"), read_ahead=True)
    client.manual_ack_set(True)
    client.on_message = ingester._on_message
    if kind != "paho" and hasattr(ingester, "_on_publishes"):  # as Ingester.start sets it
        client.on_publishes = ingester._on_publishes
    ours, theirs = socket.socketpair()
    ours.setblocking(False)
    client._sock = ours if kind == "paho" else ReadAhead(ours)
    feeder = threading.Thread(target=theirs.sendall, args=(data,), daemon=True)
    started = time.process_time()
    feeder.start()
    while ingester._writer_backlog() < n:
        client.loop_read()
    took = time.process_time() - started
    feeder.join()
    ours.close()
    theirs.close()
    return took / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=60_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--code", metavar="PATH", help="measure the clients of another checkout")
    args = ap.parse_args()
    data = stream(args.messages)
    paho = version("paho-mqtt")
    code = args.code or "this checkout"
    print(f"{args.messages:,} one-point messages at QoS 1, {len(data):,} bytes; paho {paho}")
    print(f"the ingester's client of {code}")
    results: dict[str, list[float]] = {"paho": [], "ingester": []}
    for _ in range(args.rounds):
        for kind in results:  # alternately
            results[kind].append(read_all(kind, data, args.messages) * 1e6)
    for kind, runs in results.items():
        each = ", ".join(f"{r:.2f}" for r in runs)
        print(
            f"{kind:<9}: CPU {min(runs):6.2f} us a message at least, "
            f"{statistics.median(runs):6.2f} the median (rounds {each})"
        )


if __name__ == "__main__":
    main()
