"""What reaches the broker for a mission, and when."""

from __future__ import annotations

import random
from dataclasses import dataclass
from dataclasses import field as dc_field
from typing import Any

import numpy as np

from drone_ingest.simulate.mission import SimulatedMission

# Largest JSON array a drone uploads at once after a link loss.
MAX_BATCH = 1000


@dataclass(frozen=True, order=True)
class Delivery:
    """One publish: at simulated time ``at`` (POSIX seconds), ``payload`` on a drone's topic."""

    at: float
    order: int
    drone_id: str = dc_field(compare=False)
    kind: str = dc_field(compare=False)  # "mission" or "telemetry"
    payload: Any = dc_field(compare=False)
    what: str = dc_field(default="point", compare=False)  # start/end/point/batch/duplicate


def mission_deliveries(
    mission: SimulatedMission,
    *,
    rng: random.Random,
    link_loss_prob: float = 0.3,
    duplicate_prob: float = 0.01,
) -> list[Delivery]:
    """What reaches the broker for a mission, in time order.

    With probability ``link_loss_prob`` the link drops for 10-45 s: the fixes of that
    window are kept on board and published as one JSON array (at most ``MAX_BATCH``
    fixes per array) when it returns. Each fix is published a second time with
    probability ``duplicate_prob``, a few seconds later (a retry whose ack was lost).
    """
    out: list[Delivery] = []
    counter = iter(range(10**9))

    def add(at, kind, payload, what):
        out.append(Delivery(at, next(counter), mission.drone_id, kind, payload, what))

    add(mission.started_at, "mission", mission.start, "start")
    times = mission.times
    lost = np.zeros(len(times), dtype=bool)
    if len(times) > 10 and rng.random() < link_loss_prob:
        length = rng.uniform(10.0, 45.0)
        begin = rng.uniform(times[0], max(times[0], times[-1] - length))
        lost = (times >= begin) & (times < begin + length)
        held = np.flatnonzero(lost)
        if held.size:
            back = begin + length
            for chunk in range(0, held.size, MAX_BATCH):
                batch = [mission.points[i] for i in held[chunk : chunk + MAX_BATCH]]
                add(back, "telemetry", batch, "batch")
    for i, point in enumerate(mission.points):
        if not lost[i]:
            add(float(times[i]), "telemetry", point, "point")
        if rng.random() < duplicate_prob:
            add(float(times[i]) + rng.uniform(0.5, 5.0), "telemetry", point, "duplicate")
    # The end event goes out once everything held on board has been uploaded.
    end_at = max([mission.ended_at] + [d.at for d in out]) + 0.5
    add(end_at, "mission", mission.end, "end")
    out.sort()
    return out
