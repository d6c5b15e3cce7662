"""Reports for the agriculture office and inspectors, as pandas DataFrames.

Built from the database through SQLAlchemy; no web imports, so the same frames serve
the API, notebooks and the command line (``report_files`` writes them as JSON, CSV and
XLSX). Amounts come from the application record (``services.applications``) or from
what a mission measured; no report derives an amount of its own.

Every report takes :class:`Filters`. ``since``/``until`` are Vietnam calendar days,
``until`` included. Times in frames are timezone-aware UTC; ``report_files`` shows
them in Vietnam time.

One module per report family, each building on ``common`` (filters, days, weeks) and
never on this package's ``__init__``, so the modules form no import circle:

- ``missions``: the missions report and the mission selection the province and the
  fleet reuse;
- ``field_applications``: the application record as a frame, and the report per field;
- ``pesticide_records``, ``province``, ``fleet``;
- ``season`` (a field's seasons and their records), ``field_season``, ``low_emission``
  (with ``ghg``: a season's water regime and methane) and ``mrv`` (its evidence pack);
- ``report_sql``: the application record as one SQL selectable (the province sums in
  the database); ``report_files``: JSON, CSV and XLSX.
"""

from collections.abc import Callable

import pandas as pd

from traceability.reports import report_files, report_sql
from traceability.reports.common import (
    NO_FILTERS,
    VIETNAM,
    Bind,
    Filters,
    crop_season,
    iso_week,
    vietnam_day,
)
from traceability.reports.field_applications import (
    applications_frame,
    field_applications_report,
)
from traceability.reports.field_season import FIELD_SEASON_COLUMNS, field_season_report
from traceability.reports.fleet import FLEET_COLUMNS, fleet_report
from traceability.reports.low_emission import LOW_EMISSION_COLUMNS, low_emission_rice_report
from traceability.reports.missions import missions_report
from traceability.reports.mrv import MRV_COLUMNS, low_emission_mrv_report
from traceability.reports.mrv import totals as mrv_totals
from traceability.reports.pesticide_records import PESTICIDE_COLUMNS, pesticide_records_report
from traceability.reports.province import (
    PROVINCE_COLUMNS,
    PROVINCE_FLAGS,
    province_report,
    sprayed,
)

REPORTS: dict[str, Callable[..., pd.DataFrame]] = {
    "missions": missions_report,
    "field-applications": field_applications_report,
    "pesticide-records": pesticide_records_report,
    "province": province_report,
    "fleet": fleet_report,
    "field-season": field_season_report,
    "low-emission-rice": low_emission_rice_report,
    "low-emission-mrv": low_emission_mrv_report,
}

__all__ = [
    "FIELD_SEASON_COLUMNS",
    "FLEET_COLUMNS",
    "LOW_EMISSION_COLUMNS",
    "MRV_COLUMNS",
    "NO_FILTERS",
    "PESTICIDE_COLUMNS",
    "PROVINCE_COLUMNS",
    "PROVINCE_FLAGS",
    "REPORTS",
    "VIETNAM",
    "Bind",
    "Filters",
    "applications_frame",
    "crop_season",
    "field_applications_report",
    "field_season_report",
    "fleet_report",
    "iso_week",
    "low_emission_mrv_report",
    "low_emission_rice_report",
    "missions_report",
    "mrv_totals",
    "pesticide_records_report",
    "province_report",
    "report_files",
    "report_sql",
    "sprayed",
    "vietnam_day",
]
