"""MAVLink: a drone's telemetry log (``.tlog``, ArduPilot dataflash ``.bin``) or live link,
translated into the contract by one :class:`Translator`.

What a MAVLink vehicle says, and what it becomes:

- a fix per ``GLOBAL_POSITION_INT`` (position, height above home, ground speed, heading),
  else per ``GPS_RAW_INT`` when the vehicle sends no fused position; while
  ``GPS_RAW_INT`` reports less than a 3D fix, fixes are not read (kept as rejects);
- the time of a fix is the vehicle's: its boot time (``time_boot_ms``) moved to UTC by
  ``SYSTEM_TIME``, so a fix heard twice, live and later from its log, is one point;
- the sprayer's state from the pump's output: the ``SERVO_OUTPUT_RAW`` channel whose
  ``SERVOn_FUNCTION`` parameter (``PARAM_VALUE``) is 22, ArduPilot's sprayer pump, on
  when its PWM is above the channel's ``SERVOn_MIN``; with the pump's full flow known
  (``pump_lpm``), the flow is that share of it. ``SPRAY_PUMP_RATE``, ``SPRAY_PUMP_MIN``
  and ``SPRAY_SPEED_MIN`` shape that output on the vehicle (ArduPilot's sprayer sets the
  pump's PWM from them and the ground speed), so the output already says what they did;
- a mission from arming to disarming (``HEARTBEAT``'s armed flag), or, for a vehicle that
  never reports arming, from entering AUTO to leaving it; a vehicle whose parameters name
  no pump output still flies its missions, whose start says ``"sprayer_state": "unknown"``
  (the mission is flagged ``sprayer_state_unknown``: its fixes' "not spraying" is not
  known).

A dataflash log says the same in its own messages (``GPS``, ``RCOU``, ``PARM``, ``EV``,
``MODE``); :func:`read_log` reads either.
"""

import math
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from traceability.errors import InvalidInput
from traceability.ingest.sources import Record, Translation, fix_seq, iso, mission_code
from traceability.models import MissionSource

PUMP_FUNCTION = 22  # ArduPilot's SERVOn_FUNCTION for the sprayer pump
ARMED = 128  # MAV_MODE_FLAG_SAFETY_ARMED
CUSTOM_MODE_ENABLED = 1  # MAV_MODE_FLAG_CUSTOM_MODE_ENABLED
COPTER_AUTO = 3  # ArduCopter's custom mode number of AUTO
GCS_TYPE = 6  # MAV_TYPE_GCS: a ground station's heartbeat says nothing of the vehicle
MIN_3D_FIX = 3  # GPS_FIX_TYPE_3D_FIX
#: SYSTEM_TIME's UNIX time before this is a clock the vehicle has not set yet.
_CLOCK_SET_US = 1_420_070_400_000_000  # 2015-01-01
#: Live: fixes held while waiting for the vehicle's clock, at most this many.
HOLD_MAX = 200


@dataclass(frozen=True, slots=True)
class Fix:
    """A position the vehicle reported, on its own clock."""

    boot_ms: int | None  # the vehicle's time since boot, when it says it
    heard_s: float  # when it was received (a log's timestamp, or the wall clock)
    lat: float
    lon: float
    alt_m: float | None
    speed_mps: float | None
    heading_deg: float | None


