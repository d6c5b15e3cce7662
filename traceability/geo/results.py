"""What :func:`~traceability.geo.measure_application` returns: small frozen dataclasses."""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from dataclasses import field as dc_field

from shapely.geometry.base import BaseGeometry


@dataclass(frozen=True)
class FieldApplication:
    """What one application did to one field.

    ``applied_amount`` is in the unit of the rate (L or kg); ``dose_per_ha`` is that amount
    per treated hectare, or None when no area of the field was covered (e.g. hover only).
    """

    key: Hashable
    field_area_m2: float
    treated_area_m2: float
    coverage_pct: float
    applied_amount: float
    dose_per_ha: float | None

    @property
    def field_area_ha(self) -> float:
        """Field area in hectares."""
        return self.field_area_m2 / 10_000.0

    @property
    def treated_area_ha(self) -> float:
        """Treated area of the field in hectares."""
        return self.treated_area_m2 / 10_000.0


@dataclass(frozen=True)
class ZoneHit:
    """Spray that reached a no-spray zone (grown by its buffer)."""

    key: Hashable
    area_m2: float
    amount: float

    @property
    def area_ha(self) -> float:
        """Sprayed area inside the buffered zone, in hectares."""
        return self.area_m2 / 10_000.0


@dataclass(frozen=True)
class Application:
    """As-applied measurement of one spray mission.

    Areas are in square metres (``*_ha`` properties give hectares), amounts in the unit of the
    rate integrated over minutes (L or kg). ``fields`` lists only fields that received spray,
    ``zones`` only zones that were hit, both in the order they were given.
    ``footprint_wgs84`` is the sprayed area (union of all runs) for maps, or None if nothing
    was sprayed; ``runs_wgs84`` holds the polygon of each contiguous sprayed run.
    ``skipped_stretches`` counts applicator-on stretches dropped as gaps or GNSS jumps
    (their amount is not in ``applied_amount``).
    """

    sprayed_area_m2: float
    treated_area_m2: float
    overspray_area_m2: float
    overlap_area_m2: float
    applied_amount: float
    amount_outside_fields: float
    fields: list[FieldApplication]
    zones: list[ZoneHit]
    footprint_wgs84: BaseGeometry | None = dc_field(compare=False, repr=False)
    epsg: int
    runs_wgs84: tuple[BaseGeometry, ...] = dc_field(default=(), compare=False, repr=False)
    skipped_stretches: int = 0

    @property
    def sprayed_area_ha(self) -> float:
        """Sprayed area (union of all runs) in hectares."""
        return self.sprayed_area_m2 / 10_000.0

    @property
    def treated_area_ha(self) -> float:
        """Sprayed area inside the given fields, in hectares."""
        return self.treated_area_m2 / 10_000.0

    @property
    def overspray_area_ha(self) -> float:
        """Sprayed area outside every field, in hectares."""
        return self.overspray_area_m2 / 10_000.0

    @property
    def overlap_area_ha(self) -> float:
        """Area sprayed by more than one run (counted once per extra pass), in hectares."""
        return self.overlap_area_m2 / 10_000.0
