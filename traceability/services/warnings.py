"""Warnings a diary entry raises before it is saved: dose, PHI, registration.

These never refuse an entry (the diary records what was done, even a mistake); they
tell the farmer while there is still time to change the plan. The farmers' app shows
the same warnings offline from the parameters :func:`offline_rules` hands it.
"""

import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from traceability.models import (
    Activity,
    DiaryEntryCreate,
    EntryWarningPublic,
    FarmField,
    InputKind,
    InputProduct,
    Lot,
    LotField,
    RegistrationStatus,
    Season,
    User,
    utcnow,
)
from traceability.services import applications, trace
from traceability.services.common import local_day
from traceability.services.fields import ensure_owner, get_field, season_on

# Dose and PHI concern the product going onto the field, not buying or selling it.
APPLYING = frozenset({Activity.spray, Activity.fertilize, Activity.seed, Activity.other})
# Crop names as farmers and catalogues write them; "rice" and "lúa" are the same crop.
_CROP_ALIASES = {"rice": "lúa", "lúa gạo": "lúa", "paddy": "lúa"}


def crop_key(name: str) -> str:
    """A crop name reduced to compare it with a product's registered crops.

    >>> crop_key(" Rice "), crop_key("LÚA")
    ('lúa', 'lúa')
    """
    key = unicodedata.normalize("NFC", name).strip().casefold()
    return _CROP_ALIASES.get(key, key)


@dataclass(frozen=True, slots=True)
class ProductRules:
    """What the warnings need to know about a product."""

    code: str
    kind: str
    unit: str
    max_dose_per_ha: float | None
    phi_days: int | None
    registration_status: str
    registered_crops: tuple[str, ...] = field(default=())


def rules_of(product: InputProduct) -> ProductRules:
    """The warning parameters of a catalogue product."""
    return ProductRules(
        code=product.code,
        kind=str(product.kind),
        unit=str(product.unit),
        max_dose_per_ha=product.max_dose_per_ha,
        phi_days=product.phi_days,
        registration_status=str(product.registration_status),
        registered_crops=tuple(product.registered_crops or ()),
    )


def warnings_for(
    *,
    product: ProductRules,
    activity: Activity,
    quantity: float | None,
    area_ha: float | None,
    day,
    season: Season | None,
) -> list[EntryWarningPublic]:
    """The warnings of one planned use of ``product`` on ``day`` (the rule, without the DB)."""
    out: list[EntryWarningPublic] = []
    if product.registration_status == RegistrationStatus.banned:
        out.append(
            EntryWarningPublic(
                code="banned",
                message=f"{product.code} is banned in Vietnam",
                params={"product": product.code},
            )
        )
    elif product.kind == InputKind.pesticide:
        crop = season.crop if season else None
        if product.registration_status == RegistrationStatus.unknown:
            out.append(
                EntryWarningPublic(
                    code="registration_unknown",
                    message=f"{product.code} is not known to be on the permitted list",
                    params={"product": product.code},
                )
            )
        elif (
            crop
            and product.registered_crops
            and crop_key(crop) not in {crop_key(c) for c in product.registered_crops}
        ):
            out.append(
                EntryWarningPublic(
                    code="not_registered_for_crop",
                    message=f"{product.code} is not registered for {crop}",
                    params={"product": product.code, "crop": crop},
                )
            )
    if activity not in APPLYING:
        return out
    if product.max_dose_per_ha and quantity is not None and area_ha:
        dose = quantity / area_ha
        if applications.above_label(dose, product.max_dose_per_ha):
            out.append(
                EntryWarningPublic(
                    code="dose_above_max",
                    message=(
                        f"dose {dose:.3g} {product.unit}/ha is above the label maximum "
                        f"{product.max_dose_per_ha:g} {product.unit}/ha"
                    ),
                    params={
                        "dose": round(dose, 4),
                        "max": product.max_dose_per_ha,
                        "unit": product.unit,
                    },
                )
            )
    planned = season.planned_harvest_on if season else None
    if product.kind == InputKind.pesticide and product.phi_days is not None and planned:
        safe_from = day + timedelta(days=product.phi_days)
        if safe_from > planned:
            out.append(
                EntryWarningPublic(
                    code="phi_after_planned_harvest",
                    message=(
                        f"{product.code} needs {product.phi_days} days before harvest: "
                        f"safe from {safe_from.isoformat()}, harvest planned {planned.isoformat()}"
                    ),
                    params={
                        "phi_days": product.phi_days,
                        "safe_from": safe_from.isoformat(),
                        "planned_harvest_on": planned.isoformat(),
                    },
                )
            )
    return out


def check_entry(
    session: Session, *, data: DiaryEntryCreate, user: User | None
) -> list[EntryWarningPublic]:
    """The warnings ``data`` would raise if it were appended now; nothing is written."""
    field_row = get_field(session, code=data.field_code)
    ensure_owner(field_row, user)
    product = (
        session.exec(select(InputProduct).where(InputProduct.code == data.input_code)).first()
        if data.input_code
        else None
    )
    out = []
    if product is not None:
        day = local_day(data.occurred_at)
        out = warnings_for(
            product=rules_of(product),
            activity=data.activity,
            quantity=data.quantity,
            # Without a treated area the whole field was treated.
            area_ha=data.area_ha or field_row.area_ha,
            day=day,
            season=season_on(session, field_id=field_row.id, day=day),
        )
    return out + harvested_lots(session, field=field_row, data=data, product=product)


