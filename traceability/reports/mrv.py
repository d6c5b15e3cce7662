"""The MRV evidence pack of the low-emission rice programme: per field and season every
figure of the low-emission rice report with the diary entries and drone missions it rests
on, and the commune and province totals, which are the sums of their plots.

One frame, told apart by ``section`` (as the field-season report does):

- ``plot``: one row per field and season, the figures (``LOW_EMISSION_COLUMNS``' methane,
  water and target columns);
- ``evidence``: one row per record a plot's figure rests on — ``evidence_for`` says which
  figure (``water``, ``pre_season``, ``straw``, ``harvest``, ``seed``, ``nitrogen``,
  ``spray``) — with the entry's id, its place in the field's chain, its content hash and
  its index in the transparency log (``log_index``; the leaf is
  ``{"field", "hash", "kind": "diary-entry", "seq"}``, docs/transparency.md), or the
  drone mission's id;
- ``commune`` and ``province``: the plots' totals in kg and t (per-hectare figures times
  the field's area), summed over the plots whose figure is known; ``plots_estimated``
  says how many those are.
"""

from typing import Any

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Connection

from traceability.models import TlogLeaf
from traceability.reports.common import Filters, connected
from traceability.reports.evidence import EVIDENCE_FIELDS
from traceability.reports.kept import Kept
from traceability.reports.low_emission import season_rows

PLOT_COLUMNS = [
    "field_code", "commune_code", "season_id", "crop", "sown_on", "harvested_on",
    "field_area_ha", "water_regime", "drainage_periods", "flooded_days", "drained_days",
    "pre_season", "pre_season_basis", "cultivation_days", "straw_before_sowing", "straw_t_per_ha",
    "straw_days_before_sowing", "ch4_kg_per_ha", "baseline_ch4_kg_per_ha",
    "ch4_reduction_kg_per_ha", "co2e_reduction_t_per_ha", "ch4_kg", "baseline_ch4_kg",
    "ch4_reduction_kg", "co2e_reduction_t", "ch4_reason", "efc", "sfw", "sfp", "sfo",
    "baseline_sfo", "gwp_ch4", "seed_kg_per_ha", "seed_target", "nitrogen_kg_per_ha",
    "n_reference_kg_per_ha", "n_reference_source", "n_reduction_pct", "n_target",
    "n_target_reason", "sprays_hand", "sprays_drone", "sprays_reference",
    "sprays_reference_source", "sprays_target", "sprays_target_reason",
    "straw_handling", "straw_target", "water_target",
]  # fmt: skip
EVIDENCE_COLUMNS = [
    "evidence_for", "entry_id", "chain_seq", "entry_hash", "log_index", "activity",
    "occurred_on", "mission_id",
]  # fmt: skip
TOTAL_COLUMNS = ["plots", "plots_estimated", "estimated_area_ha"]
SUMMED = ["field_area_ha", "ch4_kg", "baseline_ch4_kg", "ch4_reduction_kg", "co2e_reduction_t"]
_WHOLE = [
    "season_id", "drainage_periods", "flooded_days", "drained_days", "cultivation_days",
    "straw_days_before_sowing", "sprays_hand", "sprays_drone", "entry_id", "chain_seq",
    "log_index", "plots", "plots_estimated",
]  # fmt: skip
MRV_COLUMNS = ["section", *PLOT_COLUMNS, *EVIDENCE_COLUMNS, *TOTAL_COLUMNS]


#: Past this many entries one range scan of the log beats a list of ids sent to the database.
_IDS_IN_ONE_LIST = 2000


def _log_index(conn: Connection, entry_ids: list[Any]) -> list[Any]:
    """Each entry's index in the transparency log (None: none, or not yet sequenced)."""
    ids = sorted({i for i in entry_ids if i is not None})
    if not ids:
        return [None] * len(entry_ids)
    if len(ids) <= _IDS_IN_ONE_LIST:
        where = TlogLeaf.entry_id.in_(ids)
    else:
        where = TlogLeaf.entry_id.between(ids[0], ids[-1])
    stmt = select(TlogLeaf.entry_id, TlogLeaf.idx).where(where)
    index = dict(conn.execute(stmt).tuples().all())
    return [index.get(i) for i in entry_ids]


def _evidence_frame(conn: Connection, kept: list[Kept]) -> pd.DataFrame:
    """The evidence rows of every plot (a province has about 800,000), built column by
    column, each entry with its index in the transparency log."""
    flat = [e for _, proofs in kept for e in proofs]
    columns: dict[str, Any] = {
        c: [row[c] for row, proofs in kept for _ in proofs]
        for c in ("field_code", "commune_code", "season_id")
    }
    values = list(zip(*flat, strict=True)) if flat else [()] * len(EVIDENCE_FIELDS)
    columns |= dict(zip(EVIDENCE_FIELDS, values, strict=True))
    columns["log_index"] = _log_index(conn, list(columns["entry_id"]))
    return pd.DataFrame(columns)


def totals(plots: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The plots' totals (``SUMMED``) per ``by`` (none: one row), over the plots whose
    methane is known; ``plots`` counts them all.

    >>> p = pd.DataFrame({"commune_code": ["A", "A", "B"], "field_area_ha": [1.0, 2.0, 3.0],
    ...                   "ch4_kg": [10.0, None, 5.0], "baseline_ch4_kg": [20.0, None, 9.0],
    ...                   "ch4_reduction_kg": [10.0, None, 4.0],
    ...                   "co2e_reduction_t": [0.28, None, 0.112]})
    >>> totals(p, ["commune_code"])[["commune_code", "plots", "plots_estimated", "ch4_kg"]
    ...     ].values.tolist()
    [['A', 2, 1, 10.0], ['B', 1, 1, 5.0]]
    """
    known = plots["ch4_kg"].notna()
    work = plots.assign(
        plots=1,
        plots_estimated=known.astype(int),
        estimated_area_ha=plots["field_area_ha"].where(known, 0.0),
        **{c: plots[c].where(known, 0.0) for c in SUMMED if c != "field_area_ha"},
    )
    cols = ["plots", "plots_estimated", "estimated_area_ha", *SUMMED]
    if not by:
        return work[cols].sum().to_frame().T.astype({"plots": int, "plots_estimated": int})
    return work.groupby(by, dropna=False, sort=True)[cols].sum().reset_index()


@connected
def low_emission_mrv_report(conn: Connection, filters: Filters) -> pd.DataFrame:
    """The MRV evidence pack: plots, the records each figure rests on, commune and
    province totals (see the module's docstring)."""
    kept = season_rows(conn, filters, with_evidence=True)
    plots = pd.DataFrame([row for row, _ in kept], columns=None).reindex(columns=PLOT_COLUMNS)
    evidence = _evidence_frame(conn, kept)
    frames = [
        plots.assign(section="plot"),
        evidence.assign(section="evidence") if len(evidence) else None,
        totals(plots, ["commune_code"]).assign(section="commune") if len(plots) else None,
        totals(plots, []).assign(section="province") if len(plots) else None,
    ]
    parts = [x for x in frames if x is not None and len(x)]
    if not parts:
        return pd.DataFrame(columns=MRV_COLUMNS)
    out = pd.concat(parts, ignore_index=True).reindex(columns=MRV_COLUMNS)
    # Counts and ids stay whole numbers where sections leave them empty (a leaf's ``seq``
    # is an integer in its hashed bytes).
    return out.astype({c: "Int64" for c in _WHOLE})
