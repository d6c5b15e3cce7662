"""Append-only diaries and their integrity check."""

from datetime import datetime

from fastapi import APIRouter, Response, status

from traceability.api.deps import CurrentUser, PagingDep, SessionDep, corrected_view
from traceability.api.errors import refuse_changes
from traceability.errors import Forbidden
from traceability.models import (
    Activity,
    DiaryCheckPublic,
    DiaryEntriesPublic,
    DiaryEntryCreate,
    DiaryEntryPublic,
    Role,
    User,
)
from traceability.services import access, warnings
from traceability.services import diary as svc
from traceability.services.fields import get_field

router = APIRouter()


def _may_read(session, user: User, field_code: str | None) -> None:
    # Diaries are the farmer's business records: other farmers do not read them.
    if field_code is not None:
        access.ensure_reads_diary(session, user, get_field(session, code=field_code))


def _own_field_ids(session, user: User) -> list[int] | None:
    """The ids of the fields whose diaries ``user`` reads, or None for every field."""
    scope = access.diary_field_scope(user)
    return None if scope is None else list(session.exec(scope).all())


@router.post("/diary", status_code=201, response_model=DiaryEntryPublic, tags=["diary"])
def append(data: DiaryEntryCreate, session: SessionDep, user: CurrentUser, response: Response):
    """Append an entry (admin, or the field's farmer). Re-sending a ``client_id`` returns 200."""
    access.ensure_writes_diary(user, get_field(session, code=data.field_code))
    entry, created = svc.append_entry(session, data=data, user=user if user.id else None)
    if not created:
        response.status_code = status.HTTP_200_OK
    return svc.get_entry(session, entry_id=entry.id)


@router.post("/diary/check", response_model=DiaryCheckPublic, tags=["diary"])
def check_entry(data: DiaryEntryCreate, session: SessionDep, user: CurrentUser):
    """The warnings an entry would raise (dose, PHI, registration); nothing is written."""
    if user.role is Role.operator:
        raise Forbidden("operators' work reaches diaries through missions")
    return DiaryCheckPublic(
        warnings=warnings.check_entry(session, data=data, user=user if user.id else None)
    )


@router.get("/diary", response_model=DiaryEntriesPublic, tags=["diary"])
def list_diary(
    session: SessionDep,
    user: CurrentUser,
    paging: PagingDep,
    field_code: str | None = None,
    season_id: int | None = None,
    activity: Activity | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    view: str = "corrected",
):
    """Diary entries oldest first; ``view=all`` includes corrected and withdrawn ones.

    A farmer sees the entries of their own fields only.
    """
    _may_read(session, user, field_code)
    entries = svc.list_entries(
        session,
        field_code=field_code,
        field_ids=_own_field_ids(session, user),
        season_id=season_id,
        activity=activity,
        since=since,
        until=until,
        corrected_view=corrected_view(view),
        offset=paging.offset,
        limit=paging.limit,
    )
    return access.shown_entries(user, entries)


@router.get("/diary/{entry_id}", response_model=DiaryEntryPublic, tags=["diary"])
def read_entry(entry_id: int, session: SessionDep, user: CurrentUser):
    """One diary entry."""
    entry = svc.get_entry(session, entry_id=entry_id)
    _may_read(session, user, entry.field_code)
    return access.shown_entry(user, entry)


# A bare 405 would not tell a client how to fix a wrong entry; these answers say it.
refuse_changes(router, "/diary", "GET, POST")
refuse_changes(router, "/diary/{entry_id}", "GET")
