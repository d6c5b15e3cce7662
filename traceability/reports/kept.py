"""The low-emission rice report's rows kept aside per season, and the stamp that says they
still hold.

A province's report reads a million diary rows and classifies 60,000 seasons; done on
every request it took 45 s (the MRV pack 65 s). Each season's row, and the records its
figures rest on (``reports.evidence``), are kept in ``emission_rows`` with a *stamp*
of what it was computed from, and a report computes again only the fields whose stamp
changed, then keeps what it computed:

- the code's version (a new release computes every row again), the settings a row reads
  (the office's emission factors, the nitrogen and spray references with their sources)
  and the product catalogue (a product's nitrogen, its kind): one part for every row;
- per field, the rows a season's record rests on (``reports.season.emission_records``):
  the field, its farmer and cooperative, the field's seasons, diary entries, drone
  missions and their per-field results, and its lots. A correction or a withdrawal is an
  entry of the same field, so it changes the field's part too.

The parts are PostgreSQL's row versions, as a stored trace's fingerprint
(``services.trace.snapshot``): per table the count and the sum of the rows' ``xmin``, so
any INSERT, UPDATE or DELETE, through the API or by hand, changes them. The stamps are
read before the rows are computed: a change made in between leaves a row kept under the
older stamp, computed again next time, never a newer row under a stamp it does not hold.

SQLite has no row versions: there every report computes every row, as do reports that
change what a row holds (``since``/``until``, ``product``). A read replica computes what
is stale and keeps nothing (it cannot write); the primary's next report keeps it.
"""

import hashlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import date
from typing import Any

import orjson
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from traceability.config import get_settings
from traceability.reports.common import Filters
from traceability.reports.evidence import EVIDENCE_FIELDS, Evidence
from traceability.reports.season import season_scope

log = logging.getLogger(__name__)

# What the rows read of the settings: the stamp changes when any of them does.
SETTINGS_READ = (
    "emission_factors",
    "n_reference_kg_per_ha",
    "n_reference_source",
    "sprays_reference",
    "sprays_reference_source",
)

# Per field, what its seasons' rows rest on: per table the count and the sum of ``xmin``
# of the field's rows. ``{only}`` keeps each table to the fields in the report's scope
# (``:ids``), or is empty for every field: PostgreSQL then sums a province's million
# diary rows in parallel (0.15 s against 0.5 s through the list of ids).
_FIELD_STAMPS = """
WITH d AS (SELECT field_id, count(*) || ':' || sum(xmin::text::bigint) AS v
             FROM diary_entries {only} GROUP BY field_id),
s AS (SELECT field_id, count(*) || ':' || sum(xmin::text::bigint) AS v
        FROM seasons {only} GROUP BY field_id),
m AS (SELECT mf.field_id,
             count(*) || ':' || sum(mf.xmin::text::bigint + m.xmin::text::bigint) AS v
        FROM mission_fields mf JOIN missions m ON m.id = mf.mission_pk
       {only_mf} GROUP BY mf.field_id),
l AS (SELECT lf.field_id,
             count(*) || ':' || sum(lf.xmin::text::bigint + l.xmin::text::bigint) AS v
        FROM lot_fields lf JOIN lots l ON l.id = lf.lot_id
       {only_lf} GROUP BY lf.field_id)
SELECT f.id,
       f.xmin::text || '.' || fa.xmin::text || '.' || coalesce(o.xmin::text, '-')
       || '|' || coalesce(d.v, '-') || '|' || coalesce(s.v, '-')
       || '|' || coalesce(m.v, '-') || '|' || coalesce(l.v, '-') AS stamp
  FROM fields f
  JOIN farmers fa ON fa.id = f.farmer_id
  LEFT JOIN organisations o ON o.id = fa.organisation_id
  LEFT JOIN d ON d.field_id = f.id
  LEFT JOIN s ON s.field_id = f.id
  LEFT JOIN m ON m.field_id = f.id
  LEFT JOIN l ON l.field_id = f.id
 {only_f}
"""
_IDS = "= ANY(CAST(:ids AS int[]))"
_SCOPED_STAMPS = text(
    _FIELD_STAMPS.format(
        only=f"WHERE field_id {_IDS}", only_mf=f"WHERE mf.field_id {_IDS}",
        only_lf=f"WHERE lf.field_id {_IDS}", only_f=f"WHERE f.id {_IDS}",
    )
)  # fmt: skip
_EVERY_STAMP = text(_FIELD_STAMPS.format(only="", only_mf="", only_lf="", only_f=""))
_CATALOGUE_STAMP = text(
    "SELECT count(*) || ':' || coalesce(sum(xmin::text::bigint), 0) FROM inputs"
)
_KEPT = (
    "SELECT season_id, stamp, row, {evidence} FROM emission_rows "
    "WHERE season_id = ANY(CAST(:ids AS int[]))"
)
_KEEP = text(
    """
INSERT INTO emission_rows (season_id, field_id, stamp, row, evidence)
VALUES (:season_id, :field_id, :stamp, :row, :evidence)
ON CONFLICT (season_id) DO UPDATE
   SET field_id = excluded.field_id, stamp = excluded.stamp, row = excluded.row,
       evidence = excluded.evidence
"""
)

