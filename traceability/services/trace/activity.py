"""What was done on a lot's fields, read fresh for every trace, and each diary's chain check.

Unlike the structure, none of this is cached: diaries grow, late drone data arrives,
and a chain check that trusted a cache would not be a check.
"""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlmodel import Session

from traceability.models import (
    AmendmentAcceptance,
    DiaryVerification,
    FarmField,
    Lot,
    Mission,
    MissionClaim,
    User,
)
from traceability.services import applications
from traceability.services.diary import (
    GENESIS,
    entry_hash,
    head_mismatch,
    names_in_chain,
    verify_chain,
)
from traceability.services.trace.amendments import Acceptance
from traceability.services.trace.structure import IDS, Structure

_HEADS = select(FarmField.id, FarmField.diary_length, FarmField.diary_head).where(
    FarmField.id.in_(IDS)
)

# Missions whose plan named one of the fields but whose fixes all lie far from it.
_CLAIMS = (
    select(
        MissionClaim.field_id,
        MissionClaim.distance_m,
        Mission.mission_id,
        Mission.drone_code,
        Mission.started_at,
        Mission.ended_at,
    )
    .join(Mission, Mission.id == MissionClaim.mission_pk)
    .where(MissionClaim.field_id.in_(IDS))
)


@dataclass(frozen=True, slots=True)
class Activity:
    """The rows of a lot's fields: every diary row (whole chains), missions, recorded heads,
    and missions claiming a field their fixes lie far from."""

    diary: list[Any]
    missions: list[Any]
    heads: dict[int, tuple[int, str | None]]
    claims: list[Any]


def load(session: Session, st: Structure) -> Activity:
    """The diary rows, mission rows and diary heads of the structure's fields."""
    conn = session.connection()
    field_ids = list(st.fields)
    diary, missions = applications.load(conn, field_ids=field_ids)
    # Read live, never from the structure cache: the head moves with every append.
    heads = {fid: (n, head) for fid, n, head in conn.execute(_HEADS, {"ids": field_ids}).all()}
    claims = conn.execute(_CLAIMS, {"ids": field_ids}).all()
    return Activity(diary=diary, missions=missions, heads=heads, claims=claims)


def _chain_holds(rows: list, head: tuple[int, str | None], field_code: str) -> bool:
    """Whether a field's diary rows (ordered by ``chain_seq``) form an unbroken hash chain
    that ends where the field's recorded head says it does."""
    codes = {r.input_id: r.p_code for r in rows if r.input_id is not None}
    names = names_in_chain(rows, field_code=field_code, product_codes=codes)
    prev, prev_seq = GENESIS, 0
    for row in rows:
        if (
            row.chain_seq != prev_seq + 1
            or row.prev_hash != prev
            or entry_hash(row, names[row.id]) != row.hash
        ):
            return False
        prev, prev_seq = row.hash, row.chain_seq
    return head_mismatch(head, prev_seq, prev) is None


def chains(session: Session, st: Structure, activity: Activity) -> dict[int, DiaryVerification]:
    """Each field's hash-chain check, by field id.

    The rows the trace already loaded are checked here (every hash recomputed on
    every request); only a chain that does not hold is handed to
    ``diary.verify_chain`` for the report of its breaks, so the wording and the
    rules of a break stay the diary service's own.
    """
    by_field: dict[int, list] = {fid: [] for fid in st.fields}
    for row in activity.diary:
        by_field[row.field_id].append(row)
    out = {}
    for fid, rows in by_field.items():
        code = st.fields[fid].code
        if _chain_holds(rows, activity.heads.get(fid, (0, None)), code):
            # Built without validation: every value is known to be of its type here.
            out[fid] = DiaryVerification.model_construct(
                field_code=code,
                entries=len(rows),
                valid=True,
                head_hash=rows[-1].hash if rows else None,
                breaks=[],
            )
        else:
            out[fid] = verify_chain(session, field_code=code)
    return out


def acceptances(session: Session, entry_ids: list[int]) -> dict[int, Acceptance]:
    """The reviewer's acceptances of the amendments ``entry_ids``, by entry."""
    if not entry_ids:
        return {}
    rows = session.connection().execute(
        select(
            AmendmentAcceptance.entry_id,
            Lot.code,
            AmendmentAcceptance.role,
            AmendmentAcceptance.accepted_at,
        )
        .join(Lot, Lot.id == AmendmentAcceptance.lot_id)
        .where(AmendmentAcceptance.entry_id.in_(entry_ids))
    )
    return {r[0]: Acceptance(*r) for r in rows}


def roles(session: Session, user_ids: set[int]) -> dict[int, str]:
    """The role of each user (what the public sees of who recorded something)."""
    if not user_ids:
        return {}
    rows = session.connection().execute(select(User.id, User.role).where(User.id.in_(user_ids)))
    return {uid: str(role) for uid, role in rows}
