"""The certifying body's review of amendments recorded after a lot."""

from fastapi import APIRouter

from traceability.api.deps import AdminUser, SessionDep
from traceability.models import AmendmentAcceptanceCreate, AmendmentAcceptancePublic
from traceability.services import amendments as svc

router = APIRouter(tags=["lots"])


@router.post(
    "/lots/{code}/amendments/{entry_id}/accept",
    status_code=201,
    response_model=AmendmentAcceptancePublic,
)
def accept_amendment(
    code: str,
    entry_id: int,
    data: AmendmentAcceptanceCreate,
    session: SessionDep,
    user: AdminUser,
):
    """Accept a correction or withdrawal recorded after the lot (the certifying body's
    reviewer, who holds the admin role).

    Until then the lot's verdict is computed on the diary as it stood when the lot was
    recorded, and its trace shows the amendment as awaiting review; afterwards the
    verdict uses the amended diary and the trace says when, and by which role, it was
    accepted. Append-only: an amendment is accepted once (409 after that). The reason
    is kept with the acceptance and not published.
    """
    return svc.accept(session, code=code, entry_id=entry_id, user=user, data=data)
