"""``agritrace mavlink-bridge``: one MAVLink vehicle's live link, published as the contract.

The bridge listens to (or dials) the vehicle with pymavlink (``udpin:HOST:PORT``,
``udpout:HOST:PORT``, ``tcp:HOST:PORT``, a serial device such as ``/dev/ttyUSB0`` with
``--baud``), translates what it says with
:class:`~traceability.ingest.sources.mavlink.Translator` — the same translation as a
``.tlog`` uploaded later — and publishes the records on the drone's MQTT topics with
QoS 1, as a drone speaking the contract would.

Exactly once: a point's ``seq`` is its time on the vehicle's clock in milliseconds, so a
fix heard twice (a link that drops and comes back, a stream replayed, the log uploaded
after the live flight) is the same ``(drone, seq)``, which the ingester stores once. The
translator outlives a dropped link: the mission goes on under the same id after a
reconnection. What the bridge cannot read (a fix without a 3D fix, no pump parameter) is
logged and counted.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any

from drone_ingest.publisher import DronePublisher
from traceability.ingest.sources.mavlink import Translator

log = logging.getLogger(__name__)

#: A link silent this long is taken as dropped: a TCP or serial link is dialled again.
LINK_TIMEOUT_S = 5.0
_GCS_HEARTBEAT_S = 1.0
#: The receive buffer asked for a UDP link (the kernel caps it at net.core.rmem_max).
UDP_BUFFER_BYTES = 4 * 1024 * 1024


@dataclass
class BridgeCounts:
    """What a bridge has done."""

    messages: int = 0
    points: int = 0
    events: int = 0
    unread: int = 0
    links: int = 0  # connections opened (1 + reconnections)


class MavlinkBridge:
    """One vehicle's link to the broker.

    Parameters
    ----------
    connect : str
        pymavlink connection string: ``udpin:0.0.0.0:14550``, ``udpout:…``, ``tcp:…``, a
        serial device.
    drone : str
        The drone's code: its topics' second level.
    mqtt_url, prefix : str
        Where to publish, and the topics' first level.
    pump_lpm : float, optional
        The sprayer pump's flow at full output, L/min: the flow of each fix.
    """

    def __init__(
        self,
        *,
        connect: str,
        drone: str,
        mqtt_url: str,
        prefix: str,
        pump_lpm: float | None = None,
        baud: int = 57600,
    ) -> None:
        self.connect = connect
        self.baud = baud
        self.translator = Translator(drone=drone, pump_lpm=pump_lpm)
        self.publisher = DronePublisher(mqtt_url, drone_id=drone, prefix=prefix)
        self.counts = BridgeCounts()
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask :meth:`run` to return."""
        self._stop.set()

    def run(self) -> BridgeCounts:
        """Bridge until :meth:`stop`: (re)open the link, translate, publish."""
        self.publisher.connect()
        try:
            while not self._stop.is_set():
                link = self._open()
                if link is None:
                    self._stop.wait(1.0)
                    continue
                try:
                    self._pump(link)
                finally:
                    link.close()
        finally:
            self.publisher.close()
        return self.counts

    def _open(self) -> Any:
        from pymavlink import mavutil

        try:
            link = mavutil.mavlink_connection(
                self.connect,
                baud=self.baud,
                source_system=255,
                source_component=190,
                dialect="ardupilotmega",
                # This bridge dials again itself: pymavlink's own re-dialling keeps
                # waiting on the closed socket.
                autoreconnect=False,
            )
        except OSError as exc:
            log.warning("cannot open %s: %s; trying again", self.connect, exc)
            return None
        port = getattr(link, "port", None)
        if isinstance(port, socket.socket) and port.type == socket.SOCK_DGRAM:
            # A burst of datagrams while this process is busy must wait in the socket,
            # not be dropped: the default buffer holds a couple of hundred.
            with contextlib.suppress(OSError):
                port.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, UDP_BUFFER_BYTES)
        self.counts.links += 1
        log.info("listening to %s for drone %s", self.connect, self.translator.drone)
        return link

    def _pump(self, link: Any) -> None:
        """Read one link until it is silent for :data:`LINK_TIMEOUT_S` (or stopped)."""
        heard = time.monotonic()
        said = 0.0
        asked = False
        while not self._stop.is_set():
            now = time.monotonic()
            if now - said >= _GCS_HEARTBEAT_S:
                # A ground station's heartbeat: autopilots stream to links that send one.
                _quietly(link.mav.heartbeat_send, 6, 8, 0, 0, 0)
                said = now
            try:
                msg = link.recv_match(blocking=False)
            except OSError as exc:  # a TCP link reset by its peer
                log.warning("link %s lost (%s): dialling again", self.connect, exc)
                return
            if msg is None:
                if _closed(link):
                    log.warning("link %s closed by the vehicle: dialling again", self.connect)
                    return
                silent = time.monotonic() - heard
                if silent > LINK_TIMEOUT_S and not self.connect.startswith("udpin"):
                    log.warning("link %s silent for %.0f s: dialling again", self.connect, silent)
                    return
                link.select(0.2)
                continue
            heard = time.monotonic()
            if msg.get_type() == "BAD_DATA":
                continue
            if not asked and self.translator.pump_channel() is None:
                # The parameters say which output drives the pump.
                _quietly(
                    link.mav.param_request_list_send, link.target_system, link.target_component
                )
                asked = True
            self.counts.messages += 1
            self._publish(self.translator.feed(msg, time.time()))

    def _publish(self, records: list) -> None:
        for where, obj in records:
            if isinstance(obj, str):
                self.counts.unread += 1
                log.warning("not read: %s: %s", where, obj)
                continue
            payload = {k: v for k, v in obj.items() if k != "drone_id"}
            if "event" in payload:
                self.publisher.publish("mission", payload)
                self.counts.events += 1
            else:
                self.publisher.publish("telemetry", payload)
                self.counts.points += 1


def _closed(link: Any) -> bool:
    """Whether a stream link's peer has closed it (a datagram or serial link never is)."""
    port = getattr(link, "port", None)
    if not isinstance(port, socket.socket) or port.type != socket.SOCK_STREAM:
        return False
    try:
        return port.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True


def _quietly(send, *args) -> None:
    """Send to the vehicle; a link that cannot send yet (udpin before a peer) is fine."""
    try:
        send(*args)
    except (OSError, AttributeError, TypeError) as exc:
        log.debug("could not send to the vehicle: %s", exc)
