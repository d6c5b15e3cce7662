"""A vendor's exported track (KML, KMZ, GeoJSON) through the ingest pipeline, measured
against areas worked out by hand.

The tracks are drawn in UTM 48N metres from the factories' origin and written in WGS84,
as a vendor's app would export them.
"""

import io
import math
import zipfile
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from pyproj import Transformer
from sqlalchemy import select
from typer.testing import CliRunner

from agritrace.cli import app
from tests.factories import ORIGIN_E, ORIGIN_N
from traceability.errors import InvalidInput
from traceability.ingest.logs import ingest_log
from traceability.ingest.sources.tracks import TrackOptions, read_track
from traceability.models import Mission, TelemetryPoint

_TO_WGS84 = Transformer.from_crs(32648, 4326, always_xy=True)
T0 = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)
SWATH_M = 5.0
X0 = 6000.0  # metres east of the factories' origin: away from other tests' fields

# The U: 100 m east along y = 0, 10 m north, 100 m back west along y = 10, at 5 m/s.
U_LEGS = [((0.0, 0.0), (100.0, 0.0)), ((100.0, 0.0), (100.0, 10.0)), ((100.0, 10.0), (0.0, 10.0))]
# By hand, 5 m wide with flat ends and round corners: two passes of 100 x 5 = 500 m2,
# the 10 m leg 10 x 5 = 50 m2 less the two 2.5 x 2.5 squares it shares with the passes,
# and a quarter disc of radius 2.5 m on the outside of each corner.
U_TRUTH_M2 = 2 * 500 + 50 - 2 * 2.5 * 2.5 + 2 * math.pi * 2.5**2 / 4  # 1,047.32 m2


def _lonlat(x: float, y: float) -> tuple[float, float]:
    return _TO_WGS84.transform(ORIGIN_E + X0 + x, ORIGIN_N + y)


def _u_fixes() -> list[tuple[datetime, float, float]]:
    """A fix every metre (0.2 s) along the U, corners once."""
    fixes, t = [], T0
    for k, ((xa, ya), (xb, yb)) in enumerate(U_LEGS):
        length = math.hypot(xb - xa, yb - ya)
        for i in range(0 if k == 0 else 1, int(length) + 1):
            share = i / length
            lon, lat = _lonlat(xa + (xb - xa) * share, ya + (yb - ya) * share)
            fixes.append((t, lon, lat))
            t += timedelta(seconds=0.2)
    return fixes


def _gx_track_kml(fixes) -> bytes:
    whens = "".join(f"<when>{t.isoformat()}</when>" for t, _, _ in fixes)
    coords = "".join(f"<gx:coord>{lon:.9f} {lat:.9f} 3</gx:coord>" for _, lon, lat in fixes)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">'
        "<Document><name>Flight 0301</name><Placemark><name>Route</name>"
        f"<gx:Track>{whens}{coords}</gx:Track></Placemark></Document></kml>"
    ).encode()


def _line_kml(begin: datetime, end: datetime, points: list[tuple[float, float]]) -> bytes:
    coords = " ".join(f"{lon:.9f},{lat:.9f},3" for lon, lat in points)
    span = f"<TimeSpan><begin>{begin.isoformat()}</begin><end>{end.isoformat()}</end></TimeSpan>"
    return (
        '<kml xmlns="http://www.opengis.net/kml/2.2"><Document>'
        f"<Placemark><name>Pass</name>{span}"
        f"<LineString><coordinates>{coords}</coordinates></LineString></Placemark>"
        "<Placemark><name>No time</name>"
        f"<LineString><coordinates>{coords}</coordinates></LineString></Placemark>"
        "</Document></kml>"
    ).encode()


@pytest.fixture
def drone(factory, session):
    # The drone's own swath is 7 m: the tracks' option of 5 m must be the one used.
    d = factory.drone(code="AGRAS-1", swath_m=7.0)
    session.commit()
    return d


def _mission(session) -> Mission:
    (m,) = session.execute(select(Mission)).scalars().all()
    return m


def test_a_kml_gx_track_measures_to_the_area_worked_out_by_hand(session, drone):
    fixes = _u_fixes()
    options = TrackOptions(product="ANVIL-5SC", flow_lpm=2.0, swath_m=SWATH_M)
    result = ingest_log(
        session, data=_gx_track_kml(fixes), name="flight.kml", drone="AGRAS-1", track=options
    )
    assert (result.stored, result.rejected) == (len(fixes), 0)
    m = _mission(session)
    assert (m.source, m.type, m.product_code, m.swath_m) == ("track", "spray", "ANVIL-5SC", 5.0)
    assert (m.status, m.mission_id) == ("complete", "AGRAS-1-20260301T010000Z")
    assert m.started_at == T0 and m.ended_at == fixes[-1][0]
    assert m.sprayed_area_ha * 10_000 == pytest.approx(U_TRUTH_M2, rel=0.01)
    # 2 L/min over the flight's 210 m at 5 m/s (42 s): 1.4 L.
    assert m.applied_amount == pytest.approx(2.0 * 42 / 60, rel=0.01)
    # Each fix at its own gx:when, keyed by it.
    t = TelemetryPoint.__table__.c
    first = session.execute(select(t.seq, t.alt_m).order_by(t.seq).limit(1)).one()
    assert (first.seq, first.alt_m) == (round(T0.timestamp() * 1000), 3.0)

    again = ingest_log(
        session, data=_gx_track_kml(fixes), name="flight.kml", drone="AGRAS-1", track=options
    )
    assert (again.stored, again.duplicates) == (0, len(fixes))


