"""Drone missions: measured from their points, flagged, written into the diaries, read back.

- :mod:`.measure` — a mission's points, the fields and zones near them, the geometry, the
  stored result;
- :mod:`.flags` — what the result asks someone to look at (pure, typed);
- :mod:`.diary_lines` — each treated field's diary brought in line with the result;
- :mod:`.read` — a mission, a page of them, the as-applied map;
- :mod:`.lifecycle` — completing idle missions and measuring dirty ones;
- :mod:`.result` — the measured result those modules share.
"""

from traceability.services.missions.lifecycle import close_idle, dirty_flying, measure_dirty
from traceability.services.missions.measure import amount_unit, measure_mission, product_factor
from traceability.services.missions.read import get_mission, list_missions, mission_geojson

__all__ = [
    "amount_unit",
    "close_idle",
    "dirty_flying",
    "get_mission",
    "list_missions",
    "measure_dirty",
    "measure_mission",
    "mission_geojson",
    "product_factor",
]
