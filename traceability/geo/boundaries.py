"""The outlines of the administrative units, for drawing where a field lies.

The package ships a schematic outline of Cà Mau province (the former Cà Mau and Bạc
Liêu provinces, merged on 1 July 2025), hand-digitised to about 5 km: enough for a
locator inset, never for a measurement. The official boundaries of the new communes
were not at hand when it was written, so the package ships no commune outlines; an
office that has them (from the national administrative-boundary data) points
``AGRITRACE_BOUNDARIES_FILE`` at a GeoJSON FeatureCollection whose features carry the
unit's ``code`` (``96`` for the province, the commune codes of
:mod:`traceability.adminunits`), and the locator draws the field's commune too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from traceability.errors import InvalidGeometry


@dataclass(frozen=True)
class Boundaries:
    """Unit code → outline in WGS84, and whether the outlines are schematic."""

    outlines: dict[str, BaseGeometry]
    schematic: bool


def parse(text: str) -> Boundaries:
    """Outlines from a GeoJSON FeatureCollection whose features carry a ``code``.

    >>> b = parse('{"type": "FeatureCollection", "features": [{"type": "Feature",'
    ...     ' "properties": {"code": "96"}, "geometry": {"type": "Polygon",'
    ...     ' "coordinates": [[[105, 9], [106, 9], [106, 10], [105, 9]]]}}]}')
    >>> sorted(b.outlines), b.schematic
    (['96'], False)
    """
    try:
        features = json.loads(text)["features"]
        outlines = {str(f["properties"]["code"]): shape(f["geometry"]) for f in features}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InvalidGeometry(f"not a FeatureCollection of units with a code: {exc}") from exc
    schematic = any(bool(f["properties"].get("schematic")) for f in features)
    return Boundaries(outlines=outlines, schematic=schematic)


@lru_cache(maxsize=4)
def load(path: str | None = None) -> Boundaries:
    """The boundaries in ``path``, or the package's schematic province outline."""
    if path:
        return parse(Path(path).read_text(encoding="utf-8"))
    packaged = resources.files("traceability.data").joinpath("boundaries.geojson")
    return parse(packaged.read_text(encoding="utf-8"))