@dataclass
class Translator:
    """A MAVLink vehicle's messages in, contract records out; one per vehicle and link.

    Its state (armed, pump channel, open mission) survives a dropped link: feed the
    reconnected link's messages to the same translator and the mission goes on.
    """

    drone: str
    pump_lpm: float | None = None
    hold_max: int = HOLD_MAX
    params: dict[str, float] = field(default_factory=dict)
    armed: bool | None = None
    auto: bool = False
    fix_type: int | None = None
    pwm: dict[int, int] = field(default_factory=dict)
    boot_offset_ms: float | None = None
    mission: str | None = None
    last_ts: datetime | None = None
    last_key: int | None = None
    uses_global: bool = False
    held: list[Fix] = field(default_factory=list)
    unread: list[Record] = field(default_factory=list)
    seen_arming: bool = False
    first_ts: datetime | None = None
    start_sent: bool = False
    start_known: bool = False

    # ---------------------------------------------------------------- messages in

    def feed(self, msg: Any, heard_s: float) -> list[Record]:
        """The contract records one message makes (often none)."""
        kind = msg.get_type()
        handler = _HANDLERS.get(kind)
        return handler(self, msg, heard_s) if handler is not None else []

    def _heartbeat(self, msg: Any, heard_s: float) -> list[Record]:
        if msg.type == GCS_TYPE or msg.autopilot == 8:  # MAV_AUTOPILOT_INVALID
            return []
        armed = bool(msg.base_mode & ARMED)
        auto = bool(msg.base_mode & CUSTOM_MODE_ENABLED) and msg.custom_mode == COPTER_AUTO
        return self._state(armed=armed, auto=auto)

    def _state(self, *, armed: bool | None, auto: bool | None) -> list[Record]:
        out: list[Record] = []
        if armed is not None:
            self.seen_arming = self.seen_arming or armed
            if self.armed and not armed:
                out += self._end()
            self.armed = armed
        if auto is not None:
            if self.auto and not auto and not self.seen_arming:
                out += self._end()
            self.auto = auto
        return out

    def _param(self, msg: Any, heard_s: float) -> list[Record]:
        name = msg.param_id if isinstance(msg.param_id, str) else msg.param_id.decode()
        self.params[name.rstrip("\x00")] = float(msg.param_value)
        return []

    def _servo(self, msg: Any, heard_s: float) -> list[Record]:
        base = 8 * getattr(msg, "port", 0)
        for ch in range(1, 17):
            value = getattr(msg, f"servo{ch}_raw", None)
            if value is not None:
                self.pwm[base + ch] = value
        return []

    def _gps_raw(self, msg: Any, heard_s: float) -> list[Record]:
        self.fix_type = msg.fix_type
        if self.uses_global:
            return []
        return self._fix(
            Fix(
                boot_ms=None if msg.time_usec > _CLOCK_SET_US else msg.time_usec // 1000,
                heard_s=msg.time_usec / 1e6 if msg.time_usec > _CLOCK_SET_US else heard_s,
                lat=msg.lat * 1e-7,
                lon=msg.lon * 1e-7,
                alt_m=None,
                speed_mps=None if msg.vel == 65535 else msg.vel / 100,
                heading_deg=None if msg.cog == 65535 else msg.cog / 100,
            )
        )

    def _global(self, msg: Any, heard_s: float) -> list[Record]:
        self.uses_global = True
        return self._fix(
            Fix(
                boot_ms=msg.time_boot_ms,
                heard_s=heard_s,
                lat=msg.lat * 1e-7,
                lon=msg.lon * 1e-7,
                alt_m=msg.relative_alt / 1000,
                speed_mps=math.hypot(msg.vx, msg.vy) / 100,
                heading_deg=None if msg.hdg == 65535 else msg.hdg / 100,
            )
        )

    def _system_time(self, msg: Any, heard_s: float) -> list[Record]:
        if msg.time_unix_usec < _CLOCK_SET_US:
            return []
        offset = msg.time_unix_usec / 1000 - msg.time_boot_ms
        # The first offset is kept: a clock that drifts a few ms must not move fixes
        # already keyed (a replay would key them otherwise).
        if self.boot_offset_ms is None or abs(offset - self.boot_offset_ms) > 60_000:
            self.boot_offset_ms = offset
        held, self.held = self.held, []
        out: list[Record] = []
        for fix in held:
            out += self._fix(fix)
        return out

    # ---------------------------------------------------------------- fixes and missions

    def _time(self, fix: Fix) -> datetime | None:
        if fix.boot_ms is None:
            return datetime.fromtimestamp(fix.heard_s, UTC)
        if self.boot_offset_ms is None:
            return None
        return datetime.fromtimestamp((self.boot_offset_ms + fix.boot_ms) / 1000, UTC)

    def _fix(self, fix: Fix) -> list[Record]:
        if not self._flying():
            return []
        ts = self._time(fix)
        if ts is None:
            if len(self.held) < self.hold_max:
                self.held.append(fix)
                return []
            # The vehicle never said its clock: its fixes keep the time they were heard.
            self.boot_offset_ms = fix.heard_s * 1000 - fix.boot_ms
            held, self.held = self.held, []
            return [r for f in [*held, fix] for r in self._fix(f)]
        key = fix_seq(ts)
        if self.last_key is not None and key <= self.last_key:
            return []  # heard already (one position sent on two links)
        where = f"fix at {iso(ts)}"
        if self.fix_type is not None and self.fix_type < MIN_3D_FIX:
            self.unread.append((where, f"GNSS fix type {self.fix_type}: not a 3D fix"))
            return [self.unread[-1]]
        if self.mission is None:
            self.mission = mission_code(self.drone, ts)
            self.first_ts, self.start_sent = ts, False
        self.last_ts, self.last_key = ts, key
        return [*self._start(), (where, self._point(fix, ts, key))]

    def _flying(self) -> bool:
        # A vehicle that has reported arming flies while armed; one whose armed flag is
        # never set (or never said) flies while in AUTO.
        return bool(self.armed) if self.seen_arming else self.auto

    def _start(self) -> list[Record]:
        """The mission's start event, sent with its first fix.

        A vehicle whose parameters (not yet heard, or none) name no pump output starts
        its mission all the same, saying its sprayer's state is unknown; once the pump's
        output is known, the start is said again without it (the contract takes a
        repeated start as an update, and a start after its points).
        """
        if self.mission is None or self.first_ts is None:
            return []
        known = self.pump_channel() is not None
        if self.start_sent and (known == self.start_known or not known):
            return []
        self.start_sent, self.start_known = True, known
        start = {
            "event": "start",
            "drone_id": self.drone,
            "mission_id": self.mission,
            "ts": iso(self.first_ts),
            "type": "spray",
            "source": MissionSource.mavlink.value,
        }
        if not known:
            start["sprayer_state"] = "unknown"
        return [(f"{self.mission} start", start)]

    def _point(self, fix: Fix, ts: datetime, key: int) -> dict[str, Any]:
        share = self.pump_share()
        point: dict[str, Any] = {
            "drone_id": self.drone,
            "mission_id": self.mission,
            "seq": key,
            "ts": iso(ts),
            "lat": fix.lat,
            "lon": fix.lon,
            "spraying": bool(share and share > 0.01),
        }
        if fix.alt_m is not None:
            point["alt_m"] = fix.alt_m
        if fix.speed_mps is not None and fix.speed_mps <= 200:
            point["speed_mps"] = fix.speed_mps
        if fix.heading_deg is not None:
            point["heading_deg"] = fix.heading_deg
        if self.pump_lpm and share is not None:
            point["flow_lpm"] = round(self.pump_lpm * share, 4)
        return point

    def _end(self) -> list[Record]:
        if self.mission is None or self.last_ts is None:
            self.mission = None
            return []
        started = self._start()
        end = {
            "event": "end",
            "drone_id": self.drone,
            "mission_id": self.mission,
            "ts": iso(self.last_ts),
        }
        self.mission = None
        return [*started, (f"{end['mission_id']} end", end)]

    def close(self) -> list[Record]:
        """End the open mission (a log that stops in flight), and say what was not read."""
        out = self._end()
        if self.pump_channel() is None:
            out.append(
                (
                    "parameters",
                    "no SERVOn_FUNCTION = 22 (sprayer pump) among the parameters: the "
                    "spraying state could not be read: its missions say the sprayer's state is "
                    "unknown",
                )
            )
        return out

    def pump_channel(self) -> int | None:
        """The servo output that drives the sprayer pump, if the parameters say."""
        for n in range(1, 33):
            if self.params.get(f"SERVO{n}_FUNCTION") == PUMP_FUNCTION:
                return n
        return None

    def pump_share(self) -> float | None:
        """The pump's output as a share of its range (0 off, 1 full), if known."""
        ch = self.pump_channel()
        if ch is None or ch not in self.pwm:
            return None
        lo = self.params.get(f"SERVO{ch}_MIN", 1100.0)
        hi = self.params.get(f"SERVO{ch}_MAX", 1900.0)
        if hi <= lo:
            return None
        return min(max((self.pwm[ch] - lo) / (hi - lo), 0.0), 1.0)


