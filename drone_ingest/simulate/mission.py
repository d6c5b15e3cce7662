"""One simulated mission as the drone publishes it, with what it really did."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from dataclasses import field as dc_field
from datetime import UTC, datetime
from typing import Any

import numpy as np


@dataclass
class SimulatedMission:
    """One mission as the drone publishes it, with what it really did."""

    mission_id: str
    drone_id: str
    type: str
    product_code: str
    field_codes: list[str]
    start: dict[str, Any]
    points: list[dict[str, Any]]
    end: dict[str, Any]
    #: POSIX seconds of each point (the same instants as their ``ts``).
    times: np.ndarray
    #: Amount that left the drone: sum of flow x time over the applicator-on stretches.
    applied_amount: float
    amount_unit: str
    #: Area under the applicator-on stretches (length x effective swath), hectares.
    sprayed_area_ha: float
    dose_per_ha: float
    refills: int
    overspray: bool
    aborted: bool = False
    #: For sprays: product per litre of tank mix (see :meth:`ProductSpec.pick_mix`).
    tank_mix: dict[str, Any] | None = None
    x: np.ndarray = dc_field(default_factory=lambda: np.zeros(0), repr=False)
    y: np.ndarray = dc_field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def started_at(self) -> float:
        """POSIX seconds of the start event."""
        return _parse_ts(self.start["ts"])

    @property
    def ended_at(self) -> float:
        """POSIX seconds of the end event."""
        return _parse_ts(self.end["ts"])

    def truncated(self, until: float) -> SimulatedMission:
        """The mission as flown up to ``until`` (POSIX seconds), ended there (aborted)."""
        keep = int(np.searchsorted(self.times, until, side="right"))
        if keep >= len(self.points):
            return self
        points = [dict(p) for p in self.points[:keep]]
        if points:
            points[-1]["spraying"] = False
            points[-1].pop(_flow_key(points[-1]), None)
        applied, area = measure_fixes(points, self.x[:keep], self.y[:keep], self.times[:keep])
        end = dict(
            self.end,
            ts=iso(until),
            reported_area_ha=round(area, 4),
            reported_amount=round(applied, 3),
        )
        return replace(
            self,
            points=points,
            times=self.times[:keep],
            x=self.x[:keep],
            y=self.y[:keep],
            end=end,
            applied_amount=applied,
            sprayed_area_ha=area,
            aborted=True,
        )


def _flow_key(point: Mapping[str, Any]) -> str:
    return "flow_kgpm" if "flow_kgpm" in point else "flow_lpm"


def measure_fixes(points, x, y, t) -> tuple[float, float]:
    """Applied amount and sprayed area of fixes, stretch i carrying the state of fix i."""
    if len(points) < 2:
        return 0.0, 0.0
    on = np.array([bool(p["spraying"]) for p in points[:-1]])
    flow = np.array([p.get("flow_lpm", p.get("flow_kgpm")) or 0.0 for p in points[:-1]])
    swath = np.array([p.get("swath_m") or 0.0 for p in points[:-1]])
    dt = np.diff(t)
    length = np.hypot(np.diff(x), np.diff(y))
    applied = float(np.sum(np.where(on, flow * dt, 0.0)) / 60.0)
    area = float(np.sum(np.where(on, length * swath, 0.0)) / 10_000.0)
    return applied, area


def iso(posix: float) -> str:
    """RFC 3339 UTC with milliseconds, e.g. ``2026-05-01T01:00:00.250Z``."""
    dt = datetime.fromtimestamp(round(posix, 3), UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def _parse_ts(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
