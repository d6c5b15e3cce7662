"""The public transparency log: signed checkpoints of the diaries' heads, and proofs.

Anyone may read these (no token): a checkpoint is only worth something if
offices and buyers keep their own copies of it.
"""

from fastapi import APIRouter

from traceability.api.deps import PagingDep, SessionDep
from traceability.models import CheckpointPublic, CheckpointsPublic
from traceability.services import checkpoints

router = APIRouter(tags=["transparency"])


@router.get("/transparency/checkpoint", response_model=CheckpointPublic)
def latest_checkpoint(session: SessionDep):
    """The newest signed checkpoint (save it: `agritrace verify` checks it later)."""
    return checkpoints.public(checkpoints.latest(session))


@router.get("/transparency/checkpoints", response_model=CheckpointsPublic)
def list_checkpoints(session: SessionDep, paging: PagingDep):
    """Every published checkpoint, newest first."""
    return checkpoints.list_checkpoints(session, offset=paging.offset, limit=paging.limit)