_HANDLERS = {
    "HEARTBEAT": Translator._heartbeat,
    "PARAM_VALUE": Translator._param,
    "SERVO_OUTPUT_RAW": Translator._servo,
    "GPS_RAW_INT": Translator._gps_raw,
    "GLOBAL_POSITION_INT": Translator._global,
    "SYSTEM_TIME": Translator._system_time,
}


# ---------------------------------------------------------------- logs


def read_log(
    data: bytes, *, name: str, drone: str | None, pump_lpm: float | None = None
) -> Translation:
    """Translate a MAVLink telemetry log or an ArduPilot dataflash log."""
    if not drone:
        raise InvalidInput(
            f"'{name}' is a MAVLink log: name its drone (--drone CODE, or the upload's drone)"
        )
    out = Translation(origin=MissionSource.mavlink)
    messages = list(_messages(data, name=name))
    translator = Translator(drone=drone, pump_lpm=pump_lpm)
    if messages and messages[0][0] == "dataflash":
        _dataflash(translator, (m for _, m in messages), out)
    else:
        # The vehicle's clock, from its first SYSTEM_TIME, for the fixes before it too.
        for _, msg in messages:
            if msg.get_type() == "SYSTEM_TIME" and msg.time_unix_usec >= _CLOCK_SET_US:
                translator.boot_offset_ms = msg.time_unix_usec / 1000 - msg.time_boot_ms
                break
        bad: list[Any] = []
        for _, msg in messages:
            if msg.get_type() == "BAD_DATA":
                bad.append(msg)
                continue
            _bad_run(out, bad, name)
            out.extend(translator.feed(msg, getattr(msg, "_timestamp", 0.0)))
        _bad_run(out, bad, name)
    out.extend(translator.close())
    return out


