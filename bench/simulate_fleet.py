"""Speed of the simulated fleet: flight generation, and publishing to a broker.

    .venv/bin/python bench/simulate_fleet.py            # generation + embedded broker
    .venv/bin/python bench/simulate_fleet.py mosquitto  # also Mosquitto at 127.0.0.1:1883

``generate``: fixes per second of :func:`drone_ingest.simulate.fly_mission` over fixture
fields (no broker). ``publish``: the whole fleet (86 drones, 1 Hz, 10 simulated minutes)
published as fast as the broker acknowledges QoS 1, with no subscriber.
"""

from __future__ import annotations

import math
import random
import sys
import time
from datetime import UTC, datetime

from drone_ingest.broker import EmbeddedBroker
from drone_ingest.simulate import fly_mission, load_fleet, run_simulation


def generate() -> None:
    drones, groups, products = load_fleet()
    spray = next(p for p in products if p.kind == "pesticide")
    t0 = datetime(2026, 3, 1, tzinfo=UTC)
    n = 0
    began = time.perf_counter()
    for i, group in enumerate(groups[:60]):
        mission = fly_mission(
            group[:3],
            drone=drones[i % len(drones)],
            product=spray,
            start_ts=t0,
            rng=random.Random(i),
        )
        n += len(mission.points)
    took = time.perf_counter() - began
    print(f"generate: {n:,} fixes in {took:.2f} s = {n / took:,.0f} fixes/s (60 missions, 1 Hz)")


def publish(url: str, label: str) -> None:
    out = run_simulation(
        drones=86, rate=1.0, duration=600.0, mqtt_url=url, speedup=math.inf, prefix="bench", seed=1
    )
    msgs = out["telemetry_messages"] + out["missions_started"] + out["missions_ended"]
    print(
        f"publish ({label}): {out['points']:,} fixes in {msgs:,} messages, {out['seconds']:.2f} s"
        f" = {msgs / out['seconds']:,.0f} msg/s (unacknowledged {out['unacknowledged']})"
    )


if __name__ == "__main__":
    generate()
    with EmbeddedBroker() as broker:
        publish(broker.url, "embedded amqtt")
    if "mosquitto" in sys.argv[1:]:
        publish("mqtt://127.0.0.1:1883", "mosquitto")
