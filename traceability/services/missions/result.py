"""A mission's measured result, as the flags, the stored figures and the diary lines read it.

:class:`Measured` is what :mod:`.measure` makes of a mission's points: the geometry's
answer (:class:`traceability.geo.Application`) with the field codes, zone details and
product amounts that the database supplied. It is plain data, so :mod:`.flags` can be
tested without a database.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shapely.geometry import mapping

from traceability import geo
from traceability.models import Unit
from traceability.services import applications


def rounded(value: float | None, nd: int = 6) -> float | None:
    """``value`` as a mission stores it (6 decimals unless said otherwise), None kept.

    >>> rounded(0.123456789), rounded(12.345678, 4), rounded(None)
    (0.123457, 12.3457, None)
    """
    return None if value is None else round(float(value), nd)


def _round_coords(coords: Any) -> Any:
    if isinstance(coords, int | float):
        return round(float(coords), 7)
    return [_round_coords(c) for c in coords]


def geojson(geom: Any) -> dict | None:
    """A shapely geometry as a GeoJSON geometry, coordinates to 7 decimals (about 1 cm)."""
    if geom is None or geom.is_empty:
        return None
    g = mapping(geom)
    return {"type": g["type"], "coordinates": _round_coords(g["coordinates"])}


@dataclass(frozen=True, slots=True)
class FieldResult:
    """What the mission did to one registered field.

    ``product_amount`` and ``product_dose_per_ha`` are in the product's own unit, None
    when the tank mix is not known; ``product_dose_per_ha`` is not rounded.
    """

    field_id: int
    field_code: str
    measured: geo.FieldApplication
    product_amount: float | None
    product_dose_per_ha: float | None


@dataclass(frozen=True, slots=True)
class ZoneReached:
    """A no-spray zone (grown by its buffer) that the spray reached."""

    zone_code: str
    kind: str
    name: str | None
    buffer_m: float
    area_m2: float
    amount: float

    def to_json(self) -> dict[str, Any]:
        """The zone as the mission's ``zones`` list holds it."""
        return {
            "zone_code": self.zone_code,
            "kind": self.kind,
            "name": self.name,
            "buffer_m": self.buffer_m,
            "area_ha": rounded(self.area_m2 / 10_000.0),
            "amount": rounded(self.amount),
        }


@dataclass(frozen=True, slots=True)
class Measured:
    """A mission measured from its points.

    ``unit`` is what left the drone (L or kg); ``per_unit`` the product units per
    ``unit``, None when not known. ``fields`` are the treated fields in the order the
    geometry reports them; ``field_codes`` names every candidate field, treated or not.
    """

    app: geo.Application
    unit: Unit
    per_unit: float | None
    fields: tuple[FieldResult, ...]
    zones: tuple[ZoneReached, ...]
    field_codes: Mapping[int, str]

    @classmethod
    def of(
        cls,
        app: geo.Application,
        *,
        unit: Unit,
        per_unit: float | None,
        field_codes: Mapping[int, str],
        zone_info: Mapping[str, tuple[str, str | None, float]],
    ) -> "Measured":
        """The result of ``app``, given each candidate field's code and each zone's
        ``(kind, name, buffer_m)``."""
        fields = tuple(
            FieldResult(
                field_id=fa.key,
                field_code=field_codes[fa.key],
                measured=fa,
                product_amount=applications.product_amount(fa.applied_amount, per_unit),
                product_dose_per_ha=None
                if per_unit is None or fa.dose_per_ha is None
                else fa.dose_per_ha * per_unit,
            )
            for fa in app.fields
        )
        zones = tuple(
            ZoneReached(hit.key, *zone_info[hit.key], area_m2=hit.area_m2, amount=hit.amount)
            for hit in app.zones
        )
        return cls(app, unit, per_unit, fields, zones, field_codes)

    @property
    def product_amount(self) -> float | None:
        """The product, in its own unit, that left the drone in all."""
        return applications.product_amount(self.app.applied_amount, self.per_unit)
