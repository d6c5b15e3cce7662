"""A mission's flags: what its measured result asks an operator or an office to look at.

Each kind of flag is a small frozen dataclass holding the figures it is about;
:func:`mission_flags` decides which apply, from the measured result, the mission, its
product and the settings' thresholds, with no database and no clock. A flag's
:meth:`~Flag.to_json` is what the mission's JSON carries (``{"code", ...figures,
"message"}``); codes, keys and messages are part of the public interface.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from traceability.config import Settings
from traceability.models import (
    ApplicationMethod,
    InputProduct,
    Mission,
    MissionType,
    RegistrationStatus,
)
from traceability.services import applications
from traceability.services.missions.result import Measured, ZoneReached, rounded


class FlagCode(StrEnum):
    """Every kind of mission flag, in the order a mission lists them."""

    no_end_event = "no_end_event"
    sprayer_state_unknown = "sprayer_state_unknown"
    event_time_mismatch = "event_time_mismatch"
    unknown_product = "unknown_product"
    banned_product = "banned_product"
    application_method = "application_method"
    dose_above_max = "dose_above_max"
    product_dose_unknown = "product_dose_unknown"
    nospray_zone = "nospray_zone"
    overspray = "overspray"
    no_fields = "no_fields"
    gaps = "gaps"
    reported_area_mismatch = "reported_area_mismatch"
    reported_amount_mismatch = "reported_amount_mismatch"
    measure_failed = "measure_failed"
    far_from_field = "far_from_field"


class Flag:
    """One flag: a ``code``, the figures it is about, and a message saying it plainly."""

    __slots__ = ()
    code: ClassVar[FlagCode]

    @property
    def message(self) -> str:
        """The flag in one sentence."""
        raise NotImplementedError

    def figures(self) -> dict[str, Any]:
        """The figures the flag carries in JSON, between its code and its message."""
        return {}

    def to_json(self) -> dict[str, Any]:
        """The flag as the mission's ``flags`` list holds it."""
        return {"code": self.code.value, **self.figures(), "message": self.message}


@dataclass(frozen=True, slots=True)
class NoEndEvent(Flag):
    """The mission was completed at its last fix because no end event came."""

    code: ClassVar[FlagCode] = FlagCode.no_end_event
    idle_close_s: float

    @property
    def message(self) -> str:
        return (
            "no end event came: the mission was completed at its last fix "
            f"after {self.idle_close_s:g} s without new points"
        )


@dataclass(frozen=True, slots=True)
class SprayerStateUnknown(Flag):
    """The drone never said when its sprayer was on: no sprayed area can be measured."""

    code: ClassVar[FlagCode] = FlagCode.sprayer_state_unknown

    @property
    def message(self) -> str:
        return (
            "the drone did not say when its sprayer was on (no pump output among its "
            "parameters): its sprayed area and amount are unknown, not zero"
        )


@dataclass(frozen=True, slots=True)
class UnknownProduct(Flag):
    """The product is not in the catalogue, or (``product_code`` None) was never named."""

    code: ClassVar[FlagCode] = FlagCode.unknown_product
    product_code: str | None

    def figures(self) -> dict[str, Any]:
        return {"product_code": self.product_code}

    @property
    def message(self) -> str:
        if self.product_code is None:
            return "no start event: the product is not known"
        return f"product '{self.product_code}' is not in the input catalogue"


@dataclass(frozen=True, slots=True)
class EventTimeMismatch(Flag):
    """A start or end event is dated far from the first or last fix: the fixes date the work."""

    code: ClassVar[FlagCode] = FlagCode.event_time_mismatch
    event: str  # "start" or "end"
    event_at: datetime
    fix_at: datetime
    tolerance_s: float

    def figures(self) -> dict[str, Any]:
        return {
            "event": self.event,
            "event_at": self.event_at.astimezone(UTC).isoformat(timespec="seconds"),
            "fix_at": self.fix_at.astimezone(UTC).isoformat(timespec="seconds"),
            "off_s": round(abs((self.event_at - self.fix_at).total_seconds())),
        }

    @property
    def message(self) -> str:
        fix = "first" if self.event == "start" else "last"
        hours = abs((self.event_at - self.fix_at).total_seconds()) / 3600.0
        return (
            f"the {self.event} event is dated {hours:,.1f} h from the {fix} fix "
            f"(more than {self.tolerance_s:g} s): the fixes' own times date the mission"
        )


