"""ISO 11783-10 TaskData through the ingest pipeline: a real machine's time logs, a
sprayer's logs written here after annex D, and partfields imported as fields.

The oracles are independent of the adapter: the real logs are checked against the
dev4Agriculture decoding of the same binaries (``isoxml_totalstests_tracks.csv``), and
areas against shapely buffers of the working track in the track's own UTM zone.
"""

import csv
import io
import itertools
import struct
import zipfile
from collections import defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
import shapely
from pyproj import Geod, Transformer
from shapely.geometry import LineString, Polygon
from shapely.geometry.polygon import orient
from sqlalchemy import select
from typer.testing import CliRunner

from agritrace.cli import app
from traceability.ingest.logs import ingest_log, ingest_log_file
from traceability.models import Drone, FarmField, Mission, TelemetryPoint
from traceability.services import missions

DATA = Path(__file__).parent / "data"
TOTALS = DATA / "isoxml" / "TotalsTests"
TRACKS = DATA / "isoxml_totalstests_tracks.csv"


def _tracks() -> dict[str, list[dict]]:
    by_log = defaultdict(list)
    with TRACKS.open(newline="") as f:
        for row in csv.DictReader(f):
            by_log[row["tlg"]].append(row)
    return by_log


def _missions(session) -> dict[str, Mission]:
    rows = session.execute(select(Mission).order_by(Mission.started_at)).scalars().all()
    return {m.mission_id: m for m in rows}


# ---------------------------------------------------------------- the real TaskData


def test_the_real_taskdata_set_becomes_one_mission_per_time_log(db, session):
    result = ingest_log_file(TOTALS, engine=db)
    tracks = _tracks()
    total = sum(len(rows) for rows in tracks.values())
    assert (result.stored, result.rejected, result.duplicates) == (total, 0, 0)

    # The machine was registered from the device's designator.
    drone = session.execute(select(Drone)).scalar_one()
    assert (drone.code, drone.model) == ("9U7sA5r-dVr", "9U7sA5r dVr")

    got = sorted(_missions(session).values(), key=lambda m: m.started_at)
    assert len(got) == len(tracks) == 3
    for m, (tlg, rows) in zip(got, sorted(tracks.items()), strict=True):
        assert m.source == "isoxml" and m.status == "complete", tlg
        assert m.point_count == len(rows), tlg
        # The task's UTC times put the controller's clock two hours ahead of UTC.
        first = datetime.fromisoformat(rows[0]["time_local"]) - timedelta(hours=2)
        last = datetime.fromisoformat(rows[-1]["time_local"]) - timedelta(hours=2)
        assert m.started_at.replace(tzinfo=None) == first, tlg
        assert m.ended_at.replace(tzinfo=None) == last, tlg
        # The independent decoding never saw the work state on (nor did the machine's own
        # area counter move): no area, whatever the width.
        assert all(r["work_state"] in ("0", "") for r in rows)
        assert m.sprayed_area_ha == 0.0, tlg

    # Every fix is where the independent decoding puts it.
    longest = got[-1]
    t = TelemetryPoint.__table__.c
    pts = session.execute(
        select(t.lat, t.lon, t.swath_m).where(t.mission_id == longest.mission_id).order_by(t.ts)
    ).all()
    rows = tracks["TLG00003"]
    assert len(pts) == len(rows)
    for (lat, lon, swath), r in zip(pts, rows, strict=True):
        assert lat == pytest.approx(float(r["lat"]), abs=1e-9)
        assert lon == pytest.approx(float(r["lon"]), abs=1e-9)
        if r["working_width_mm"]:
            assert swath == int(r["working_width_mm"]) / 1000

    again = ingest_log_file(TOTALS, engine=db)
    assert (again.stored, again.duplicates, again.rejected) == (0, total, 0)


