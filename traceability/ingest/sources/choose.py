"""Which adapter reads a log: chosen by its name, its first bytes and a column mapping.

Kept apart from the package's ``__init__``, which holds what every adapter shares, so that the
adapters import the package and the package imports none of them.
"""

from typing import TYPE_CHECKING

from traceability.ingest.sources import Translation

if TYPE_CHECKING:
    from traceability.ingest.sources.tracks import TrackOptions


def translate(
    data: bytes,
    *,
    name: str,
    drone: str | None = None,
    columns: str | None = None,
    pump_lpm: float | None = None,
    track: "TrackOptions | None" = None,
) -> Translation | None:
    """The records of a log in another fleet's format, or None for agritrace's own.

    ``.kml``, ``.kmz`` or ``.geojson`` is a vendor's exported track (read with ``track``),
    another zip a TaskData set, ``.tlog`` or ``.bin`` a MAVLink log, and a CSV read with
    ``columns`` a vendor's flight records.
    """
    lower = name.lower()
    # Each adapter is imported when a log needs it: pymavlink and the ISOXML models are
    # large, and a contract log needs neither.
    if lower.endswith((".kml", ".kmz", ".geojson")):
        from traceability.ingest.sources import tracks

        return tracks.read_track(data, name=name, drone=drone, options=track)
    if data[:4] == b"PK\x03\x04":
        from traceability.ingest.sources import isoxml

        return isoxml.read_taskdata(isoxml.taskdata_files(data), drone=drone)
    if lower.endswith((".tlog", ".bin")):
        from traceability.ingest.sources import mavlink

        return mavlink.read_log(data, name=name, drone=drone, pump_lpm=pump_lpm)
    if columns is not None:
        from traceability.ingest.sources import columns as mapped

        return mapped.read_csv(data, name=name, columns=columns, drone=drone)
    return None