@dataclass(frozen=True, slots=True)
class BannedProduct(Flag):
    """The product is withdrawn from Vietnam's permitted list (Circular 75/2025/TT-BNNMT)."""

    code: ClassVar[FlagCode] = FlagCode.banned_product
    product_code: str

    def figures(self) -> dict[str, Any]:
        return {"product_code": self.product_code}

    @property
    def message(self) -> str:
        return f"product '{self.product_code}' is banned: it is not on the permitted list"


# How each mission type puts a product on a field.
METHOD_OF_TYPE = {
    MissionType.spray: ApplicationMethod.spray,
    MissionType.fertilize: ApplicationMethod.spread,
    MissionType.seed: ApplicationMethod.seed,
}


@dataclass(frozen=True, slots=True)
class WrongApplicationMethod(Flag):
    """The mission applied a product another way than its label says (granules sprayed)."""

    code: ClassVar[FlagCode] = FlagCode.application_method
    product_code: str
    product_method: str
    mission_method: str

    def figures(self) -> dict[str, Any]:
        return {
            "product_code": self.product_code,
            "product_method": self.product_method,
            "mission_method": self.mission_method,
        }

    @property
    def message(self) -> str:
        return (
            f"product '{self.product_code}' is applied as {self.product_method}, "
            f"but this mission applied it as {self.mission_method}"
        )


@dataclass(frozen=True, slots=True)
class DoseAboveMax(Flag):
    """A field received more product per hectare than the product allows."""

    code: ClassVar[FlagCode] = FlagCode.dose_above_max
    field_code: str
    dose_per_ha: float
    max_dose_per_ha: float
    product_code: str
    product_unit: str

    def figures(self) -> dict[str, Any]:
        return {
            "field_code": self.field_code,
            "dose_per_ha": rounded(self.dose_per_ha, 4),
            "max_dose_per_ha": self.max_dose_per_ha,
        }

    @property
    def message(self) -> str:
        u = self.product_unit
        return (
            f"{self.dose_per_ha:.3g} {u}/ha of {self.product_code} on {self.field_code} "
            f"is above the {self.max_dose_per_ha:g} {u}/ha allowed"
        )


@dataclass(frozen=True, slots=True)
class ProductDoseUnknown(Flag):
    """A product with a maximum dose was sprayed, but its share of the tank mix is unknown."""

    code: ClassVar[FlagCode] = FlagCode.product_dose_unknown
    applied_amount: float
    unit: str
    product_code: str
    max_dose_per_ha: float
    product_unit: str

    @property
    def message(self) -> str:
        return (
            f"the start event gave no tank_mix: {self.applied_amount:.3g} {self.unit} "
            f"of spray left the drone, but how much {self.product_code} it held, and so its "
            f"dose against the {self.max_dose_per_ha:g} {self.product_unit}/ha allowed, "
            "is not known"
        )


@dataclass(frozen=True, slots=True)
class NoSprayZoneReached(Flag):
    """Spray fell inside a no-spray zone or its buffer."""

    code: ClassVar[FlagCode] = FlagCode.nospray_zone
    zone: ZoneReached

    def figures(self) -> dict[str, Any]:
        return self.zone.to_json()

    @property
    def message(self) -> str:
        z = self.zone
        return (
            f"sprayed {z.area_m2:,.1f} m² inside {z.kind} {z.zone_code} "
            f"(within its {z.buffer_m:g} m buffer)"
        )


@dataclass(frozen=True, slots=True)
class Overspray(Flag):
    """Too much of the sprayed area lies outside every registered field."""

    code: ClassVar[FlagCode] = FlagCode.overspray
    overspray_area_ha: float
    overspray_pct: float
    amount_outside_fields: float
    threshold_pct: float

    def figures(self) -> dict[str, Any]:
        return {
            "overspray_area_ha": rounded(self.overspray_area_ha),
            "overspray_pct": rounded(self.overspray_pct, 2),
            "amount_outside_fields": rounded(self.amount_outside_fields),
        }

    @property
    def message(self) -> str:
        return (
            f"{self.overspray_pct:.1f} % of the sprayed area is outside every registered "
            f"field (threshold {self.threshold_pct:g} %)"
        )


