"""Reports for the agriculture office: pandas frames as JSON, CSV or XLSX."""

import dataclasses
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response

from traceability import reports
from traceability.api.deps import CurrentUser, ReadSessionDep
from traceability.errors import InvalidInput, NotFound
from traceability.reports import ghg, low_emission, report_files
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
    group: Annotated[
        Literal["day", "week", "season"] | None,
        Query(description="fleet: one row per drone and Vietnam day, ISO week or crop season"),
    ] = None,
    by: Annotated[
        Literal["day", "week", "season"] | None, Query(description="the same as group")
    ] = None,
    field: Annotated[
        str | None, Query(max_length=64, description="field code (field-season, low-emission-rice)")
    ] = None,
    season: Annotated[
        int | None, Query(ge=1, description="season id (field-season, low-emission-rice)")
    ] = None,
) -> reports.Filters:
    """The query's filters, checked."""
    if from_ and to and from_ > to:
        raise InvalidInput(f"'from' ({from_}) is after 'to' ({to})")
    if group and by and group != by:
        raise InvalidInput(f"'group' ({group}) and 'by' ({by}) disagree; give one of them")
    return reports.Filters(
        since=from_,
        until=to,
        commune=commune,
        product=product,
        drone=drone,
        organisation=organisation,
        by=group or by,
        field=field,
        season=season,
    )


@router.get("/reports/low-emission-rice/references", tags=["reports"])
def low_emission_references(user: CurrentUser) -> dict[str, Any]:
    """What the low-emission rice report measures against, each with where it comes
    from: the province's reference nitrogen rate and number of sprays (the office sets
    them: ``AGRITRACE_N_REFERENCE_KG_PER_HA``, ``AGRITRACE_SPRAYS_REFERENCE`` and their
    ``..._SOURCE``; unset, ``missing`` says so and those targets are unknown), and the
    methane factors (IPCC 2019 defaults, or the office's ``AGRITRACE_EMISSION_FACTORS``)."""
    n, sprays = low_emission.references()
    return {
        "n_reference": {"kg_per_ha": n.value, "source": n.source, "missing": n.why},
        "sprays_reference": {
            "sprays": sprays.value,
            "source": sprays.source,
            "missing": sprays.why,
        },
        "emission_factors": dataclasses.asdict(ghg.factors()),
    }


@router.get("/reports/{name}", tags=["reports"])
def report(
    name: str,
    session: ReadSessionDep,
    user: CurrentUser,
    filters: Annotated[reports.Filters, Depends(report_filters)],
    format: Literal["json", "csv", "xlsx"] = "json",
) -> Response:
    """A report (missions, field-applications, pesticide-records, province, fleet,
    field-season, low-emission-rice) as JSON ``{"data", "count"}``, CSV or XLSX.

    Admins and the office read every row; an operator its own drones' rows of the reports
    with a ``drone_code`` column; a cooperative its members' fields' rows of the reports
    with a ``field_code`` column; a farmer field-season and low-emission-rice of their own
    fields (``services.access.report_rows``)."""
    build = reports.REPORTS.get(name)
    if build is None:
        raise NotFound(f"report '{name}' does not exist; there are: {', '.join(reports.REPORTS)}")
    access.ensure_reads_report(user, name)
    access.ensure_reads_field_report(session, user, filters.field)
    filters = dataclasses.replace(filters, field_codes=access.report_field_codes(session, user))
    frame = access.report_rows(session, user, name, build(session.connection(), filters))
    headers = {}
    if format != "json":
        headers["Content-Disposition"] = f'attachment; filename="{name}.{format}"'
    return Response(
        report_files.render(frame, format, name=name),
        media_type=report_files.MEDIA_TYPES[format],
        headers=headers,
    )
