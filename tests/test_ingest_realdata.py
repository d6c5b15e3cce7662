"""A real machine's task-controller log (ISO 11783-10) through the flight-log pipeline."""

import csv
from datetime import datetime
from pathlib import Path

import orjson
import pytest
from pyproj import Geod

from traceability.ingest.logs import ingest_log
from traceability.services import missions

LOG = Path(__file__).parent / "data" / "isoxml_totalstests_tracks.csv"
# The controller logs local time; the machine worked in Ticino (CET) in January.
OFFSET = "+01:00"


def _records() -> list[dict]:
    with LOG.open(newline="") as f:
        return list(csv.DictReader(f))


def _log_lines(records: list[dict], *, working: bool | None = None) -> bytes:
    """The records as JSON lines of our telemetry, one mission per time log, ended."""
    lines, last = [], {}
    for seq, r in enumerate(records):
        mission = f"ISOXML-{r['tlg']}"
        point = {
            "mission_id": mission,
            "seq": seq,
            "ts": r["time_local"] + OFFSET,
            "lat": float(r["lat"]),
            "lon": float(r["lon"]),
            "spraying": (r["work_state"] == "1") if working is None else working,
            "flow_lpm": 10.0,
        }
        if r["working_width_mm"]:
            point["swath_m"] = int(r["working_width_mm"]) / 1000
        lines.append(orjson.dumps(point))
        last[mission] = point["ts"]
    lines += [orjson.dumps({"event": "end", "mission_id": m, "ts": ts}) for m, ts in last.items()]
    return b"\n".join(lines)


@pytest.fixture
def machine(factory):
    return factory.drone(code="KRONE-1", swath_m=12.0)


def test_a_real_time_log_is_stored_once_and_measured_like_its_counter(session, machine):
    records = _records()
    data = _log_lines(records)
    first = ingest_log(session, data=data, name="tracks.jsonl", drone=machine.code)
    assert (first.stored, first.rejected, first.duplicates) == (len(records), 0, 0)
    by_log = {}
    for r in records:
        by_log[r["tlg"]] = by_log.get(r["tlg"], 0) + 1
    for tlg, n in by_log.items():
        m = missions.get_mission(session, mission_id=f"ISOXML-{tlg}")
        assert m.status == "complete" and m.point_count == n
        # The machine's own total-area counter never left 0: it never worked, and
        # neither do we measure any treated area.
        assert m.sprayed_area_ha == 0.0 and m.applied_amount == 0.0

    again = ingest_log(session, data=data, name="tracks.jsonl", drone=machine.code)
    assert (again.stored, again.duplicates) == (0, len(records))


def test_the_same_track_worked_throughout_gives_a_plausible_footprint(session, machine):
    records = [r for r in _records() if r["tlg"] == "TLG00003"]
    ingest_log(session, data=_log_lines(records, working=True), name="t.jsonl", drone=machine.code)
    m = missions.get_mission(session, mission_id="ISOXML-TLG00003")

    # An independent oracle on the ellipsoid: the stretches that count (no gap over 30 s,
    # no jump faster than 30 m/s), their length and their time.
    geod = Geod(ellps="WGS84")
    times = [datetime.fromisoformat(r["time_local"]) for r in records]
    lons = [float(r["lon"]) for r in records]
    lats = [float(r["lat"]) for r in records]
    _, _, dist = geod.inv(lons[:-1], lats[:-1], lons[1:], lats[1:])
    length = seconds = 0.0
    for i, d in enumerate(dist):
        dt = (times[i + 1] - times[i]).total_seconds()
        if 0 < dt <= 30 and d / dt <= 30:
            length, seconds = length + d, seconds + dt
    assert length > 1000  # a real track, not a parked machine

    # 12 m wide along that path, with ground driven twice counted once.
    area_m2 = m.sprayed_area_ha * 10_000
    assert 0.3 * 12 * length < area_m2 <= 12 * length * 1.01
    assert m.overlap_area_ha >= 0
    assert m.applied_amount == pytest.approx(10.0 * seconds / 60, rel=1e-3)
