"""A vendor's flight-record CSV read through a column mapping (``--columns``)."""

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from agritrace.cli import app
from tests.factories import feature, rectangle_lonlat
from tests.mqtt import lonlat
from traceability.ingest.logs import ingest_log
from traceability.models import FieldCreate, Mission, TelemetryPoint
from traceability.services import fields

# A made-up export (no vendor's): its own names for each column, local time, two fixes
# a second, the spray state as ON/OFF, the flow in L/min.
HEADER = "Time,Lat,Lng,Height (ft),Spray,Flow (L/min)\n"
PASSES, LENGTH, SWATH, FLOW = 6, 120.0, 6.0, 2.4
X0 = 7000.0
T0 = datetime(2026, 3, 2, 7, 30)  # Vietnam time, as the export writes it


def _export() -> tuple[str, float]:
    """The CSV and the minutes the spray was on (a stretch takes its first row's state)."""
    lines, t, minutes = [HEADER], T0, 0.0
    for k in range(PASSES):
        y = SWATH / 2 + k * SWATH
        xs = [x * 2.0 for x in range(-3, int(LENGTH / 2) + 4)]  # 2 m apart, 4 m/s
        if k % 2:
            xs = [LENGTH - x for x in xs]
        for x in xs:
            inside = 0 <= x < LENGTH if k % 2 == 0 else 0 < x <= LENGTH
            lon, lat = lonlat(X0 + x, y)
            spray = "ON" if inside else "OFF"
            lines.append(f"{t:%Y-%m-%d %H:%M:%S.%f},{lat:.8f},{lon:.8f},32.8,{spray},")
            lines[-1] += f"{FLOW if inside else 0}\n"
            minutes += 0.5 / 60 if inside else 0
            t += timedelta(seconds=0.5)
        t += timedelta(seconds=5)  # the turn, not logged
    lines.append(f"{t:%Y-%m-%d %H:%M:%S.%f},abc,105.4,32.8,OFF,0\n")  # unreadable
    lines.append(",9.2,105.4,32.8,OFF,0\n")  # no time
    return "".join(lines), minutes


MAPPING = "lat=Lat,lon=Lng,time=Time,alt=Height (ft)*0.3048,spraying=Spray,flow=Flow (L/min)"


@pytest.fixture
def sprayer(factory, session):
    factory.drone(code="VN-AG-1", swath_m=SWATH)
    farmer = factory.farmer()
    poly = rectangle_lonlat(X0, 0.0, LENGTH, PASSES * SWATH)
    fields.create_field(
        session, feature=FieldCreate.model_validate(feature("GR-CSV", farmer.id, poly))
    )
    session.commit()


def test_a_mapped_export_measures_to_its_passes_and_names_its_bad_rows(
    tmp_path, db, session, sprayer
):
    text, minutes = _export()
    path = tmp_path / "export.csv"
    path.write_text(text, encoding="utf-8")
    url = db.url.render_as_string(hide_password=False)
    res = CliRunner().invoke(
        app,
        [
            "ingest-log",
            str(path),
            "--drone",
            "VN-AG-1",
            "--columns",
            MAPPING,
            "--database-url",
            url,
        ],
    )
    assert res.exit_code == 0, res.output
    n = PASSES * (int(LENGTH / 2) + 7)
    assert f"{n} points stored" in res.output and "2 rejected" in res.output
    assert "not read (1): column 'Lat': 'abc' is not a number" in res.output
    assert "not read (1): column 'Time': '' is not a time" in res.output

    session.expire_all()
    (m,) = session.execute(select(Mission)).scalars().all()
    assert (m.source, m.status, m.point_count) == ("csv", "complete", n)
    assert m.started_at == T0.replace(tzinfo=UTC) - timedelta(hours=7)
    truth_ha = PASSES * LENGTH * SWATH / 10_000
    assert m.sprayed_area_ha == pytest.approx(truth_ha, rel=0.02)
    assert m.treated_area_ha == pytest.approx(truth_ha, rel=0.02)
    assert m.applied_amount == pytest.approx(FLOW * minutes, rel=0.01)
    alt = session.execute(select(TelemetryPoint.alt_m).limit(1)).scalar_one()
    assert alt == pytest.approx(32.8 * 0.3048)

    again = CliRunner().invoke(
        app,
        [
            "ingest-log",
            str(path),
            "--drone",
            "VN-AG-1",
            "--columns",
            MAPPING,
            "--database-url",
            url,
        ],
    )
    assert f"0 points stored, {n} already known" in again.output


AIRDATA = (
    "time(millisecond),datetime(utc),latitude,longitude,height_above_takeoff(meters),"
    "speed(m/s),compass_heading(degrees),battery_percent\n"
    "0,2026-03-02 00:30:10,9.2301000,105.4301000,0.0,0.0,90.0,98\n"
    "400,2026-03-02 00:30:10,9.2301100,105.4301100,2.5,1.5,90.0,98\n"
    "1300,2026-03-02 00:30:11,9.2301200,105.4301200,5.0,3.0,91.5,97\n"
)


def test_the_saved_airdata_mapping_reads_its_documented_header(session, factory):
    factory.drone(code="DJI-1")
    result = ingest_log(
        session, data=AIRDATA.encode(), name="airdata.csv", drone="DJI-1", columns="airdata"
    )
    assert (result.stored, result.rejected) == (3, 0)
    t = TelemetryPoint.__table__.c
    rows = session.execute(
        select(t.ts, t.alt_m, t.speed_mps, t.heading_deg, t.battery_pct, t.spraying).order_by(t.ts)
    ).all()
    base = datetime(2026, 3, 2, 0, 30, 10, tzinfo=UTC)
    # Whole-second UTC times refined by the milliseconds since the log began.
    assert [r.ts for r in rows] == [base + timedelta(milliseconds=ms) for ms in (0, 400, 1300)]
    assert rows[2][1:] == (5.0, 3.0, 91.5, 97.0, False)
    (m,) = session.execute(select(Mission)).scalars().all()
    assert m.source == "csv" and m.sprayed_area_ha == 0.0


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        ("lat=Lat,lon=Lng", "--columns must map time"),
        ("lat=Lat,lon=Lng,time=Time,colour=Red", "unknown key 'colour'"),
        ("lat=Lat,lon=Lng,time=When", "has no column 'When'"),
        ("lat=Lat,lon=Lng,time=Time,tz=Saigon", "tz 'Saigon' is not an offset"),
    ],
)
def test_a_bad_mapping_is_a_clear_422(client, factory, admin_headers, columns, problem):
    factory.drone(code="VN-AG-2")
    r = client.post(
        "/api/v1/ingest/logs",
        headers=admin_headers,
        files={"file": ("export.csv", _export()[0].encode(), "text/csv")},
        data={"drone": "VN-AG-2", "columns": columns},
    )
    assert r.status_code == 422, r.text
    assert problem in r.json()["detail"]


def test_an_upload_with_a_mapping_goes_through_the_api(client, factory, admin_headers):
    factory.drone(code="VN-AG-3", swath_m=SWATH)
    r = client.post(
        "/api/v1/ingest/logs",
        headers=admin_headers,
        files={"file": ("export.csv", _export()[0].encode(), "text/csv")},
        data={"drone": "VN-AG-3", "columns": MAPPING},
    )
    assert r.status_code == 200, r.text
    assert r.json()["stored"] == PASSES * (int(LENGTH / 2) + 7) and r.json()["rejected"] == 2