def _bad_run(out: Translation, bad: list[Any], name: str) -> None:
    """One reject for a run of bytes that are not MAVLink messages (then forgotten)."""
    if bad:
        why = str(getattr(bad[0], "reason", "unreadable"))[:200]
        out.unread(name, f"data that is not MAVLink messages ({len(bad)} pieces: {why})")
        bad.clear()


def _messages(data: bytes, *, name: str) -> Iterator[tuple[str, Any]]:
    """Every message of a log file, through pymavlink's readers."""
    from pymavlink import mavutil

    suffix = ".bin" if name.lower().endswith(".bin") else ".tlog"
    fd, path = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            conn = mavutil.mavlink_connection(path, dialect="ardupilotmega", robust_parsing=True)
        except Exception as exc:  # pymavlink raises bare Exceptions on unknown formats
            raise InvalidInput(f"'{name}' is not a MAVLink log: {exc}") from exc
        kind = "dataflash" if suffix == ".bin" else "tlog"
        try:
            while True:
                msg = conn.recv_match()
                if msg is None:
                    break
                yield kind, msg
        finally:
            conn.close()
    finally:
        os.unlink(path)


def _dataflash(translator: Translator, messages: Iterable[Any], out: Translation) -> None:
    """A dataflash log's messages, said as their telemetry counterparts."""
    for msg in messages:
        kind = msg.get_type()
        if kind == "PARM":
            translator.params[msg.Name] = float(msg.Value)
        elif kind == "RCOU":
            for ch in range(1, 33):
                value = getattr(msg, f"C{ch}", None)
                if value is not None:
                    translator.pwm[ch] = value
        elif kind == "EV" and msg.Id in (10, 11):  # ARMED, DISARMED
            out.extend(translator._state(armed=msg.Id == 10, auto=None))
        elif kind == "MODE":
            out.extend(translator._state(armed=None, auto=msg.Mode == COPTER_AUTO))
        elif kind == "GPS" and getattr(msg, "I", 0) == 0:
            translator.fix_type = msg.Status
            # GPS week and milliseconds: UTC, with the leap seconds GPS time counts.
            unix = 315_964_800 + msg.GWk * 604_800 + msg.GMS / 1000 - 18
            out.extend(
                translator._fix(
                    Fix(
                        boot_ms=None,
                        heard_s=unix,
                        lat=msg.Lat,
                        lon=msg.Lng,
                        alt_m=None,
                        speed_mps=msg.Spd,
                        heading_deg=msg.GCrs,
                    )
                )
            )
