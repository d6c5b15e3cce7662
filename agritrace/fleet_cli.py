"""Commands that bring flight records in: logs of any fleet's format, a MAVLink link.

Heavy imports happen inside each command so that ``agritrace --help`` stays instant.
"""

from pathlib import Path
from typing import Annotated

import typer

from agritrace.database import DatabaseUrl, engine_for


def select_database(url: str | None) -> None:
    """Hand ``--database-url`` over as the setting it overrides (the ingest code reads the
    process's settings)."""
    import os

    from traceability.config import get_settings

    if url:
        os.environ["AGRITRACE_DATABASE_URL"] = url
        get_settings.cache_clear()


def ingest_log(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True,
            help="a flight log: agritrace's CSV or JSON lines, a MAVLink .tlog or .bin, an "
            "ISO 11783-10 TaskData folder or zip, a vendor's CSV read with --columns, or a "
            "vendor's exported track (.kml, .kmz, .geojson)",
        ),
    ],
    drone: Annotated[
        str | None,
        typer.Option(help="drone code, when the log does not name it (TaskData: the device's)"),
    ] = None,
    columns: Annotated[
        str | None,
        typer.Option(
            help="a vendor CSV's columns: lat=COL,lon=COL,time=COL,spraying=COL,flow=COL,... "
            "or a saved mapping's name (see README)"
        ),
    ] = None,
    pump_lpm: Annotated[
        float | None,
        typer.Option(help="MAVLink: the sprayer pump's flow at full output, L/min"),
    ] = None,
    product: Annotated[
        str | None, typer.Option(help="KML/GeoJSON track: the product's code (catalogue)")
    ] = None,
    flow_lpm: Annotated[
        float | None,
        typer.Option(min=0, help="KML/GeoJSON track: the flow while spraying, L/min"),
    ] = None,
    flow_kgpm: Annotated[
        float | None,
        typer.Option(min=0, help="KML/GeoJSON track: granules spread, kg/min"),
    ] = None,
    swath: Annotated[
        float | None, typer.Option(min=0.1, help="KML/GeoJSON track: the swath, metres")
    ] = None,
    mission_type: Annotated[
        str, typer.Option(help="KML/GeoJSON track: spray, fertilize or seed")
    ] = "spray",
    spraying: Annotated[
        bool,
        typer.Option(help="KML/GeoJSON track: whether the track is the applicator's work"),
    ] = True,
    database_url: DatabaseUrl = None,
) -> None:
    """Ingest a flight log recorded without coverage, through the same pipeline."""
    from traceability.db import migrate
    from traceability.errors import AgritraceError
    from traceability.ingest.logs import ingest_log_file
    from traceability.ingest.sources.tracks import TrackOptions
    from traceability.models import MissionType

    try:
        kind = MissionType(mission_type)
    except ValueError as exc:
        raise typer.BadParameter(
            f"--mission-type: '{mission_type}' is not spray, fertilize or seed"
        ) from exc
    track = TrackOptions(
        product=product,
        flow_lpm=flow_lpm,
        flow_kgpm=flow_kgpm,
        swath_m=swath,
        type=kind,
        spraying=spraying,
    )
    engine = engine_for(database_url)
    migrate(engine)
    try:
        ingest_log_file(
            file, drone=drone, columns=columns, pump_lpm=pump_lpm, track=track, engine=engine
        )
    except AgritraceError as exc:
        typer.secho(f"nothing ingested: {exc}", err=True, fg="red")
        raise typer.Exit(1) from exc


def mavlink_bridge(
    connect: Annotated[
        str,
        typer.Option(
            help="the vehicle's link, as pymavlink names it: udpin:0.0.0.0:14550, "
            "udpout:HOST:PORT, tcp:HOST:PORT or a serial device (/dev/ttyUSB0)"
        ),
    ],
    drone: Annotated[str, typer.Option(help="the drone's code (register it first)")],
    mqtt_url: Annotated[str | None, typer.Option(help="broker, default AGRITRACE_MQTT_URL")] = None,
    pump_lpm: Annotated[
        float | None,
        typer.Option(help="the sprayer pump's flow at full output, L/min (gives each fix a flow)"),
    ] = None,
    baud: Annotated[int, typer.Option(help="serial links: bits per second")] = 57600,
) -> None:
    """Publish one MAVLink vehicle's live telemetry as the MQTT contract (until Ctrl-C)."""
    import logging
    import signal

    from drone_ingest.mavlink_bridge import MavlinkBridge
    from drone_ingest.publisher import PublishError
    from traceability.config import get_settings

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = get_settings()
    url = mqtt_url or settings.mqtt_url
    if not url:
        raise typer.BadParameter("no broker: give --mqtt-url or set AGRITRACE_MQTT_URL")
    bridge = MavlinkBridge(
        connect=connect,
        drone=drone,
        mqtt_url=url,
        prefix=settings.topic_prefix,
        pump_lpm=pump_lpm,
        baud=baud,
    )
    signal.signal(signal.SIGTERM, lambda *_: bridge.stop())
    try:
        counts = bridge.run()
    except PublishError as exc:
        typer.secho(str(exc), err=True, fg="red")
        raise typer.Exit(1) from exc
    except KeyboardInterrupt:
        bridge.stop()
        counts = bridge.counts
    typer.echo(
        f"{counts.messages} MAVLink messages, {counts.points} points and {counts.events} "
        f"mission events published, {counts.unread} not read, {counts.links} link(s)"
    )
