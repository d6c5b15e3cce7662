"""The landing page at ``/``: where a visitor finds the trace, the reports and the API.

Public and server-rendered like the trace page (Vietnamese first, ``?lang=en``). A
running demo puts a :class:`Showcase` on ``app.state.showcase``: its sample lots, its
sign-in tokens (shown only to a browser on the demo's own machine) and its clock.
"""

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from traceability import reports
from traceability.api import pages
from traceability.api.deps import SessionDep
from traceability.api.pages import Lang
from traceability.api.staff_auth import HOME
from traceability.models import DiaryEntry, Lot, Mission
from traceability.timezone import VN_TZ

router = APIRouter()

SAMPLE_LOTS = 4


@dataclass
class Showcase:
    """What a running demo adds to the landing page."""

    #: Lot codes to show first (the demo's sample lots).
    lots: list[str] = field(default_factory=list)
    #: (role, token) pairs a visitor signs in with; shown to a local browser only.
    tokens: list[tuple[str, str]] = field(default_factory=list)
    #: The farmer's one-time sign-in link to the farmers' app (a path); local browser only.
    farmer_link: str | None = None
    #: Simulated seconds per real second, and the simulated clock.
    speed: float | None = None
    clock: Callable[[], datetime] | None = None
    #: How to read the demo's database from the command line.
    report_command: str | None = None


def _is_local(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host in ("localhost", "testclient")


def _sample_lots(session, first: list[str]) -> list[Lot]:
    """The showcase's lots, then the newest ones, at most ``SAMPLE_LOTS``."""
    rows = list(session.execute(select(Lot).where(Lot.code.in_(first))).scalars()) if first else []
    rows.sort(key=lambda lot: first.index(lot.code))
    newest = session.execute(
        select(Lot).order_by(Lot.created_at.desc(), Lot.id.desc()).limit(SAMPLE_LOTS)
    ).scalars()
    rows += [lot for lot in newest if lot.code not in first]
    return rows[:SAMPLE_LOTS]


def _counts(session) -> dict[str, int]:
    return {
        name: session.execute(select(func.count()).select_from(table)).scalar_one()
        for name, table in (("missions", Mission), ("entries", DiaryEntry), ("lots", Lot))
    }


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def landing(request: Request, session: SessionDep, lang: Lang = None) -> HTMLResponse:
    """The landing page: a sample trace, the office's reports, the API, the demo's sign-in."""
    chosen = pages.request_lang(request, lang)
    showcase: Showcase | None = getattr(request.app.state, "showcase", None)
    try:
        lots = _sample_lots(session, showcase.lots if showcase else [])
        counts = _counts(session)
    except SQLAlchemyError:
        # A database without its schema yet: the page still says where everything is.
        session.rollback()
        lots, counts = [], None
    return pages.page(
        "landing.html",
        chosen,
        # Never cached: the demo's counts move, and the tokens must not sit in a shared cache.
        headers={"Cache-Control": "no-store"},
        lots=lots,
        counts=counts,
        showcase=showcase,
        now=showcase.clock().astimezone(VN_TZ) if showcase and showcase.clock else None,
        show_tokens=bool(showcase and showcase.tokens and _is_local(request)),
        reports=list(reports.REPORTS),
        homes={str(role): page for role, page in HOME.items()},
    )
