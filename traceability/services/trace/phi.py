"""The pre-harvest interval (PHI) verdict of a lot and of every lot it came from.

Pure: no database, no JSON. For each pesticide applied on a lot's fields in their
windows, harvest date minus the local day of its last application must be at least
the product's PHI. A product withdrawn from the permitted list (banned) applied there
fails the verdict whatever its PHI, and so does a pesticide dated after the harvest
but recorded before the lot was (its days before harvest are negative). A lot made
from other lots is compliant only if its own fields and all of them are
(:func:`combine`). Whatever cannot be judged — a spray naming no
known product, an application without a date, a product without a PHI — makes the
verdict unknown (None), never true.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from traceability.services.applications import Product
from traceability.services.trace.events import Placed
from traceability.services.trace.structure import LotNode
from traceability.timezone import VN_TZ_NAME

LOCAL_TZ_NAME = VN_TZ_NAME
RULE = (
    "for each pesticide, harvest date minus the day of its last application "
    f"(local days, {LOCAL_TZ_NAME}) must be at least the product's PHI"
)
NO_PESTICIDE = "no pesticide applied on this lot's fields in its season"
BANNED = "a product withdrawn from Vietnam's permitted list was applied: not compliant"
AFTER_HARVEST = (
    "applied after the lot's recorded harvest but recorded before the lot was: "
    "the harvest date cannot leave it out"
)
FROM_LOTS = "a lot made from other lots is compliant only if all of them are"


def combine(verdicts: Iterable[bool | None]) -> bool | None:
    """False if any is false, else None if any is unknown, else True (empty: True).

    >>> combine([True, None]), combine([None, False]), combine([])
    (None, False, True)
    """
    verdicts = list(verdicts)
    if any(v is False for v in verdicts):
        return False
    if any(v is None for v in verdicts):
        return None
    return True


@dataclass(frozen=True, slots=True)
class ProductVerdict:
    """One pesticide on one lot: its applications (oldest first) and whether its PHI was kept."""

    product: Product
    applications: tuple[Placed, ...]
    last_application_on: date
    days_before_harvest: int

    @property
    def phi_compliant(self) -> bool | None:
        """None when the product's PHI is not recorded."""
        phi = self.product.phi_days
        return None if phi is None else self.days_before_harvest >= phi

    @property
    def earliest_safe_harvest(self) -> date | None:
        """The first day the lot could have been harvested keeping this product's PHI."""
        phi = self.product.phi_days
        return None if phi is None else self.last_application_on + timedelta(days=phi)

    @property
    def reason(self) -> str:
        """The verdict in words."""
        phi = self.product.phi_days
        if self.days_before_harvest < 0:
            return (
                f"applied {-self.days_before_harvest} days after the recorded harvest, "
                "in the record before the lot was"
            )
        if phi is None:
            return "the product's PHI is not recorded"
        return f"{self.days_before_harvest} days from the last application to harvest, PHI {phi}"


@dataclass(frozen=True, slots=True)
class Unjudged:
    """An application that might be a pesticide's but whose PHI cannot be judged."""

    placed: Placed
    reason: str

    @property
    def product_code(self) -> str | None:
        """The product the record names, known to the catalogue or not."""
        a = self.placed.application
        return a.product_code or (a.product.code if a.product else None)


@dataclass(frozen=True, slots=True)
class LotVerdict:
    """The PHI verdict of one lot: its own fields' products and, with them, its parents'."""

    lot: LotNode
    parent_lots: tuple[str, ...]
    products: tuple[ProductVerdict, ...]
    unknown_applications: tuple[Unjudged, ...]
    own_fields_compliant: bool | None
    phi_compliant: bool | None
    banned_applications: tuple[Placed, ...] = ()

    @property
    def notes(self) -> list[str]:
        """What a buyer should know to read the verdict."""
        notes = []
        if not self.products and not self.unknown_applications:
            notes.append(NO_PESTICIDE)
        if self.banned_applications:
            notes.append(BANNED)
        if any(pv.days_before_harvest < 0 for pv in self.products):
            notes.append(AFTER_HARVEST)
        if self.parent_lots:
            notes.append(FROM_LOTS)
        return notes


@dataclass(frozen=True, slots=True)
class PhiVerdict:
    """The traced lot's verdict and every lot's, by depth then code."""

    phi_compliant: bool | None
    lots: tuple[LotVerdict, ...]


def _unjudged(p: Placed) -> Unjudged:
    if p.day is None:
        return Unjudged(p, "the application's date is unknown")
    return Unjudged(p, "no registered product is named for this spray")


def lot_verdict(
    node: LotNode, placed: Iterable[Placed], parents: Iterable[LotVerdict] = ()
) -> LotVerdict:
    """The verdict of ``node`` from the applications on its fields (oldest first) and the
    verdicts of the lots it was made from."""
    by_product: dict[str, list[Placed]] = {}
    unknown = []
    banned = []
    for p in placed:
        if node.code not in p.lot_codes:
            continue
        product = p.application.product
        if product is not None and product.banned:
            banned.append(p)
        kind = p.application.is_pesticide
        if kind is False:
            continue
        if kind is None or p.day is None:
            unknown.append(_unjudged(p))
        else:
            by_product.setdefault(p.application.product.code, []).append(p)
    products = []
    for code in sorted(by_product):
        group = by_product[code]
        latest = max(group, key=lambda p: p.day)
        last = latest.day
        products.append(
            ProductVerdict(
                # The PHI in force at the last application (an entry chains its own).
                product=latest.application.product,
                applications=tuple(group),
                last_application_on=last,
                days_before_harvest=(node.harvested_on - last).days,
            )
        )
    own = combine(
        [
            *(pv.phi_compliant for pv in products),
            *([None] if unknown else []),
            *([False] if banned else []),
        ]
    )
    parents = list(parents)
    return LotVerdict(
        lot=node,
        parent_lots=tuple(v.lot.code for v in parents),
        products=tuple(products),
        unknown_applications=tuple(unknown),
        own_fields_compliant=own,
        phi_compliant=combine([own, *(v.phi_compliant for v in parents)]),
        banned_applications=tuple(banned),
    )


Judge = Callable[[LotNode, list[LotVerdict]], LotVerdict]


def verdict(
    lot: LotNode, lots: dict[int, LotNode], placed: list[Placed], own: Judge | None = None
) -> PhiVerdict:
    """The PHI verdict of ``lot`` and, recursively, of every lot in ``lots`` it came from.

    ``own`` judges one lot given its parents' verdicts (by default :func:`lot_verdict` on
    ``placed``): a lot may be judged on the diary as it stood when it was recorded.
    """
    done: dict[int, LotVerdict] = {}
    own = own or (lambda node, parents: lot_verdict(node, placed, parents))

    def judge(node: LotNode) -> LotVerdict:
        # Every lot's parents are judged before it (once each, however often they recur).
        if node.id not in done:
            parents = [judge(lots[p]) for p in node.parent_ids]
            done[node.id] = own(node, parents)
        return done[node.id]

    judge(lot)
    for node in lots.values():
        judge(node)
    ordered = sorted(done.values(), key=lambda v: (v.lot.depth, v.lot.code))
    return PhiVerdict(phi_compliant=done[lot.id].phi_compliant, lots=tuple(ordered))