def test_a_line_with_a_time_span_is_spread_evenly_along_it(session, drone):
    """A 200 m LineString of two vertices over 40 s: the times spread along it at one
    speed (5 m/s), cut into fixes 1 s apart (a single 40 s step would be a lost link)."""
    a, b = _lonlat(0.0, 0.0), _lonlat(200.0, 0.0)
    data = _line_kml(T0, T0 + timedelta(seconds=40), [a, b])
    result = ingest_log(
        session,
        data=data,
        name="pass.kml",
        drone="AGRAS-1",
        track=TrackOptions(flow_lpm=3.0, swath_m=SWATH_M),
    )
    assert result.stored == 41  # 0, 1, ..., 40 s
    (reason,) = [r.reason for r in result.refused]
    assert reason == "a LineString without a TimeSpan (begin, end): no times"
    m = _mission(session)
    # 200 m x 5 m with flat ends, and 3 L/min for 40 s.
    assert m.sprayed_area_ha * 10_000 == pytest.approx(200 * 5, rel=0.01)
    assert m.applied_amount == pytest.approx(3.0 * 40 / 60, rel=0.001)
    t = TelemetryPoint.__table__.c
    times = session.execute(select(t.ts).order_by(t.ts)).scalars().all()
    assert [(x - T0).total_seconds() for x in times] == [float(s) for s in range(41)]


def test_a_geojson_track_with_coord_times_and_one_with_a_timespan(session, drone):
    fixes = _u_fixes()
    feature = {
        "type": "Feature",
        "properties": {"coordTimes": [t.isoformat() for t, _, _ in fixes]},
        "geometry": {"type": "LineString", "coordinates": [[lon, lat] for _, lon, lat in fixes]},
    }
    later = T0 + timedelta(hours=2)
    spanned = {
        "type": "Feature",
        "properties": {
            # Vietnam time, written without an offset: 10:00 there is 03:00 UTC.
            "timespan": {"begin": "2026-03-01T10:00:00", "end": "2026-03-01T10:00:40"}
        },
        "geometry": {
            "type": "LineString",
            "coordinates": [list(_lonlat(0.0, 100.0)), list(_lonlat(200.0, 100.0))],
        },
    }
    doc = {"type": "FeatureCollection", "features": [feature, spanned, {"type": "Feature"}]}
    result = ingest_log(
        session,
        data=orjson.dumps(doc),
        name="export.geojson",
        drone="AGRAS-1",
        track=TrackOptions(swath_m=SWATH_M),
    )
    assert result.stored == len(fixes) + 41
    (reason,) = [r.reason for r in result.refused]
    assert reason.startswith("not a timed LineString Feature")
    rows = session.execute(select(Mission).order_by(Mission.started_at)).scalars().all()
    assert [m.started_at for m in rows] == [T0, later]
    assert rows[0].sprayed_area_ha * 10_000 == pytest.approx(U_TRUTH_M2, rel=0.01)
    assert rows[1].sprayed_area_ha * 10_000 == pytest.approx(200 * 5, rel=0.01)


