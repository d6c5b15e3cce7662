"""Amendments recorded after a lot: shown to the buyer, trusted only once a reviewer accepts.

Pure: no database. A lot is judged on its fields' diaries *as they stood when the lot
was recorded*: a correction or withdrawal (an entry naming the one it corrects) recorded
after the lot is an *amendment*. It is left out of the lot's verdict unless

- a reviewer of the certifying body accepted it (``accepted``), or
- it makes the verdict worse (a newly recorded violation counts at once).

New entries recorded after the lot (corrections of nothing) count at once: adding an
application can only make a verdict worse. Every amendment that would change a lot's
verdict, and every accepted one, is listed with what it changed, when it was recorded
and the role (never the name) of whoever recorded it. A lot made from others is judged
on its parents' verdicts, so it inherits their amendments.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from traceability.services.trace import phi
from traceability.services.trace.events import Placed, iso
from traceability.services.trace.structure import LotNode, Structure

# Worse first: a verdict moves "down" when it goes from kept to unknown, or to not kept.
_RANK = {False: 0, None: 1, True: 2}


@dataclass(frozen=True, slots=True)
class Acceptance:
    """A reviewer's acceptance of an amendment."""

    entry_id: int
    lot_code: str
    role: str
    accepted_at: datetime


@dataclass(frozen=True, slots=True)
class Amendment:
    """One amendment of one lot's diaries and what it does to that lot's verdict."""

    lot_code: str
    entry: Any  # the amending diary row
    corrected: Any  # the row it corrects or withdraws
    status: str  # "pending_review", "accepted" or "counted_worse"
    verdict_as_recorded: bool | None
    verdict_with_amendment: bool | None
    acceptance: Acceptance | None


def standing(rows: list[Any], excluded: frozenset[int]) -> set[int]:
    """The ids of the entries that stand when the entries ``excluded`` were never written.

    A correction left in names an entry that no longer stands, and so does every entry
    it reaches through corrections left out (so an accepted correction of an amendment
    still pending replaces what the amendment would have).
    """
    by_id = {r.id: r for r in rows}
    replaced: set[int] = set()
    for r in rows:
        if r.id in excluded or r.corrects_id is None:
            continue
        target = r.corrects_id
        while target is not None and target not in replaced:
            replaced.add(target)
            target = by_id[target].corrects_id if target in excluded and target in by_id else None
    return {r.id for r in rows if r.id not in excluded and r.id not in replaced and not r.retracts}


def late_corrections(rows: list[Any], st: Structure) -> list[Any]:
    """Corrections and withdrawals recorded after the newest lot they could touch."""
    times = [n.recorded_at for n in st.lots.values() if n.recorded_at is not None]
    if not times:
        return []
    earliest = min(times)
    return [r for r in rows if r.corrects_id is not None and r.recorded_at > earliest]


class Judge:
    """Judges each lot on its diaries as they stood when it was recorded (see module doc).

    ``placed_for(excluded)`` gives the applications placed on the structure's lots when
    the entries ``excluded`` are left out; results are kept per ``excluded``.
    """

    def __init__(
        self,
        st: Structure,
        rows: list[Any],
        accepted: dict[int, Acceptance],
        placed_for: Callable[[frozenset[int]], list[Placed]],
    ):
        self.st, self.accepted = st, accepted
        self._late = late_corrections(rows, st)
        self._by_id = {r.id: r for r in rows}
        self._placed_for = placed_for
        self._placed: dict[frozenset[int], list[Placed]] = {}
        self.amendments: list[Amendment] = []

    def placed(self, excluded: frozenset[int]) -> list[Placed]:
        """The placed applications with ``excluded`` left out (kept per set)."""
        if excluded not in self._placed:
            self._placed[excluded] = self._placed_for(excluded)
        return self._placed[excluded]

    def _candidates(self, node: LotNode) -> list[Any]:
        if node.recorded_at is None:
            return []
        fields = {lk.field_id for lk in self.st.links if lk.lot_id == node.id}
        return [r for r in self._late if r.recorded_at > node.recorded_at and r.field_id in fields]

    def _record(self, node, row, status, without, with_) -> None:
        self.amendments.append(
            Amendment(
                lot_code=node.code,
                entry=row,
                corrected=self._by_id.get(row.corrects_id),
                status=status,
                verdict_as_recorded=without.own_fields_compliant,
                verdict_with_amendment=with_.own_fields_compliant,
                acceptance=self.accepted.get(row.id),
            )
        )

    def __call__(self, node: LotNode, parents: list[phi.LotVerdict]) -> phi.LotVerdict:
        """The lot's verdict; its amendments are added to :attr:`amendments`."""
        candidates = self._candidates(node)
        pending = [r for r in candidates if r.id not in self.accepted]
        excluded = frozenset(r.id for r in pending)
        current = phi.lot_verdict(node, self.placed(excluded), parents)
        for row in pending:
            trial = phi.lot_verdict(node, self.placed(excluded - {row.id}), parents)
            before, after = current.own_fields_compliant, trial.own_fields_compliant
            if _RANK[after] < _RANK[before]:
                # A newly recorded violation counts at once.
                self._record(node, row, "counted_worse", current, trial)
                excluded, current = excluded - {row.id}, trial
            elif after != before:
                self._record(node, row, "pending_review", current, trial)
        for row in candidates:
            if row.id in self.accepted:
                without = phi.lot_verdict(node, self.placed(excluded | {row.id}), parents)
                self._record(node, row, "accepted", without, current)
        return current


def _state(row: Any | None) -> dict[str, Any] | None:
    """What an entry said, in public terms (no note, no names)."""
    if row is None:
        return None
    return {
        "entry_id": row.id,
        "activity": str(row.activity),
        "product_code": row.p_code,
        "occurred_at": iso(row.occurred_at),
        "quantity": row.quantity,
        "unit": str(row.unit) if row.unit else None,
        "area_ha": row.area_ha,
    }


def public(a: Amendment, field_code: str, role: str) -> dict[str, Any]:
    """One amendment as the trace JSON shows it."""
    row = a.entry
    acc = a.acceptance
    return {
        "lot_code": a.lot_code,
        "entry_id": row.id,
        "corrects_entry_id": row.corrects_id,
        "kind": "withdrawal" if row.retracts else "correction",
        "field_code": field_code,
        "recorded_at": iso(row.recorded_at),
        "recorded_by_role": role,
        "before": _state(a.corrected),
        "after": None if row.retracts else _state(row),
        "status": a.status,
        "counted": a.status != "pending_review",
        "verdict_as_recorded": a.verdict_as_recorded,
        "verdict_with_amendment": a.verdict_with_amendment,
        "accepted": None
        if acc is None
        else {"at": iso(acc.accepted_at), "by_role": acc.role, "lot_code": acc.lot_code},
    }