def harvested_lots(
    session: Session, *, field: FarmField, data: DiaryEntryCreate, product: InputProduct | None
) -> list[EntryWarningPublic]:
    """A warning per lot already harvested from ``field`` whose PHI verdict the entry would
    change, judged as the buyer's trace judges it (the entry recorded now, after the lot)."""
    if data.corrects is not None or str(data.activity) in applications.NOT_APPLIED:
        return []  # a correction is an amendment, which a reviewer decides on
    lots = session.exec(
        select(Lot.code, Lot.harvested_on)
        .join(LotField, LotField.lot_id == Lot.id)
        .where(LotField.field_id == field.id, Lot.harvested_on >= local_day(data.occurred_at))
        .order_by(Lot.harvested_on, Lot.code)
    ).all()
    if not lots:
        return []
    app = applications.Application(
        source="diary",
        field_id=field.id,
        at=data.occurred_at,
        activity=str(data.activity),
        method="manual",
        product=applications.product_from(product) if product is not None else None,
        product_code=data.input_code,
        quantity=data.quantity,
        unit=str(data.unit) if data.unit else None,
        in_product_unit=product is not None,
        area_ha=data.area_ha,
        dose_per_ha=applications.dose_per_ha(data.quantity, data.area_ha),
        recorded_at=utcnow(),
    )
    out = []
    for code, harvested_on in lots:
        before = trace.phi_verdict(session, code=code)
        after = trace.phi_verdict(session, code=code, extra=(app,))
        if after != before:
            out.append(
                EntryWarningPublic(
                    code="changes_harvested_lot",
                    message=(
                        f"lot {code}, harvested {harvested_on.isoformat()}, would go from "
                        f"{_VERDICT[before]} to {_VERDICT[after]}"
                    ),
                    params={
                        "lot_code": code,
                        "harvested_on": harvested_on.isoformat(),
                        "before": before,
                        "after": after,
                    },
                )
            )
    return out


_VERDICT = {True: "PHI respected", False: "PHI not respected", None: "unknown"}


def offline_rules(products: list[InputProduct]) -> list[dict[str, Any]]:
    """The products' warning parameters, for the app to warn without a signal."""
    return [
        {
            "code": p.code,
            "kind": str(p.kind),
            "unit": str(p.unit),
            "max": p.max_dose_per_ha,
            "phi": p.phi_days,
            "reg": str(p.registration_status),
            "crops": [crop_key(c) for c in (p.registered_crops or ())],
        }
        for p in products
    ]


def season_rules(season: Season | None) -> dict[str, Any] | None:
    """A field's current season as the app's offline warnings need it."""
    if season is None:
        return None
    return {
        "crop": season.crop,
        "crop_key": crop_key(season.crop),
        "planned_harvest_on": season.planned_harvest_on.isoformat()
        if season.planned_harvest_on
        else None,
    }


# How far back the app is handed a field's lots to warn offline: an entry dated further
# back than the window of a field with no season is rare, and warned about online.
OFFLINE_LOTS_DAYS = trace.DEFAULT_WINDOW_DAYS


def offline_lots(session: Session, *, field_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    """The lots harvested from each field in the last ``OFFLINE_LOTS_DAYS``, as the app
    needs them to give :func:`harvested_lots`'s warning without a signal: each lot's
    code, harvest day and time, the first day of its window on that field and its verdict
    now.

    An entry recorded now, after every lot, counts for a lot exactly when it is dated
    from that window's start to the harvest: earlier lots never close it (it was not in
    the record when they were made), and the start's sowing does (see
    ``structure.reach_back``). So the window's start, the harvest and the verdict are all
    the app needs: a pesticide dated in the window and fewer than its PHI days before
    the harvest, or a banned product, makes the lot fail; a spray of an unknown product,
    or of one without a PHI, makes a compliant lot's verdict unknown.
    """
    if not field_ids:
        return {}
    since = local_day(utcnow()) - timedelta(days=OFFLINE_LOTS_DAYS)
    rows = session.exec(
        select(LotField.field_id, Lot.code, Lot.harvested_on, Lot.harvested_at)
        .join(Lot, Lot.id == LotField.lot_id)
        .where(LotField.field_id.in_(field_ids), Lot.harvested_on >= since)
        .order_by(Lot.harvested_on, Lot.code)
    ).all()
    out: dict[int, list[dict[str, Any]]] = {}
    for field_id, code, harvested_on, harvested_at in rows:
        st = trace.lot_structure(session, code=code)
        own = st.lot.id
        start = next(lk.start for lk in st.links if lk.lot_id == own and lk.field_id == field_id)
        out.setdefault(field_id, []).append(
            {
                "code": code,
                "harvested_on": harvested_on.isoformat(),
                "harvested_at": _utc(harvested_at),
                "start": start.isoformat(),
                "verdict": trace.phi_verdict(session, code=code),
            }
        )
    return out


def _utc(ts: datetime | None) -> str | None:
    """A stored time as ISO 8601 in UTC (SQLite hands it back without its zone)."""
    return None if ts is None else ts.replace(tzinfo=ts.tzinfo or UTC).astimezone(UTC).isoformat()
