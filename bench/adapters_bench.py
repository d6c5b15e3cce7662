"""Each fleet adapter's rate (points/s) against the pipeline alone, in the same run.

Run with ``.venv/bin/python bench/adapters_bench.py [--repeat 3] [--scale 1]
[--sources tlog,taskdata,csv,kml]``.

For each source — a MAVLink ``.tlog`` (a sprayer's passes written by pymavlink), the
real ISO 11783-10 TaskData of ``tests/data/isoxml/TotalsTests`` (4,677 fixes, zipped),
a vendor's CSV read through a column mapping, and a vendor's exported KML track (a
``gx:Track``) — three timings, alternated run by run (``--sources`` picks some):

- ``translate``: the adapter alone, bytes to contract records;
- ``adapter + pipeline``: ``ingest_log`` on the file into a fresh SQLite database
  (translate, validate, batch, store, measure the missions);
- ``pipeline alone`` (the ceiling): the same points, already in the contract as JSON
  lines, through ``ingest_log`` into another fresh database.

Each is the best and the median of ``--repeat`` runs, in points per CPU second of this
process (SQLite works in it; wall time on a shared machine measures the neighbours).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path

import orjson
from sqlmodel import Session

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import mavflight  # noqa: E402
from tests.mqtt import lonlat  # noqa: E402
from traceability.db import make_engine, migrate  # noqa: E402
from traceability.ingest.logs import ingest_log, read_log  # noqa: E402
from traceability.ingest.sources.tracks import TrackOptions  # noqa: E402
from traceability.models import Drone  # noqa: E402

DRONE = "BENCH-1"
TOTALS = ROOT / "tests" / "data" / "isoxml" / "TotalsTests"
COLUMNS = "lat=Lat,lon=Lng,time=Time,spraying=Spray,flow=Flow (L/min)"
TRACK = TrackOptions(product="ANVIL-5SC", flow_lpm=2.4, swath_m=6.0)


def tlog(passes: int) -> bytes:
    """A sprayer's flight of ``passes`` passes (and their turns), as a telemetry log."""
    v = mavflight.Vehicle()
    said = [v.hb(False, 0), *v.params(), v.pump(False), *v.pos(-20, 0), v.hb(True, 3)]
    for k in range(passes):
        said += [*v.spray_pass(k), *v.turn(0.0, k * mavflight.SWATH_M)]
    said.append(v.hb(False, 6))
    return mavflight.tlog(iter(said))


def taskdata_zip() -> bytes:
    """The real TotalsTests set, zipped as a task controller exports it."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for p in sorted(TOTALS.iterdir()):
            z.write(p, f"TASKDATA/{p.name}")
    return buf.getvalue()


def vendor_csv(rows: int) -> bytes:
    """A vendor's export: 2 Hz fixes along 120 m passes, the spray on in the field."""
    lines = ["Time,Lat,Lng,Spray,Flow (L/min)"]
    t = datetime(2026, 3, 2, 7, 30)
    for i in range(rows):
        k, x = divmod(i, 70)
        lon, lat = lonlat(9000.0 + x * 2.0, 3.0 + 6.0 * k)
        on = 5 <= x < 65
        lines.append(f"{t:%Y-%m-%d %H:%M:%S.%f},{lat:.8f},{lon:.8f},{int(on)},{2.4 if on else 0}")
        t += timedelta(seconds=0.5)
    return ("\n".join(lines) + "\n").encode()


def kml_track(fixes: int) -> bytes:
    """A vendor's exported track: a KML ``gx:Track`` of 2 Hz fixes along 120 m passes."""
    t = datetime(2026, 3, 3, 0, 30)
    whens, coords = [], []
    for i in range(fixes):
        k, x = divmod(i, 70)
        lon, lat = lonlat(12000.0 + x * 2.0, 3.0 + 6.0 * k)
        whens.append(f"<when>{t:%Y-%m-%dT%H:%M:%S.%f}Z</when>")
        coords.append(f"<gx:coord>{lon:.8f} {lat:.8f} 3</gx:coord>")
        t += timedelta(seconds=0.5)
    return (
        '<kml xmlns="http://www.opengis.net/kml/2.2" xmlns:gx="http://www.google.com/kml/ext/2.2">'
        f"<Document><Placemark><gx:Track>{''.join(whens)}{''.join(coords)}</gx:Track>"
        "</Placemark></Document></kml>"
    ).encode()


