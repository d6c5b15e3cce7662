"""A sprayer's flight over a rectangle field, said in MAVLink by pymavlink's own encoder.

Passes ``SWATH_M`` apart cover the field edge to edge, the pump on exactly from one edge
to the other: the area sprayed is, analytically, ``PASSES x LENGTH_M x SWATH_M``.
"""

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime

from pymavlink.dialects.v20 import ardupilotmega as mav2
from pyproj import Transformer

from tests.factories import ORIGIN_E, ORIGIN_N

_TO_WGS84 = Transformer.from_crs(32648, 4326, always_xy=True)
LENGTH_M = 100.0
PASSES = 8
SWATH_M = 5.0
WIDTH_M = PASSES * SWATH_M
FIELD_X0 = 3000.0  # the field's corner, metres east of the factories' origin
STEP_S = 0.2  # a fix every 0.2 s at 5 m/s: one metre apart
BOOTED = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)  # when the vehicle booted (its clock)
TRUTH_M2 = PASSES * LENGTH_M * SWATH_M
PUMP_CH = 9


@dataclass
class Said:
    """One message and the vehicle's time it is said at (seconds since boot)."""

    t: float
    msg: object


def _lonlat(x: float, y: float) -> tuple[float, float]:
    return _TO_WGS84.transform(ORIGIN_E + FIELD_X0 + x, ORIGIN_N + y)


class Vehicle:
    """What the vehicle says, on its clock ``t`` (seconds since boot)."""

    def __init__(self) -> None:
        self.mav = mav2.MAVLink(None, srcSystem=1, srcComponent=1)
        self.t = 60.0
        self.fix_type = 3

    def hb(self, armed: bool, mode: int) -> Said:
        base = 1 | (128 if armed else 0)  # custom mode enabled, armed
        return Said(self.t, self.mav.heartbeat_encode(2, 3, base, mode, 4))  # quad, ArduPilot

    def pos(self, x: float, y: float) -> list[Said]:
        """A fix (and the GNSS report, and once a second the vehicle's UTC clock), then on."""
        lon, lat = _lonlat(x, y)
        ms = round(self.t * 1000)
        lat7, lon7 = round(lat * 1e7), round(lon * 1e7)
        out = [
            Said(
                self.t,
                self.mav.global_position_int_encode(ms, lat7, lon7, 12000, 3000, 500, 0, 0, 9000),
            ),
            Said(
                self.t,
                self.mav.gps_raw_int_encode(
                    ms * 1000, self.fix_type, lat7, lon7, 12000, 80, 100, 500, 9000, 14
                ),
            ),
        ]
        if ms % 1000 == 0:
            unix_us = round((BOOTED.timestamp() + self.t) * 1e6)
            out.append(Said(self.t, self.mav.system_time_encode(unix_us, ms)))
        self.t += STEP_S
        return out

    def pump(self, on: bool) -> Said:
        pwm = [1500] * 16
        pwm[PUMP_CH - 1] = 1800 if on else 1000
        return Said(self.t, self.mav.servo_output_raw_encode(round(self.t * 1e6) % 2**32, 0, *pwm))

    def params(self) -> list[Said]:
        values = (
            (f"SERVO{PUMP_CH}_FUNCTION", 22),
            (f"SERVO{PUMP_CH}_MIN", 1000),
            (f"SERVO{PUMP_CH}_MAX", 2000),
            ("SPRAY_ENABLE", 1),
            ("SPRAY_PUMP_RATE", 10),
        )
        return [
            Said(self.t, self.mav.param_value_encode(n.encode(), v, 9, 600, 0)) for n, v in values
        ]

    def spray_pass(self, k: int) -> Iterator[Said]:
        """Pass ``k``: from 5 m before the field to 5 m past it, the pump on edge to edge."""
        y = SWATH_M / 2 + k * SWATH_M
        xs = [float(x) for x in range(-5, int(LENGTH_M) + 6)]
        edges = (0.0, LENGTH_M)
        if k % 2:
            xs, edges = [LENGTH_M - x for x in xs], (LENGTH_M, 0.0)
        for x in xs:
            if x in edges:
                yield self.pump(x == edges[0])
            yield from self.pos(x, y)

    def turn(self, x: float, y: float) -> Iterator[Said]:
        for j in range(1, 5):
            yield from self.pos(x, y + j * SWATH_M / 5)


def flight(*, lost_fix_turn: int | None = 2) -> Iterator[Said]:
    """The messages of the flight, in order (a GCS heartbeat among them).

    In the turn after pass ``lost_fix_turn`` the GNSS reports a 2D fix only.
    """
    v = Vehicle()
    yield v.hb(False, 0)
    yield Said(v.t, v.mav.heartbeat_encode(6, 8, 0, 0, 0))  # a ground station
    yield from v.params()
    yield v.pump(False)
    yield from v.pos(-20, 0)  # on the ground, disarmed: no mission yet
    yield v.hb(True, 5)  # armed in LOITER
    yield v.hb(True, 3)  # AUTO
    for k in range(PASSES):
        yield from v.spray_pass(k)
        v.fix_type = 2 if k == lost_fix_turn else 3
        yield from v.turn(-5.0 if k % 2 else LENGTH_M + 5, SWATH_M / 2 + k * SWATH_M)
        v.fix_type = 3
    yield v.hb(True, 6)  # RTL
    yield v.hb(False, 6)  # landed, disarmed
    yield from v.pos(-20, 0)  # after the flight: not the mission's