def test_a_taskdata_zip_uploads_through_the_api(client, factory, admin_headers):
    factory.drone(code="KRONE-1", swath_m=12.0)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for p in TOTALS.iterdir():
            z.write(p, f"TASKDATA/{p.name}")
    r = client.post(
        "/api/v1/ingest/logs",
        headers=admin_headers,
        files={"file": ("TotalsTests.zip", buf.getvalue(), "application/zip")},
        data={"drone": "KRONE-1"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == sum(len(v) for v in _tracks().values())
    assert len(r.json()["missions"]) == 3
    listed = client.get("/api/v1/missions?drone_id=KRONE-1", headers=admin_headers).json()
    assert {m["source"] for m in listed["data"]} == {"isoxml"}


def test_a_broken_zip_is_a_clear_400(client, admin_headers):
    r = client.post(
        "/api/v1/ingest/logs",
        headers=admin_headers,
        files={"file": ("set.zip", b"PK\x03\x04 not really", "application/zip")},
        data={"drone": "X"},
    )
    assert r.status_code in (400, 422), r.text
    assert "zip" in r.text


def _tim_totals() -> list[tuple[str, dict[int, int]]]:
    """Each time log of the real task with the totals its TIM gives in TASKDATA.XML (read
    here with ElementTree, not through the adapter): ``(TLG name, {DDI: value})``."""
    import xml.etree.ElementTree as ET

    task = ET.parse(TOTALS / "TASKDATA.XML").getroot().find("TSK")
    out, totals = [], {}
    for el in task:
        if el.tag == "TIM":
            totals = {int(d.get("A"), 16): int(d.get("B")) for d in el.findall("DLV")}
        elif el.tag == "TLG":
            out.append((el.get("A"), totals))
    return out


def test_the_real_sets_own_totals_say_no_work_and_the_distance_driven(db, session):
    """What the real set allows to check, and it is checked.

    Read from its time logs: every record has the actual work state (DDI 141) at 0; no
    condensed section state (DDI 161-176) and no setpoint work state (DDI 289) is logged;
    the header and drum speeds the device names (DDI 0x0147, 0x014B) stay 0. The task's
    totals in TASKDATA.XML agree: total area (DDI 116), effective total distance (117) and
    effective total time (119) are 0 after each time log. The machine drove without
    working, and its ineffective total distance (DDI 118, mm) counts how far: that is the
    figure our stored track can be checked against (its length in UTM 32N, the data's
    zone, by shapely; and its speeds, DDI 397, over its times).
    """
    ingest_log_file(TOTALS, engine=db)
    got = sorted(_missions(session).values(), key=lambda m: m.started_at)
    t = TelemetryPoint.__table__.c
    to_utm = Transformer.from_crs(4326, 32632, always_xy=True)
    driven_before = 0
    checked = 0
    for m, (tlg, totals) in zip(got, _tim_totals(), strict=True):
        if not totals:
            continue  # TLG00002: a 26 s log whose TIM gives no totals
        # No area worked, as the machine's own counters say.
        assert totals[0x0074] == totals[0x0075] == totals[0x0077] == 0, tlg
        assert m.sprayed_area_ha == m.treated_area_ha == totals[0x0074] / 10_000 == 0.0, tlg
        driven = (totals[0x0076] - driven_before) / 1000
        driven_before = totals[0x0076]
        rows = session.execute(
            select(t.lon, t.lat, t.ts, t.speed_mps)
            .where(t.mission_id == m.mission_id)
            .order_by(t.ts)
        ).all()
        track = LineString([to_utm.transform(r.lon, r.lat) for r in rows]).length
        # GNSS wander while parked adds a little length the odometer does not count.
        assert track == pytest.approx(driven, rel=0.03), tlg
        assert track > driven, tlg
        by_speed = sum(
            (a.speed_mps or 0) * (b.ts - a.ts).total_seconds() for a, b in itertools.pairwise(rows)
        )
        assert by_speed == pytest.approx(driven, rel=0.015), tlg
        checked += 1
    assert checked == 2


def test_a_version_3_taskdata_set_reads_like_its_version_4(tmp_path, db, session):
    """The real set said as ISO 11783-10 version 3 (VersionMajor 3; version 3 has no
    DataLogTrigger, DLT, so those are left out): the same missions and fixes."""
    import re

    folder = tmp_path / "v3"
    folder.mkdir()
    for p in TOTALS.iterdir():
        (folder / p.name).write_bytes(p.read_bytes())
    text = (TOTALS / "TASKDATA.XML").read_text(encoding="utf-8")
    v3 = text.replace('VersionMajor="4" VersionMinor="1"', 'VersionMajor="3" VersionMinor="3"')
    v3 = re.sub(r"\s*<DLT [^>]*/>", "", v3)
    assert v3 != text and "<DLT" not in v3
    (folder / "TASKDATA.XML").write_text(v3, encoding="utf-8")

    from traceability.ingest.sources import isoxml

    assert isoxml._models(isoxml._parse_taskdata(isoxml.taskdata_files(folder))).__name__.endswith(
        "v3"
    )
    result = ingest_log_file(folder, engine=db)
    tracks = _tracks()
    assert (result.stored, result.rejected) == (sum(len(r) for r in tracks.values()), 0)
    got = sorted(_missions(session).values(), key=lambda m: m.started_at)
    assert [m.point_count for m in got] == [len(r) for _, r in sorted(tracks.items())]
    t = TelemetryPoint.__table__.c
    pts = session.execute(
        select(t.lat, t.lon).where(t.mission_id == got[-1].mission_id).order_by(t.ts)
    ).all()
    for (lat, lon), r in zip(pts, tracks["TLG00003"], strict=True):
        assert (lat, lon) == (
            pytest.approx(float(r["lat"]), abs=1e-9),
            pytest.approx(float(r["lon"]), abs=1e-9),
        )


# ---------------------------------------------------------------- a sprayer, written here

TASKDATA = """<?xml version="1.0" encoding="UTF-8"?>
<ISO11783_TaskData VersionMajor="4" VersionMinor="2" DataTransferOrigin="2"
    ManagementSoftwareManufacturer="" ManagementSoftwareVersion="">
  <PDT A="PDT1" B="Anvil 5SC"/>
  <TSK A="TSK1" B="Phun lua" G="4">
    <TZN A="1"><PDV A="0001" B="2000000" C="PDT1"/></TZN>
    <TIM A="{start}" D="4"/>
    <TLG A="TLG00001" C="1"/>
    <DAN A="A00E84000DF0E439" C="DVC-1"/>
  </TSK>
  <DVC A="DVC-1" B="Boom 12m" D="A00E84000DF0E439" F="31" G="FF000000006564">
    <DPT A="10" B="0043" C="4000" D="Section 1 width"/>
    <DPT A="11" B="0043" C="8000" D="Section 2 width"/>
    <DET A="DET-1" B="1" C="1" E="0" F="0"/>
    <DET A="DET-2" B="2" C="4" E="1" F="1"><DOR A="10"/></DET>
    <DET A="DET-3" B="3" C="4" E="2" F="1"><DOR A="11"/></DET>
  </DVC>
</ISO11783_TaskData>
"""
HEADER = """<?xml version="1.0" encoding="UTF-8"?>
<TIM A="" D="4">
  <PTN A="" B="" D=""/>
  <DLV A="0043" B="" C="DET-1"/>
  <DLV A="{state_ddi}" B="" C="DET-1"/>
  <DLV A="0025" B="" C="DET-1"/>
</TIM>
"""


def _annex_d(t: datetime, lat: float, lon: float, values: dict[int, int]) -> bytes:
    """One time-log record as ISO 11783-10 annex D lays it out (written independently)."""
    midnight = datetime.combine(t.date(), datetime.min.time())
    ms = round((t - midnight).total_seconds() * 1000)
    days = (t.date() - date(1980, 1, 1)).days
    out = struct.pack("<IHiiB", ms, days, round(lat * 1e7), round(lon * 1e7), 4)
    out += struct.pack("<B", len(values))
    for index, value in values.items():
        out += struct.pack("<Bi", index, value)
    return out


def _sprayer_set(folder: Path, rows: list[dict], *, sections: bool) -> Path:
    """A TaskData set over a real track: on in alternate minutes, 12 m wide, 2 L/min.

    With ``sections`` the work state is the condensed state of two sections the device
    describes as 4 m and 8 m wide (both on, or only the first), else the actual work
    state (DDI 141).
    """
    folder.mkdir()
    t0 = datetime.fromisoformat(rows[0]["time_local"])
    # The task's start in UTC, one hour behind the controller's clock.
    start = (t0 - timedelta(hours=1, seconds=20)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (folder / "TASKDATA.XML").write_text(TASKDATA.format(start=start))
    (folder / "TLG00001.XML").write_text(HEADER.format(state_ddi="00A1" if sections else "008D"))
    data = b""
    for i, r in enumerate(rows):
        on = (i // 60) % 2 == 0
        if sections:
            # Section 1 in the two lowest bits, section 2 in the next; 11 for the rest.
            state = 0xFFFFFFF0 | (0b01 if on else 0) | (0b0100 if on and i % 240 < 120 else 0)
            state = struct.unpack("<i", struct.pack("<I", state))[0]
        else:
            state = int(on)
        values = {0: 12000, 1: state, 2: 33333 if on else 0}  # 33,333 mm3/s = 2 L/min
        data += _annex_d(
            datetime.fromisoformat(r["time_local"]), float(r["lat"]), float(r["lon"]), values
        )
    (folder / "TLG00001.BIN").write_bytes(data)
    return folder


def _worked_area_m2(rows: list[dict], width_of) -> float:
    """Shapely's buffer of each working stretch (state of its first fix) by half its
    width, in the track's own UTM zone, unioned: the independent oracle.

    Stretches longer than 30 s or faster than 30 m/s are link losses and GNSS jumps,
    as the pipeline documents; they break the track.
    """
    lon0 = float(rows[0]["lon"])
    zone = int((lon0 + 180) // 6) + 1
    to_utm = Transformer.from_crs(4326, 32600 + zone, always_xy=True)
    xy = [to_utm.transform(float(r["lon"]), float(r["lat"])) for r in rows]
    times = [datetime.fromisoformat(r["time_local"]) for r in rows]
    pieces = []
    for i in range(len(rows) - 1):
        width = width_of(i)
        dt = (times[i + 1] - times[i]).total_seconds()
        length = LineString([xy[i], xy[i + 1]]).length
        if not width or not 0 < dt <= 30 or length / dt > 30 or length < 1e-3:
            continue
        pieces.append(
            LineString([xy[i], xy[i + 1]]).buffer(width / 2, cap_style="flat", join_style="round")
        )
        # Round joints between consecutive working stretches of the same width.
        if i > 0 and width_of(i - 1) == width:
            pieces.append(shapely.Point(xy[i]).buffer(width / 2, quad_segs=32))
    return shapely.union_all(pieces).area


@pytest.mark.parametrize("sections", [False, True], ids=["work-state", "sections"])
def test_a_sprayers_time_log_measures_like_its_buffered_track(tmp_path, db, session, sections):
    rows = _tracks()["TLG00003"][:1500]
    folder = _sprayer_set(tmp_path / "set", rows, sections=sections)
    result = ingest_log_file(folder, drone=None, engine=db)
    assert result.rejected == 0 and result.stored == len(rows)

    m = next(iter(_missions(session).values()))
    assert (m.source, m.type, m.product_code) == ("isoxml", "spray", "Anvil-5SC")
    assert m.started_at.replace(tzinfo=None) == (
        datetime.fromisoformat(rows[0]["time_local"]) - timedelta(hours=1)
    )

    def width(i: int) -> float:
        on = (i // 60) % 2 == 0
        if not on:
            return 0.0
        return 12.0 if not sections or i % 240 < 120 else 4.0

    expected = _worked_area_m2(rows, width)
    assert expected > 20_000  # a real working track, not a parked machine
    assert m.sprayed_area_ha * 10_000 == pytest.approx(expected, rel=0.03)
    # 2 L/min while on, over the time on (stretches the pipeline believes).
    times = [datetime.fromisoformat(r["time_local"]) for r in rows]
    minutes = sum(
        (times[i + 1] - times[i]).total_seconds() / 60
        for i in range(len(rows) - 1)
        if width(i) and 0 < (times[i + 1] - times[i]).total_seconds() <= 30
    )
    assert m.applied_amount == pytest.approx(2.0 * minutes, rel=0.01)


def test_a_cut_record_and_a_record_without_position_are_rejects(tmp_path, db, session):
    rows = _tracks()["TLG00003"][:50]
    folder = _sprayer_set(tmp_path / "set", rows, sections=False)
    data = (folder / "TLG00001.BIN").read_bytes()
    rec = len(data) // len(rows)
    # Record 10 at (0, 0), then the log cut in the middle of its last record.
    t = datetime.fromisoformat(rows[9]["time_local"])
    bad = _annex_d(t, 0.0, 0.0, {0: 12000, 1: 1, 2: 0})
    data = data[: 9 * rec] + bad + data[10 * rec : -7]
    (folder / "TLG00001.BIN").write_bytes(data)

    result = ingest_log_file(folder, engine=db)
    assert result.stored == len(rows) - 2
    reasons = sorted(r.reason for r in result.refused)
    assert len(reasons) == 2
    assert "record has no position" in reasons[1] or "record has no position" in reasons[0]
    assert any("cut short" in r for r in reasons)


# ---------------------------------------------------------------- partfields, as fields

PARTFIELDS = """<?xml version="1.0" encoding="UTF-8"?>
<ISO11783_TaskData VersionMajor="4" VersionMinor="2" DataTransferOrigin="1"
    ManagementSoftwareManufacturer="" ManagementSoftwareVersion="">
  <PFD A="PFD1" C="Ruộng Ông Năm" D="{area}">
    <PLN A="1">
      <LSG A="1">{outer}</LSG>
      <LSG A="2">{inner}</LSG>
    </PLN>
  </PFD>
  <PFD A="PFD2" C="North 2" D="0">
    <PLN A="1"><LSG A="1">{other}</LSG></PLN>
  </PFD>
</ISO11783_TaskData>
"""


def _lsg(coords: list[tuple[float, float]]) -> str:
    return "".join(f'<PNT A="2" C="{lat:.9f}" D="{lon:.9f}"/>' for lon, lat in coords)


@pytest.mark.parametrize(
    "version",
    ['VersionMajor="4" VersionMinor="2"', 'VersionMajor="3" VersionMinor="3"'],
    ids=["v4", "v3"],
)
def test_import_fields_takes_the_partfields_of_a_taskdata_xml(
    tmp_path, db, session, factory, version
):
    farmer = factory.farmer()
    session.commit()
    outer = [(105.4300, 9.2300), (105.4330, 9.2300), (105.4330, 9.2320), (105.4300, 9.2320)]
    inner = [(105.4310, 9.2305), (105.4315, 9.2305), (105.4315, 9.2310), (105.4310, 9.2310)]
    other = [(105.4400, 9.2300), (105.4410, 9.2300), (105.4410, 9.2310), (105.4400, 9.2310)]
    path = tmp_path / "TASKDATA.XML"
    path.write_text(
        PARTFIELDS.format(area=0, outer=_lsg(outer), inner=_lsg(inner), other=_lsg(other)).replace(
            'VersionMajor="4" VersionMinor="2"', version
        ),
        encoding="utf-8",
    )
    url = db.url.render_as_string(hide_password=False)
    res = CliRunner().invoke(
        app, ["import-fields", str(path), "--farmer-id", str(farmer.id), "--database-url", url]
    )
    assert res.exit_code == 0, res.output
    assert "imported 2 fields" in res.output

    session.expire_all()
    fields = {f.code: f for f in session.execute(select(FarmField)).scalars()}
    # Codes from the designators, Vietnamese letters without their marks.
    assert set(fields) == {"Ruong-Ong-Nam", "North-2"}
    geod = Geod(ellps="WGS84")
    # The geodesic area of the boundary less its hole, on the ellipsoid.
    # (``orient``: pyproj adds a ring wound like the shell, and subtracts one wound against.)
    expect = geod.geometry_area_perimeter(orient(Polygon(outer, [inner])))[0]
    assert expect < geod.geometry_area_perimeter(orient(Polygon(outer)))[0] - 3000
    holed = next(f for f in fields.values() if f.name == "Ruộng Ông Năm")
    assert holed.area_ha * 10_000 == pytest.approx(expect, rel=0.002)
    assert len(holed.geometry["coordinates"]) == 2  # the hole is kept


def test_a_log_file_of_the_contract_still_reads_as_before(session, factory):
    factory.drone(code="D-1")
    data = (
        b'{"mission_id": "M-1", "seq": 1, "ts": "2026-03-01T08:00:00+07:00", '
        b'"lat": 9.23, "lon": 105.43, "spraying": false}\n'
    )
    result = ingest_log(session, data=data, name="m.jsonl", drone="D-1")
    assert result.stored == 1
    assert missions.get_mission(session, mission_id="M-1").source == "contract"


def test_a_zip_that_unpacks_beyond_the_limit_is_refused_before_inflating(monkeypatch):
    from traceability.errors import InvalidInput
    from traceability.ingest.sources import isoxml

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("TASKDATA.XML", "<ISO11783_TaskData/>")
        z.writestr("TLG00001.bin", b"\0" * 100_000)  # deflates to a few hundred bytes
    monkeypatch.setattr(isoxml, "SET_MAX_BYTES", 50_000)
    with pytest.raises(InvalidInput, match="unpacks to 100,020 bytes, more than the 50,000"):
        isoxml.taskdata_files(buf.getvalue())
