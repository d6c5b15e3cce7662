"""Reports for the agriculture office: pandas frames as CSV or JSON."""

from typing import Literal

from fastapi import APIRouter, Response

from traceability import reports
from traceability.api.deps import FleetUser, SessionDep
from traceability.errors import NotFound
from traceability.services import access

router = APIRouter()


@router.get("/reports/{name}", tags=["reports"])
def report(
    name: str, session: SessionDep, user: FleetUser, format: Literal["csv", "json"] = "json"
) -> Response:
    """A report (missions, field-applications, fleet) as CSV or JSON (admin, office; an
    operator gets its own drones' rows of the missions and fleet reports)."""
    build = reports.REPORTS.get(name)
    if build is None:
        raise NotFound(f"report '{name}' does not exist; there are: {', '.join(reports.REPORTS)}")
    frame = access.report_rows(session, user, name, build(session.connection()))
    if format == "csv":
        return Response(
            frame.to_csv(index=False),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    return Response(
        frame.to_json(orient="records", date_format="iso"), media_type="application/json"
    )
