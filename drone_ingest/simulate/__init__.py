"""A simulated fleet: drones flying lawnmower missions over the fixture fields.

Two layers:

- **Pure flight model** (no broker, no database), used by tests and benches:
  :func:`fly_mission` plans and flies one mission over one or more field polygons and
  returns its ``start`` / telemetry / ``end`` payloads exactly as a drone publishes them;
  :func:`flight_points` is the telemetry alone for one field; :func:`mission_deliveries`
  turns a mission into what reaches the broker, when (link losses delivered later as one
  JSON array, occasional duplicate publishes).
- :func:`run_simulation`, behind ``agritrace simulate`` and ``agritrace demo``: many
  drones, paced in (sped-up) real time, published over MQTT through
  :mod:`drone_ingest.publisher`.

How a mission is flown (all geometry in the field's UTM zone, in metres): passes run along
the field's long axis (the long side of its minimum rotated rectangle), alternating in
direction, clipped to the field, with the applicator on over the field and off in the
turns. A field ``W`` metres across gets ``ceil(W / swath)`` passes spaced ``W / n`` apart,
and that spacing is the *effective* swath each fix reports, as a drone's route planner
does: the field is covered edge to edge, with neither gaps nor double-sprayed strips.
Flow is set so the dose is realistic (tank mix 15-25 L/ha, urea and other fertilisers
80-120 kg/ha, seed ~100 kg/ha); when the tank runs dry the drone switches off, flies to
its launch point beside the field, refills (and swaps a low battery) and flies back to
resume where it stopped.

Fixes come at ``rate_hz`` and, in addition, exactly where the applicator switches, as
drone flight logs record switch events: so the as-applied map starts and stops on the
field edge instead of up to one fix interval away from it.

The names below are the package's API; import them from ``drone_ingest.simulate``. The
modules behind them, each building on the ones before:

- :mod:`.specs` -- drones and products as the simulator sees them, and realistic doses;
- :mod:`.route` -- lawnmower passes over a field and the planner that turns them into
  timed legs, with tank, battery and refill trips;
- :mod:`.mission` -- :class:`SimulatedMission`, what one mission published and really did;
- :mod:`.sampling` -- timed legs sampled into the fixes and events a drone publishes;
- :mod:`.flight` -- :func:`fly_mission`: plan the fields, fly them, sample the flight;
- :mod:`.delivery` -- :func:`mission_deliveries`: link losses and duplicates on the way;
- :mod:`.fleet` -- drones, farmers' field groups, products and zones to fly with;
- :mod:`.run` -- :func:`run_simulation`: the whole fleet, paced and published over MQTT.
"""

from drone_ingest.simulate.delivery import MAX_BATCH as MAX_BATCH
from drone_ingest.simulate.delivery import Delivery, mission_deliveries
from drone_ingest.simulate.fleet import FIXTURES_DIR as FIXTURES_DIR
from drone_ingest.simulate.fleet import load_fleet, load_zones
from drone_ingest.simulate.flight import flight_points, fly_mission
from drone_ingest.simulate.mission import SimulatedMission
from drone_ingest.simulate.route import BATTERY_DRAIN_PCT_S as BATTERY_DRAIN_PCT_S
from drone_ingest.simulate.route import BATTERY_SWAP_BELOW as BATTERY_SWAP_BELOW
from drone_ingest.simulate.route import LAUNCH_OFFSET_M as LAUNCH_OFFSET_M
from drone_ingest.simulate.route import PASS_ALT_RANGE as PASS_ALT_RANGE
from drone_ingest.simulate.route import PASS_SPEED_RANGE as PASS_SPEED_RANGE
from drone_ingest.simulate.route import REFILL_PAUSE_S as REFILL_PAUSE_S
from drone_ingest.simulate.route import TRANSIT_ALT as TRANSIT_ALT
from drone_ingest.simulate.route import TRANSIT_SPEED as TRANSIT_SPEED
from drone_ingest.simulate.route import TURN_SPEED as TURN_SPEED
from drone_ingest.simulate.route import lawnmower_passes
from drone_ingest.simulate.run import MAX_FIELDS_PER_MISSION as MAX_FIELDS_PER_MISSION
from drone_ingest.simulate.run import run_simulation
from drone_ingest.simulate.specs import DOSE_RANGE as DOSE_RANGE
from drone_ingest.simulate.specs import KIND_OF_TYPE as KIND_OF_TYPE
from drone_ingest.simulate.specs import SPREADER_PER_TANK_L as SPREADER_PER_TANK_L
from drone_ingest.simulate.specs import TYPE_OF_KIND as TYPE_OF_KIND
from drone_ingest.simulate.specs import TYPE_WEIGHTS as TYPE_WEIGHTS
from drone_ingest.simulate.specs import DroneSpec, ProductSpec

__all__ = [
    "Delivery",
    "DroneSpec",
    "ProductSpec",
    "SimulatedMission",
    "flight_points",
    "fly_mission",
    "lawnmower_passes",
    "load_fleet",
    "load_zones",
    "mission_deliveries",
    "run_simulation",
]