#: Fixes the vehicle reports while armed: each pass 5 m either side of the field, and a
#: turn of 4 fixes after it.
FIXES_ARMED = PASSES * (int(LENGTH_M) + 11 + 4)
#: Of those, the ones said with a 2D fix only (the turn after pass ``lost_fix_turn``).
FIXES_2D = 4


def tlog(messages: Iterator[Said]) -> bytes:
    """A telemetry log: each message after its 64-bit big-endian UNIX time in microseconds
    (as ground stations write them), received 0.3 s after the vehicle said it."""
    mav = mav2.MAVLink(None, srcSystem=1, srcComponent=1)
    out = bytearray()
    for said in messages:
        heard = BOOTED.timestamp() + said.t + 0.3
        out += struct.pack(">Q", round(heard * 1e6)) + said.msg.pack(mav)
    return bytes(out)


# ---------------------------------------------------------------- the same flight as a
# dataflash log (ArduPilot's on-board .bin), written here after its documented layout:
# each message is 0xA3 0x95, its type, then its fields packed little-endian as its FMT
# message says (pymavlink's DFReader reads it back).

_DF_FORMATS = {
    # name: (type, format, columns)
    "PARM": (64, "QNf", "TimeUS,Name,Value"),
    "GPS": (65, "QBBIHLLff", "TimeUS,I,Status,GMS,GWk,Lat,Lng,Spd,GCrs"),
    "RCOU": (66, "Q" + "H" * 14, "TimeUS," + ",".join(f"C{i}" for i in range(1, 15))),
    "EV": (67, "QB", "TimeUS,Id"),
    "MODE": (68, "QBB", "TimeUS,Mode,ModeNum"),
}
_DF_STRUCT = {
    "Q": "Q",
    "B": "B",
    "I": "I",
    "H": "H",
    "L": "i",
    "f": "f",
    "N": "16s",
    "n": "4s",
    "Z": "64s",
}
GPS_EPOCH_UNIX = 315_964_800
LEAP_S = 18  # GPS time runs 18 s ahead of UTC since 2017


def _df(kind: int, fmt: str, *values) -> bytes:
    return bytes((0xA3, 0x95, kind)) + struct.pack(
        "<" + "".join(_DF_STRUCT[c] for c in fmt), *values
    )


def _fmt(kind: int, name: str, fmt: str, columns: str) -> bytes:
    length = 3 + struct.calcsize("<" + "".join(_DF_STRUCT[c] for c in fmt))
    return _df(128, "BBnNZ", kind, length, name.encode(), fmt.encode(), columns.encode())


def dataflash(messages: Iterator[Said], *, gps_lag_s: float = 0.0) -> bytes:
    """The flight's messages as an ArduPilot dataflash log.

    ``gps_lag_s``: the receiver's fixes are logged at instants this much after the
    ground station's fused positions (as a real autopilot's are: its own instants).
    """
    out = bytearray(_fmt(128, "FMT", "BBnNZ", "Type,Length,Name,Format,Columns"))
    for name, (kind, fmt, cols) in _DF_FORMATS.items():
        out += _fmt(kind, name, fmt, cols)
    armed, mode, fix = False, None, 3
    for said in messages:
        msg, us = said.msg, round(said.t * 1e6)
        kind = msg.get_type()
        if kind == "PARAM_VALUE":
            out += _df(64, "QNf", us, msg.param_id.encode(), msg.param_value)
        elif kind == "SERVO_OUTPUT_RAW":
            pwm = [getattr(msg, f"servo{i}_raw") for i in range(1, 15)]
            out += _df(66, "Q" + "H" * 14, us, *pwm)
        elif kind == "HEARTBEAT" and msg.type != 6:
            if bool(msg.base_mode & 128) != armed:
                armed = not armed
                out += _df(67, "QB", us, 10 if armed else 11)
            if msg.custom_mode != mode:
                mode = msg.custom_mode
                out += _df(68, "QBB", us, mode, mode)
        elif kind == "GPS_RAW_INT":
            fix = msg.fix_type
        elif kind == "GLOBAL_POSITION_INT":
            gps = BOOTED.timestamp() + said.t + gps_lag_s - GPS_EPOCH_UNIX + LEAP_S
            week, ms = divmod(round(gps * 1000), 604_800_000)
            out += _df(65, "QBBIHLLff", us, 0, fix, ms, week, msg.lat, msg.lon, 5.0, 90.0)
    return bytes(out)


def auto_only(said: Iterator[Said]) -> Iterator[Said]:
    """The flight from a vehicle that never sets its armed flag: its heartbeats say only
    its mode (the mission is AUTO's, from entering it to leaving it for RTL)."""
    mav = mav2.MAVLink(None, srcSystem=1, srcComponent=1)
    for s in said:
        msg = s.msg
        if msg.get_type() == "HEARTBEAT" and msg.type != 6:
            msg = mav.heartbeat_encode(
                msg.type, msg.autopilot, msg.base_mode & ~128, msg.custom_mode, msg.system_status
            )
        yield Said(s.t, msg)


def gps_raw_only(said: Iterator[Said]) -> Iterator[Said]:
    """The flight from a vehicle that sends no fused position (``GLOBAL_POSITION_INT``),
    only its GNSS receiver's ``GPS_RAW_INT``."""
    return (s for s in said if s.msg.get_type() != "GLOBAL_POSITION_INT")