@dataclass(frozen=True, slots=True)
class FarFromField(Flag):
    """The plan names a field that every fix lies far from (see ``missions.claims``)."""

    code: ClassVar[FlagCode] = FlagCode.far_from_field
    field_code: str
    distance_m: float

    def figures(self) -> dict[str, Any]:
        return {"field_code": self.field_code, "distance_m": round(self.distance_m)}

    @property
    def message(self) -> str:
        return (
            f"planned for field {self.field_code}, but the nearest fix is "
            f"{self.distance_m:,.0f} m from it"
        )


@dataclass(frozen=True, slots=True)
class NoFields(Flag):
    """Something was applied, but none of it on a registered field."""

    code: ClassVar[FlagCode] = FlagCode.no_fields

    @property
    def message(self) -> str:
        return "nothing fell on a registered field"


@dataclass(frozen=True, slots=True)
class Gaps(Flag):
    """Applicator-on stretches were left out: gaps between fixes or impossible jumps."""

    code: ClassVar[FlagCode] = FlagCode.gaps
    skipped_stretches: int
    max_gap_s: float

    def figures(self) -> dict[str, Any]:
        return {"skipped_stretches": self.skipped_stretches}

    @property
    def message(self) -> str:
        return (
            f"{self.skipped_stretches} applicator-on stretch(es) were not counted: "
            f"gaps over {self.max_gap_s:g} s or impossible jumps between fixes"
        )


@dataclass(frozen=True, slots=True)
class ReportedAreaMismatch(Flag):
    """The drone's own figure for the sprayed area is far from the measured one."""

    code: ClassVar[FlagCode] = FlagCode.reported_area_mismatch
    reported_area_ha: float
    measured_area_ha: float

    def figures(self) -> dict[str, Any]:
        return {
            "reported_area_ha": self.reported_area_ha,
            "measured_area_ha": rounded(self.measured_area_ha),
        }

    @property
    def message(self) -> str:
        return (
            f"the drone reported {self.reported_area_ha:g} ha, "
            f"{self.measured_area_ha:.3f} ha were measured"
        )


@dataclass(frozen=True, slots=True)
class ReportedAmountMismatch(Flag):
    """The drone's own figure for the amount applied is far from the measured flow."""

    code: ClassVar[FlagCode] = FlagCode.reported_amount_mismatch
    reported_amount: float
    measured_amount: float
    unit: str

    def figures(self) -> dict[str, Any]:
        return {
            "reported_amount": self.reported_amount,
            "measured_amount": rounded(self.measured_amount),
        }

    @property
    def message(self) -> str:
        return (
            f"the drone reported {self.reported_amount:g} {self.unit}, "
            f"{self.measured_amount:.3f} {self.unit} were measured from the flow"
        )


@dataclass(frozen=True, slots=True)
class MeasureFailed(Flag):
    """The mission could not be measured; ``reason`` says why."""

    code: ClassVar[FlagCode] = FlagCode.measure_failed
    reason: str

    @classmethod
    def of(cls, exc: BaseException) -> "MeasureFailed":
        """The flag for a measurement that raised ``exc``."""
        return cls(f"{type(exc).__name__}: {exc}"[:500])

    @property
    def message(self) -> str:
        return self.reason


def pct_off(reported: float, measured: float) -> float:
    """How far, in percent of ``measured``, ``reported`` is from it.

    >>> pct_off(1.1, 1.0), pct_off(0.0, 0.0), pct_off(0.5, 0.0)
    (10.000000000000009, 0.0, inf)
    """
    if measured <= 0.0:
        return float("inf") if reported > 0.0 else 0.0
    return 100.0 * abs(reported - measured) / measured


def mission_flags(
    *,
    mission: Mission,
    product: InputProduct | None,
    measured: Measured | None,
    settings: Settings,
) -> list[Flag]:
    """The flags of ``mission`` as measured (``measured`` None: it has no points)."""
    flags = list(_record_flags(mission, product, settings))
    if measured is not None:
        flags += _product_flags(product, measured)
        flags += _area_flags(measured, settings)
        flags += _reported_flags(mission, measured, settings)
    return flags


