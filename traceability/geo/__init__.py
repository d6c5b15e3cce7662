"""Pure geometry for agritrace: projections, field polygons and as-applied spraying maths.

Everything here works on plain numbers and shapely geometries: no database, no web, no I/O.
Coordinates come in and go out as WGS84 lon/lat (EPSG:4326, GeoJSON order), but every
area and length is computed in metres in the geometry's own UTM zone, because degrees are
not a unit of length and a fixed zone drifts badly far from its central meridian.

The central function is :func:`measure_application`, which turns a drone's spray log (fixes
with applicator state, flow rate and swath width) into the sprayed footprint and the area and
amount that landed on each field and in each no-spray zone.

The names below are the package's API; import them from ``traceability.geo``. The modules
behind them, in the order they build on each other:

- :mod:`.projection` -- UTM zones, cached transformers, WGS84 <-> metres, bounding boxes;
- :mod:`.polygons` -- field polygons from GeoJSON, with errors that name the problem;
- :mod:`.results` -- the frozen dataclasses :func:`measure_application` returns;
- :mod:`.swaths` -- stretch rectangles and the buffered polygon of each sprayed run;
- :mod:`.stretches` -- a log of fixes checked, projected and cut into stretches;
- :mod:`.targets` -- sharing the stretches and footprint among fields and no-spray zones;
- :mod:`.measure` -- :func:`measure_application`, which runs those steps.
"""

from traceability.geo.measure import (
    DEFAULT_MAX_GAP_S,
    DEFAULT_MAX_SPEED_MPS,
    DEFAULT_SWATH_TOL_M,
    measure_application,
)
from traceability.geo.polygons import MAX_FIELD_AREA_HA, parse_polygon
from traceability.geo.projection import (
    WGS84_EPSG,
    area_ha,
    bbox_wgs84,
    to_metres,
    to_wgs84,
    transformer_to_wgs84,
    utm_epsg,
)
from traceability.geo.results import Application, FieldApplication, ZoneHit

__all__ = [
    "DEFAULT_MAX_GAP_S",
    "DEFAULT_MAX_SPEED_MPS",
    "DEFAULT_SWATH_TOL_M",
    "MAX_FIELD_AREA_HA",
    "WGS84_EPSG",
    "Application",
    "FieldApplication",
    "ZoneHit",
    "area_ha",
    "bbox_wgs84",
    "measure_application",
    "parse_polygon",
    "to_metres",
    "to_wgs84",
    "transformer_to_wgs84",
    "utm_epsg",
]
