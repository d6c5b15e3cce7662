"""paho's read of a broker's backlog, with and without the ingester's read-ahead socket.

Run::

    .venv/bin/python bench/mqtt_read.py                # 50,000 one-point messages, 3 rounds
    .venv/bin/python bench/mqtt_read.py --help

The MQTT road alone, without the ingest pipeline: a private Mosquitto holds a backlog of
``--messages`` QoS 1 messages for a persistent session (one point each, 1,000 drones);
a paho client built by :func:`drone_ingest.mqtt.new_client` connects, receives them all
and acknowledges each from another thread, as the ingester's writer does. Timed from the
connect until the last message arrived: messages per second and the process's CPU per
message. Each round runs plain paho (``read_ahead=False``) and the ingester's client
(``read_ahead=True``) one after the other on the same backlog.
"""

from __future__ import annotations

import argparse
import os
import queue
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_bench import Broker, messages, preload  # noqa: E402

from drone_ingest.mqtt import BrokerAddress, new_client  # noqa: E402


def read(url: str, stream: list[tuple[str, bytes]], prefix: str, read_ahead: bool) -> tuple:
    """Queue ``stream`` for a new persistent session, then time reading it back."""
    address = BrokerAddress.parse(url)
    cid = f"read-{uuid.uuid4().hex[:8]}"
    subscribed = threading.Event()

    def client():
        c = new_client(address, client_id=cid, clean_session=False, read_ahead=read_ahead)
        c.manual_ack_set(True)
        c.on_connect = lambda cl, *_: cl.subscribe(f"{prefix}/drones/+/+", qos=1)
        c.on_subscribe = lambda *_: subscribed.set()
        return c

    first = client()  # the session and its subscription, then away while the backlog queues
    first.connect(address.host, address.port)
    first.loop_start()
    subscribed.wait(10)
    first.disconnect()
    first.loop_stop()
    preload(url, stream)

    acks: queue.SimpleQueue = queue.SimpleQueue()
    got = 0
    done = threading.Event()
    c = client()

    def on_message(_cl, _ud, msg) -> None:
        nonlocal got
        got += 1
        acks.put(msg.mid)
        if got == len(stream):
            done.set()

    def acker() -> None:
        while (mid := acks.get()) is not None:
            c.ack(mid, 1)

    c.on_message = on_message
    threading.Thread(target=acker, daemon=True).start()
    wall, cpu = time.perf_counter(), time.process_time()
    c.connect(address.host, address.port)
    c.loop_start()
    if not done.wait(600):
        raise SystemExit(f"only {got:,} of {len(stream):,} messages arrived")
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    acks.put(None)
    c.disconnect()
    c.loop_stop()
    return wall, cpu


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--messages", type=int, default=50_000, help="one-point messages queued")
    p.add_argument("--rounds", type=int, default=3, help="each round reads both ways")
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mqtt-read-"))
    work.chmod(0o777)
    broker = Broker(work, 1000)
    try:
        for r in range(1, args.rounds + 1):
            for read_ahead in (False, True):
                prefix = f"r{uuid.uuid4().hex[:8]}"
                stream = messages(args.messages, 1, prefix, [f"D{i:04d}" for i in range(1000)])
                wall, cpu = read(broker.url, stream, prefix, read_ahead)
                print(
                    f"round {r}: {'read-ahead' if read_ahead else 'plain paho':<10}  "
                    f"{len(stream) / wall:>8,.0f} messages/s, CPU {cpu / len(stream) * 1e6:5.1f} "
                    f"us a message (load {os.getloadavg()[0]:.1f})"
                )
    finally:
        broker.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