def to_json(flags: list[Flag]) -> list[dict[str, Any]]:
    """The flags as the mission's JSON lists them."""
    return [f.to_json() for f in flags]


def _record_flags(
    mission: Mission, product: InputProduct | None, settings: Settings
) -> Iterator[Flag]:
    # What the mission's own record lacks, whatever its points say.
    if mission.end_reason == "idle":
        yield NoEndEvent(settings.mission_idle_close_s)
    if mission.sprayer_state_unknown:
        yield SprayerStateUnknown()
    yield from _time_flags(mission, settings)
    if mission.product_code and product is None:
        yield UnknownProduct(mission.product_code)
    elif not mission.product_code and mission.type is None:
        yield UnknownProduct(None)
    if product is None:
        return
    if product.registration_status == RegistrationStatus.banned:
        yield BannedProduct(product.code)
    wanted = product.application_method
    done = METHOD_OF_TYPE.get(MissionType(mission.type)) if mission.type else None
    if wanted is not None and done is not None and ApplicationMethod(wanted) != done:
        yield WrongApplicationMethod(product.code, str(wanted), str(done))


def _time_flags(mission: Mission, settings: Settings) -> Iterator[Flag]:
    # An idle-closed mission's end is its last fix already; only an event can disagree.
    tol = settings.event_time_tolerance_s
    pairs = [("start", mission.started_at, mission.first_fix_at)]
    if mission.end_reason != "idle":
        pairs.append(("end", mission.ended_at, mission.last_fix_at))
    for event, event_at, fix_at in pairs:
        if event_at is None or fix_at is None:
            continue
        if abs((event_at - fix_at).total_seconds()) > tol:
            yield EventTimeMismatch(event, event_at, fix_at, tol)


def _product_flags(product: InputProduct | None, measured: Measured) -> Iterator[Flag]:
    max_dose = product.max_dose_per_ha if product is not None else None
    if max_dose is None:
        return
    for f in measured.fields:
        dose = f.product_dose_per_ha
        if dose is not None and applications.above_label(dose, max_dose):
            yield DoseAboveMax(
                field_code=f.field_code,
                dose_per_ha=f.product_dose_per_ha,
                max_dose_per_ha=max_dose,
                product_code=product.code,
                product_unit=str(product.unit),
            )
    if measured.per_unit is None and measured.fields:
        yield ProductDoseUnknown(
            applied_amount=measured.app.applied_amount,
            unit=str(measured.unit),
            product_code=product.code,
            max_dose_per_ha=max_dose,
            product_unit=str(product.unit),
        )


def _area_flags(measured: Measured, settings: Settings) -> Iterator[Flag]:
    app = measured.app
    for zone in measured.zones:
        # Below the threshold it is GNSS noise at the swath's edge (still listed in ``zones``).
        if zone.area_m2 >= settings.nospray_flag_min_m2:
            yield NoSprayZoneReached(zone)
    sprayed = app.sprayed_area_ha
    if sprayed > 0:
        pct = 100.0 * app.overspray_area_ha / sprayed
        if pct > settings.overspray_flag_pct:
            yield Overspray(
                overspray_area_ha=app.overspray_area_ha,
                overspray_pct=pct,
                amount_outside_fields=app.amount_outside_fields,
                threshold_pct=settings.overspray_flag_pct,
            )
    if app.applied_amount > 0 and not app.fields:
        yield NoFields()
    if app.skipped_stretches:
        yield Gaps(app.skipped_stretches, settings.max_gap_s)


def _reported_flags(mission: Mission, measured: Measured, settings: Settings) -> Iterator[Flag]:
    app = measured.app
    limit = settings.reported_mismatch_pct
    reported_area, reported_amount = mission.reported_area_ha, mission.reported_amount
    if reported_area is not None and pct_off(reported_area, app.sprayed_area_ha) > limit:
        yield ReportedAreaMismatch(reported_area, app.sprayed_area_ha)
    if reported_amount is not None and pct_off(reported_amount, app.applied_amount) > limit:
        yield ReportedAmountMismatch(reported_amount, app.applied_amount, str(measured.unit))
