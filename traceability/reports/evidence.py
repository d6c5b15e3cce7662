"""What each figure of a season's low-emission rice row rests on: the diary entries and
drone missions the MRV evidence pack lists (``reports.mrv``), one tuple per record in
:data:`EVIDENCE_FIELDS` order (kept beside the row, ``reports.kept``). The transparency
log's index of an entry is not part of it: it is read when the pack is made.
"""

from typing import Any

from traceability.models import Activity, InputKind
from traceability.reports.ghg import SeasonGhg
from traceability.reports.season import SeasonRecord, day_of, entry_day

EVIDENCE_FIELDS = (
    "evidence_for", "entry_id", "chain_seq", "entry_hash", "activity", "occurred_on",
    "mission_id",
)  # fmt: skip
Evidence = tuple[Any, ...]


def _entry(for_: str, row: Any) -> Evidence:
    return (for_, row.id, row.chain_seq, row.hash, str(row.activity), entry_day(row),
            row.mission_id)  # fmt: skip


def _application_for(a: Any) -> str | None:
    kind = a.product.kind if a.product is not None else None
    if kind == InputKind.seed:
        return "seed"
    if kind == InputKind.fertilizer:
        return "nitrogen"
    return "spray" if a.is_pesticide else None


def evidence(record: SeasonRecord, g: SeasonGhg) -> list[Evidence]:
    """The records each of the plot's figures rests on."""
    by_id = {r.id: r for r in [*record.diary, *record.before]}
    out = [_entry("water", by_id[i]) for i in g.water.entry_ids]
    out += [_entry("pre_season", by_id[i]) for i in g.pre.entry_ids if i in by_id]
    if g.straw_entry is not None:
        out.append(_entry("straw", g.straw_entry))
    out += [_entry("harvest", r) for r in record.diary if r.activity == Activity.harvest]
    for a in record.applications:
        for_ = _application_for(a)
        if for_ is None:
            continue
        if a.source == "drone":
            out.append((for_, None, None, None, a.activity, day_of(a.at), a.mission_id))
            out += [_entry(for_, by_id[i]) for i in a.evidence_entry_ids if i in by_id]
        elif a.entry_id in by_id:
            out.append(_entry(for_, by_id[a.entry_id]))
    return out