Row = dict[str, Any]
# A season's row and the records its figures rest on (``reports.evidence``).
Kept = tuple[Row, list[Evidence]]
# Computes the rows of the seasons ``filters`` names (each with its ``season_id``) and
# their evidence.
Compute = Callable[[Connection, Filters], list[Kept]]


def keeps(conn: Connection, filters: Filters) -> bool:
    """Whether this report's rows can be kept: PostgreSQL, and no filter that changes what a
    season's row holds (only which seasons it has)."""
    return (
        conn.dialect.name == "postgresql"
        and filters.since is None
        and filters.until is None
        and not filters.product
    )


def _common_part(conn: Connection) -> str:
    from traceability.services.trace.snapshot import CODE_VERSION

    settings = get_settings().model_dump(include=set(SETTINGS_READ))
    digest = hashlib.sha256(orjson.dumps(settings, option=orjson.OPT_SORT_KEYS)).hexdigest()
    catalogue = conn.execute(_CATALOGUE_STAMP).scalar_one()
    return f"{CODE_VERSION} s{digest[:16]} p{catalogue} "


def _encode(row: Row, columns: list[str]) -> bytes:
    return orjson.dumps([row[c] for c in columns])


class _Days(dict):
    """ISO days to dates, each converted once (a province's rows name a few hundred)."""

    def __missing__(self, text: str) -> date:
        self[text] = day = date.fromisoformat(text)
        return day


def _decode_rows(bodies: list[bytes], columns: list[str], dates: frozenset[str]) -> list[Row]:
    """Kept rows, parsed in one call (one JSON array of them all)."""
    days = _Days()
    at = [i for i, c in enumerate(columns) if c in dates]
    out = []
    for values in orjson.loads(b"[" + b",".join(bodies) + b"]"):
        for i in at:
            if values[i] is not None:
                values[i] = days[values[i]]
        out.append(dict(zip(columns, values, strict=True)))
    return out


_DAY = EVIDENCE_FIELDS.index("occurred_on")


def _decode_evidence(bodies: list[bytes]) -> list[list[Evidence]]:
    """Kept evidence, each season's list of records, parsed in one call."""
    days = _Days()
    out = orjson.loads(b"[" + b",".join(bodies) + b"]")
    for proofs in out:
        for e in proofs:
            if e[_DAY] is not None:
                e[_DAY] = days[e[_DAY]]
    return out


