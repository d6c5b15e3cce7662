"""Drone missions whose clock disagrees with the field's season, named instead of dropped.

Pure: no database. A mission counts for a lot when its local day falls in the
window of one of the lot's fields (``structure.window_start`` to harvest). A
mission on such a field that falls just outside the window — up to
``CLOCK_MARGIN_DAYS`` before sowing or after harvest — is what a drone with a wrong
clock would look like. It is *not* counted in that lot's PHI (the record says it
was flown outside the season), and the trace says so, per mission, so a buyer and
an office can see what was left out and why. A mission that counts for another lot
of the same field (the next season) is no disagreement. A mission with no time at
all counts for every lot of its field (hiding it would hide a spray) and is named too.
"""

from datetime import date, timedelta
from types import SimpleNamespace
from typing import Any

from traceability.services.applications import Application
from traceability.services.common import local_day
from traceability.services.trace.events import Placed, iso
from traceability.services.trace.structure import FieldLink, Structure

CLOCK_MARGIN_DAYS = 60
_MARGIN = timedelta(days=CLOCK_MARGIN_DAYS)


def _warning(
    a: Any, lk: FieldLink, kind: str, day: date | None, counted: bool, distance_m=None
) -> dict:
    what = {
        "before_season": f"flown on {day}, before the season began on {lk.start}",
        "after_harvest": f"flown on {day}, after lot {lk.lot_code} was harvested on {lk.end}",
        "no_time": "the mission has no start or end time",
        "far_from_field": f"planned for this field, but its nearest fix is {distance_m:,.0f} m "
        "away: it treated nothing here"
        if distance_m is not None
        else "",
    }[kind]
    done = "counted in this lot's PHI" if counted else "not counted in this lot's PHI"
    return {
        "kind": kind,
        "mission_id": a.mission_id,
        "drone_code": a.drone_code,
        "field_code": lk.field_code,
        "lot_code": lk.lot_code,
        "date": day,
        "at": iso(a.at),
        "season_start": lk.start,
        "season_end": lk.end,
        "counted_in_phi": counted,
        "distance_m": distance_m,
        "message": f"drone mission {a.mission_id} on field {lk.field_code}: {what}; {done}",
    }


def _outside(day: date, lk: FieldLink) -> str | None:
    if lk.start - day <= _MARGIN and day < lk.start:
        return "before_season"
    if day - lk.end <= _MARGIN and day > lk.end:
        return "after_harvest"
    return None


def _far(st: Structure, claims: list[Any]) -> list[dict[str, Any]]:
    """A warning per mission and lot whose plan names a field its fixes lie far from, when
    it was flown in (or near) that lot's season, or at an unknown time."""
    out = []
    for c in claims:
        at = c.ended_at or c.started_at
        day = local_day(at) if at else None
        a = SimpleNamespace(mission_id=c.mission_id, drone_code=c.drone_code, at=at)
        for lk in st.links:
            near = day is None or lk.start - _MARGIN <= day <= lk.end + _MARGIN
            if lk.field_id == c.field_id and near:
                out.append(_warning(a, lk, "far_from_field", day, False, c.distance_m))
    return out


def warnings(
    st: Structure, placed: list[Placed], apps: list[Application], claims: list[Any] = ()
) -> list[dict[str, Any]]:
    """One warning per drone mission and lot whose season its clock disagrees with, or
    whose planned field its fixes lie far from."""
    counted = {(p.application.mission_id, p.application.field_id): p for p in placed}
    out = []
    for a in apps:
        if a.source != "drone":
            continue
        links = [lk for lk in st.links if lk.field_id == a.field_id]
        if a.at is None:
            out += [_warning(a, lk, "no_time", None, True) for lk in links]
            continue
        p = counted.get((a.mission_id, a.field_id))
        if p is not None:
            continue  # it counts for a lot of this field: its season agrees
        day = local_day(a.at)
        for lk in links:
            kind = _outside(day, lk)
            if kind:
                out.append(_warning(a, lk, kind, day, False))
    return out + _far(st, list(claims))
