"""What the simulator knows about drones and products."""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Doses of what leaves the nozzles / spreader, per hectare.
DOSE_RANGE = {"spray": (15.0, 25.0), "fertilize": (80.0, 120.0), "seed": (90.0, 110.0)}
# A spray drone's tank holds litres; its spreader (granules, seed) holds kilograms.
SPREADER_PER_TANK_L = 1.25
KIND_OF_TYPE = {"spray": "pesticide", "fertilize": "fertilizer", "seed": "seed"}
TYPE_OF_KIND = {v: k for k, v in KIND_OF_TYPE.items()}
TYPE_WEIGHTS = {"spray": 0.6, "fertilize": 0.3, "seed": 0.1}


@dataclass(frozen=True)
class DroneSpec:
    """What the simulator needs to know about a drone."""

    code: str
    swath_m: float = 10.0
    tank_capacity: float = 40.0
    spreader_capacity_kg: float | None = None
    model: str | None = None

    @classmethod
    def of(cls, value: DroneSpec | Mapping[str, Any]) -> DroneSpec:
        """A spec from itself or from a fixture / database record as a mapping."""
        if isinstance(value, DroneSpec):
            return value
        return cls(
            code=value["code"],
            swath_m=float(value.get("swath_m") or 10.0),
            tank_capacity=float(value.get("tank_capacity") or 40.0),
            spreader_capacity_kg=value.get("spreader_capacity_kg"),
            model=value.get("model"),
        )

    def capacity(self, mission_type: str) -> float:
        """Litres of tank mix (spray) or kilograms of granules/seed one load holds."""
        if mission_type == "spray":
            return self.tank_capacity
        return float(self.spreader_capacity_kg or self.tank_capacity * SPREADER_PER_TANK_L)


@dataclass(frozen=True)
class ProductSpec:
    """An input product as the simulator uses it."""

    code: str
    kind: str
    unit: str = "L"
    max_dose_per_ha: float | None = None

    @classmethod
    def of(cls, value: ProductSpec | Mapping[str, Any]) -> ProductSpec:
        """A spec from itself or from a fixture / database record as a mapping."""
        if isinstance(value, ProductSpec):
            return value
        return cls(
            code=value["code"],
            kind=str(value["kind"]),
            unit=str(value.get("unit") or "L"),
            max_dose_per_ha=value.get("max_dose_per_ha"),
        )

    @property
    def mission_type(self) -> str:
        """``spray``, ``fertilize`` or ``seed``."""
        return TYPE_OF_KIND[self.kind]

    @property
    def flow_key(self) -> str:
        """Pesticides go out as a liquid tank mix (L/min); granules and seed in kg/min."""
        return "flow_lpm" if self.kind == "pesticide" else "flow_kgpm"

    def pick_mix(self, rng: random.Random, mix_l_per_ha: float) -> dict[str, Any]:
        """How much product one litre of tank mix holds, for a label dose on the product.

        Returned as the start event's ``tank_mix``: ``product_per_l`` (product unit per
        litre of mix), ``product_unit`` and ``product_dose_per_ha``. The wire contract does
        not require it; a receiver that knows it can turn litres of mix into product.
        """
        label = float(self.max_dose_per_ha or 1.0) * rng.uniform(0.6, 0.95)
        return {
            "product_per_l": round(label / mix_l_per_ha, 6),
            "product_unit": self.unit,
            "product_dose_per_ha": round(label, 4),
        }

    def pick_dose(self, rng: random.Random) -> float:
        """A realistic dose per hectare of what leaves the drone (tank mix, granules, seed)."""
        low, high = DOSE_RANGE[self.mission_type]
        dose = rng.uniform(low, high)
        # A fertiliser or seed label maximum is the same unit as what is spread: respect it.
        if self.kind != "pesticide" and self.max_dose_per_ha:
            dose = min(dose, 0.9 * float(self.max_dose_per_ha))
        return dose
