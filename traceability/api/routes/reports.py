"""Reports for the agriculture office: pandas frames as JSON, CSV or XLSX."""

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response

from traceability import report_files, reports
from traceability.api.deps import FleetUser, SessionDep
from traceability.errors import InvalidInput, NotFound
from traceability.services import access

router = APIRouter()


def report_filters(
    from_: Annotated[
        date | None, Query(alias="from", description="first Vietnam day (YYYY-MM-DD)")
    ] = None,
    to: Annotated[date | None, Query(description="last Vietnam day, included")] = None,
    commune: Annotated[str | None, Query(max_length=16, description="commune code")] = None,
    product: Annotated[str | None, Query(max_length=64, description="product code")] = None,
    drone: Annotated[str | None, Query(max_length=64, description="drone code")] = None,
    organisation: Annotated[
        str | None,
        Query(max_length=64, description="organisation code: the drone's or the farmer's"),
    ] = None,
    by: Annotated[
        Literal["day", "week"] | None, Query(description="fleet: one row per drone and day/week")
    ] = None,
) -> reports.Filters:
    """The query's filters, checked."""
    if from_ and to and from_ > to:
        raise InvalidInput(f"'from' ({from_}) is after 'to' ({to})")
    return reports.Filters(
        since=from_,
        until=to,
        commune=commune,
        product=product,
        drone=drone,
        organisation=organisation,
        by=by,
    )


@router.get("/reports/{name}", tags=["reports"])
def report(
    name: str,
    session: SessionDep,
    user: FleetUser,
    filters: Annotated[reports.Filters, Depends(report_filters)],
    format: Literal["json", "csv", "xlsx"] = "json",
) -> Response:
    """A report (missions, field-applications, pesticide-records, province, fleet) as
    JSON ``{"data", "count"}``, CSV or XLSX (admin, office; an operator gets its own
    drones' rows of the reports that have a ``drone_code`` column)."""
    build = reports.REPORTS.get(name)
    if build is None:
        raise NotFound(f"report '{name}' does not exist; there are: {', '.join(reports.REPORTS)}")
    frame = access.report_rows(session, user, name, build(session.connection(), filters))
    headers = {}
    if format != "json":
        headers["Content-Disposition"] = f'attachment; filename="{name}.{format}"'
    return Response(
        report_files.render(frame, format, name=name),
        media_type=report_files.MEDIA_TYPES[format],
        headers=headers,
    )