def kept_rows(
    conn: Connection,
    filters: Filters,
    compute: Compute,
    *,
    columns: list[str],
    dates: Iterable[str],
    evidence: bool = False,
) -> list[Kept]:
    """The rows of the seasons ``filters`` names, in the report's order, each with its
    evidence if ``evidence`` (else an empty list): kept ones where their stamp still holds,
    the others computed by ``compute`` (and kept, where the database can write).
    ``columns`` are a row's keys, ``dates`` those holding a day."""
    if not keeps(conn, filters):
        return compute(conn, filters)
    seasons = season_scope(conn, filters)
    if filters.organisation:
        seasons = [s for s in seasons if s.farmer_organisation == filters.organisation]
    if not seasons:
        return []
    common = _common_part(conn)
    field_ids = sorted({s.field_id for s in seasons})
    whole = not (filters.field or filters.field_codes is not None or filters.season is not None
                 or filters.commune)  # fmt: skip
    found = conn.execute(_EVERY_STAMP if whole else _SCOPED_STAMPS, {"ids": field_ids})
    stamps = {f: common + v for f, v in found.tuples().all()}
    kept_stmt = text(_KEPT.format(evidence="evidence" if evidence else "NULL"))
    found = conn.execute(kept_stmt, {"ids": [s.season_id for s in seasons]})
    kept = {sid: (stamp, body, proof) for sid, stamp, body, proof in found.tuples().all()}
    held: list[tuple[int, bytes, bytes | None]] = []
    stale: set[int] = set()
    for s in seasons:
        k = kept.get(s.season_id)
        if k is not None and k[0] == stamps.get(s.field_id):
            held.append((s.season_id, k[1], k[2]))
        else:
            stale.add(s.field_id)
    rows = _decode_rows([body for _, body, _ in held], columns, frozenset(dates))
    proofs = _decode_evidence([p for _, _, p in held]) if evidence else [[]] * len(held)
    out: dict[int, Kept] = {
        sid: (row, e) for (sid, _, _), row, e in zip(held, rows, proofs, strict=True)
    }
    if stale:
        fresh = _compute_fields(conn, filters, compute, seasons, stale)
        by_id = {s.season_id: s for s in seasons}
        _keep(conn, [(by_id[r["season_id"]], r, e) for r, e in fresh], stamps, columns)
        out |= {r["season_id"]: (r, e if evidence else []) for r, e in fresh}
    return [out[s.season_id] for s in seasons if s.season_id in out]


def _compute_fields(
    conn: Connection, filters: Filters, compute: Compute, seasons: list[Any], stale: set[int]
) -> list[Kept]:
    """The rows of the seasons of the ``stale`` fields among ``seasons``."""
    if len(stale) * 2 > len({s.field_id for s in seasons}):
        # Most of the scope: the report's own filters read it in one pass, and naming
        # thousands of fields would cost more than the few rows computed again.
        rows = compute(conn, filters)
    else:
        codes = frozenset(s.field_code for s in seasons if s.field_id in stale)
        rows = compute(conn, replace(filters, field_codes=codes))
    wanted = {s.season_id for s in seasons if s.field_id in stale}
    return [(r, e) for r, e in rows if r["season_id"] in wanted]


def _keep(
    conn: Connection,
    rows: list[tuple[Any, Row, list[Evidence]]],
    stamps: dict[int, str],
    columns: list[str],
) -> None:
    """Keep ``rows`` (each with its season and evidence), on a connection of its own: the
    report's may be a read-only one. Nothing is kept on a standby, or if the keeping fails (a season
    deleted meanwhile): the rows are computed again next time."""
    params = [
        {
            "season_id": s.season_id,
            "field_id": s.field_id,
            "stamp": stamps[s.field_id],
            "row": _encode(r, columns),
            "evidence": orjson.dumps(e),
        }
        for s, r, e in rows
        if s.field_id in stamps
    ]
    if not params:
        return
    try:
        with conn.engine.connect() as own:
            if own.execute(text("SELECT pg_is_in_recovery()")).scalar_one():
                return
            own.execute(_KEEP, params)
            own.commit()
    except SQLAlchemyError as exc:
        # The driver's message alone: SQLAlchemy's would repeat thousands of rows.
        why = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        log.warning("low-emission rows not kept (%s): computed again next time", why)