def test_a_kmz_through_the_api_and_the_cli_needs_its_drone(
    client, admin_headers, drone, tmp_path, db, session
):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("doc.kml", _gx_track_kml(_u_fixes()))
    r = client.post(
        "/api/v1/ingest/logs",
        headers=admin_headers,
        files={"file": ("flight.kmz", buf.getvalue(), "application/vnd.google-earth.kmz")},
    )
    assert r.status_code == 422 and "is a track: name its drone" in r.json()["detail"]
    r = client.post(
        "/api/v1/ingest/logs",
        headers=admin_headers,
        files={"file": ("flight.kmz", buf.getvalue(), "application/vnd.google-earth.kmz")},
        data={"drone": "AGRAS-1", "swath_m": "5", "flow_lpm": "2", "product": "ANVIL-5SC"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == len(_u_fixes())
    r = client.post(
        "/api/v1/ingest/logs",
        headers=admin_headers,
        files={"file": ("x.kml", b"<kml><Document", "application/vnd.google-earth.kml+xml")},
        data={"drone": "AGRAS-1", "swath_m": "0"},
    )
    assert r.status_code == 422, r.text  # a swath of 0 m is refused, naming the field

    path = tmp_path / "later.geojson"
    shifted = [(t + timedelta(days=1), lon, lat) for t, lon, lat in _u_fixes()]
    path.write_bytes(
        orjson.dumps(
            {
                "type": "Feature",
                "properties": {"coordTimes": [t.isoformat() for t, _, _ in shifted]},
                "geometry": {
                    "type": "LineString",
                    "coordinates": [[lon, lat] for _, lon, lat in shifted],
                },
            }
        )
    )
    url = db.url.render_as_string(hide_password=False)
    res = CliRunner().invoke(
        app,
        ["ingest-log", str(path), "--drone", "AGRAS-1", "--swath", "5", "--flow-lpm", "2"]
        + ["--database-url", url],
    )
    assert res.exit_code == 0, res.output
    assert f"later.geojson (track): {len(shifted)} points stored" in res.output
    session.expire_all()
    day2 = session.execute(
        select(Mission).where(Mission.mission_id == "AGRAS-1-20260302T010000Z")
    ).scalar_one()
    assert day2.sprayed_area_ha * 10_000 == pytest.approx(U_TRUTH_M2, rel=0.01)


def test_what_is_no_track_is_said_plainly():
    with pytest.raises(InvalidInput, match="not a readable KML"):
        read_track(b"<kml><Document", name="x.kml", drone="D")
    with pytest.raises(InvalidInput, match="not GeoJSON"):
        read_track(b"{", name="x.geojson", drone="D")
    backwards = _line_kml(T0, T0 - timedelta(seconds=5), [_lonlat(0, 0), _lonlat(10, 0)])
    reasons = [o for _, o in read_track(backwards, name="b.kml", drone="D").records]
    # (its second placemark, a line with no TimeSpan at all, is the other reject)
    assert sorted(reasons) == [
        "a LineString without a TimeSpan (begin, end): no times",
        "its TimeSpan ends (2026-03-01T00:59:55+00:00) before it begins",
    ]
    # fastkml refuses a document with a position that is not numbers: all of it, said.
    bad = _gx_track_kml(_u_fixes()[:3]).replace(b"<gx:coord>", b"<gx:coord>x ", 1)
    with pytest.raises(InvalidInput, match="not a readable KML document"):
        read_track(bad, name="x.kml", drone="D")
    empty = read_track(b'<kml xmlns="http://www.opengis.net/kml/2.2"/>', name="e.kml", drone="D")
    assert [o for _, o in empty.records] == [
        "no timed track: a gx:Track, or a LineString with a TimeSpan"
    ]


def test_the_operators_day_names_a_track_and_an_unknown_sprayer_state(
    client, session, factory, tmp_path
):
    """The operator's page says where each mission came from and that a MAVLink vehicle
    without a pump parameter did not say when it sprayed, in both languages."""
    import os

    from tests import mavflight

    service = factory.organisation("drone_service")
    factory.drone(code="AGRAS-1", swath_m=7.0, organisation=service)
    factory.drone(code="MAV-1", swath_m=mavflight.SWATH_M, organisation=service)
    session.commit()
    ingest_log(
        session,
        data=_gx_track_kml(_u_fixes()),
        name="flight.kml",
        drone="AGRAS-1",
        track=TrackOptions(flow_lpm=2.0, swath_m=SWATH_M),
    )
    no_pump = [s for s in mavflight.flight(lost_fix_turn=None) if s.msg.get_type() != "PARAM_VALUE"]
    ingest_log(session, data=mavflight.tlog(no_pump), name="f.tlog", drone="MAV-1")
    own = factory.token("operator", organisation=service)
    for lang, track_word, unknown in (
        ("vi", "Đường bay xuất từ ứng dụng của hãng (KML, GeoJSON)", "Không rõ trạng thái phun"),
        ("en", "Vendor&#39;s exported track (KML, GeoJSON)", "Sprayer state not reported"),
    ):
        r = client.get("/operator/", headers=own, params={"day": "2026-03-01", "lang": lang})
        assert r.status_code == 200
        html = r.text
        assert html.count('class="card mission"') == 2
        track_card = html[html.index('id="mission-AGRAS-1-') :]
        assert f"<td>{track_word}</td>" in track_card[: track_card.index("</article>")]
        mav_card = html[html.index('id="mission-MAV-1-') :]
        mav_card = mav_card[: mav_card.index("</article>")]
        assert unknown in mav_card
        if os.environ.get("AGRITRACE_PAGES_OUT"):  # to look at it (screenshots)
            out = os.environ["AGRITRACE_PAGES_OUT"]
            with open(f"{out}/operator-tracks-{lang}.html", "w", encoding="utf-8") as f:
                f.write(html)
