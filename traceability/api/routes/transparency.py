"""The public transparency log: signed checkpoints of the diaries' heads, and proofs.

Anyone may read these (no token): a checkpoint is only worth something if
offices and buyers keep their own copies of it.
"""

from fastapi import APIRouter

from traceability.api.deps import PagingDep, SessionDep
from traceability.errors import NotFound
from traceability.models import CheckpointPublic, CheckpointsPublic, InclusionProof
from traceability.services import checkpoints
from traceability.services.fields import get_field

router = APIRouter(tags=["transparency"])


@router.get("/transparency/checkpoint", response_model=CheckpointPublic)
def latest_checkpoint(session: SessionDep):
    """The newest signed checkpoint (save it: `agritrace verify` checks it later)."""
    return checkpoints.public(checkpoints.latest(session))


@router.get("/transparency/checkpoints", response_model=CheckpointsPublic)
def list_checkpoints(session: SessionDep, paging: PagingDep):
    """Every published checkpoint, newest first."""
    return checkpoints.list_checkpoints(session, offset=paging.offset, limit=paging.limit)


@router.get("/fields/{code}/inclusion", response_model=InclusionProof)
def field_inclusion(code: str, session: SessionDep):
    """The field's diary head in the newest checkpoint, with its Merkle audit path."""
    field = get_field(session, code=code)
    proof = checkpoints.inclusion(session, field_ids=[field.id]).get(field.id)
    if proof is None:
        raise NotFound(f"field '{code}' is not in a published checkpoint yet")
    return proof