def contract_lines(data: bytes, *, name: str, columns: str | None) -> bytes:
    """The adapter's records as the contract's JSON lines (what the pipeline alone reads)."""
    records = read_log(data, name=name, drone=DRONE, columns=columns, track=TRACK).records
    return b"\n".join(orjson.dumps(obj) for _, obj in records if isinstance(obj, dict))


def fresh_session(folder: Path, n: int) -> Session:
    """A session on a new, migrated SQLite file with the bench's drone."""
    engine = make_engine(f"sqlite:///{folder}/run{n}.db")
    migrate(engine)
    session = Session(engine)
    session.add(Drone(code=DRONE, swath_m=mavflight.SWATH_M))
    session.commit()
    return session


def translated(data: bytes, *, name: str, columns: str | None) -> int:
    """Translate, and count the points."""
    records = read_log(data, name=name, drone=DRONE, columns=columns, track=TRACK).records
    return sum(1 for _, o in records if isinstance(o, dict) and "seq" in o)


def stored(session: Session, data: bytes, *, name: str, columns: str | None) -> int:
    """Ingest through the pipeline, and count the points stored."""
    return ingest_log(
        session, data=data, name=name, drone=DRONE, columns=columns, track=TRACK
    ).stored


def timed(fn: Callable[[], int]) -> tuple[float, int]:
    """CPU seconds ``fn`` took in this process, and the points it reports.

    CPU time, not wall time: the machine is shared, and SQLite runs in this process, so
    the CPU time is all the work of a run and other processes' load does not count.
    """
    start = time.process_time()
    points = fn()
    return time.process_time() - start, points


def main() -> None:
    """Time every source, alternating the three timings."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=int, default=1, help="multiply the MAVLink and CSV sizes")
    ap.add_argument("--sources", default="tlog,taskdata,csv,kml", help="which, comma-separated")
    args = ap.parse_args()
    wanted = set(args.sources.split(","))
    sources = [
        ("mavlink .tlog", "flight.tlog", lambda: tlog(40 * args.scale), None, "tlog"),
        ("isoxml TaskData zip", "TotalsTests.zip", taskdata_zip, None, "taskdata"),
        ("csv --columns", "export.csv", lambda: vendor_csv(5000 * args.scale), COLUMNS, "csv"),
        ("kml gx:Track", "export.kml", lambda: kml_track(5000 * args.scale), None, "kml"),
    ]
    sources = [
        (label, name, make(), cols) for label, name, make, cols, key in sources if key in wanted
    ]
    folder = Path(tempfile.mkdtemp(prefix="agritrace-adapters-"))
    n = 0
    print(f"{'source':22} {'timing':20} {'points':>7} {'best pt/s':>10} {'median pt/s':>12}")
    for label, name, data, columns in sources:
        lines = contract_lines(data, name=name, columns=columns)
        rates: dict[str, list[float]] = {
            "translate": [],
            "adapter + pipeline": [],
            "pipeline alone": [],
        }
        points = {}
        for _ in range(args.repeat):
            secs, pts = timed(partial(translated, data, name=name, columns=columns))
            rates["translate"].append(pts / secs)
            points["translate"] = pts
            for key, payload, cols, fname in (
                ("adapter + pipeline", data, columns, name),
                ("pipeline alone", lines, None, "contract.jsonl"),
            ):
                n += 1
                with fresh_session(folder, n) as session:
                    secs, pts = timed(partial(stored, session, payload, name=fname, columns=cols))
                rates[key].append(pts / secs)
                points[key] = pts
        for key, values in rates.items():
            print(
                f"{label:22} {key:20} {points[key]:>7} {max(values):>10,.0f} "
                f"{statistics.median(values):>12,.0f}"
            )


if __name__ == "__main__":
    main()
