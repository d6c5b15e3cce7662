"""Reports as files and as a table on screen, from a frame made by hand (no database).

The figures below are rounded by hand: 7.504899999999999 (a sum's float noise, as a
report once wrote it) to 4 decimals of a hectare is 7.5049; 2/3 L to 3 decimals 0.667;
98.159509... % to 2 decimals 98.16; latitude 9.2345678912 to 6 decimals 9.234568; a PHI
of 14.0 days is 14.
"""

import csv
import io

import orjson
import pandas as pd
from openpyxl import load_workbook

from traceability.reports import report_files

NOT_RECORDED = "chưa có / not recorded"


def frame():
    return pd.DataFrame(
        {
            "field_code": ["F1", "F2"],
            "product_name": ["=SUM(1,2)", "Thuốc hạt"],
            "registration_no": ["BVTV-001", None],
            "lat": [9.2345678912, 9.25],
            "treated_area_ha": pd.array([7.504899999999999, None], dtype="Float64"),
            "amount": [2 / 3, 1.5],
            "dose_per_ha": [1 / 3, 0.15],
            "spraying_pct": [98.159509202454, float("nan")],
            "phi_days": [14.0, float("nan")],
            "applications": pd.array([2, None], dtype="Int64"),
            "entry_id": pd.array([12345, 7], dtype="Int64"),
        }
    )


def test_csv_numbers_keep_their_columns_decimals_and_excel_reads_utf8():
    data = report_files.to_csv(frame())
    assert data.startswith(b"\xef\xbb\xbf")  # Excel takes the file for UTF-8
    first, second = csv.DictReader(io.StringIO(data.decode("utf-8-sig")))
    assert "7.504899999999999" not in data.decode("utf-8-sig")
    assert [first[k] for k in ("treated_area_ha", "amount", "dose_per_ha", "spraying_pct")] == [
        "7.5049",
        "0.667",
        "0.333",
        "98.16",
    ]
    assert (first["lat"], first["phi_days"], first["applications"]) == ("9.234568", "14", "2")
    assert first["entry_id"] == "12345"
    assert (second["treated_area_ha"], second["phi_days"], second["applications"]) == ("", "", "")
    assert (second["amount"], second["dose_per_ha"]) == ("1.5", "0.15")
    assert first["product_name"] == "'=SUM(1,2)" and second["product_name"] == "Thuốc hạt"


def test_a_missing_registration_number_says_so_except_in_json():
    first, second = csv.DictReader(io.StringIO(report_files.to_csv(frame()).decode("utf-8-sig")))
    assert (first["registration_no"], second["registration_no"]) == ("BVTV-001", NOT_RECORDED)
    rows = orjson.loads(report_files.to_json(frame()))["data"]
    assert [r["registration_no"] for r in rows] == ["BVTV-001", None]
    assert NOT_RECORDED in report_files.to_text(frame())


def test_json_keeps_the_figures_as_computed():
    (first, _) = orjson.loads(report_files.to_json(frame()))["data"]
    assert first["amount"] == 2 / 3 and first["treated_area_ha"] == 7.504899999999999


def test_xlsx_number_cells_are_rounded_and_carry_a_number_format():
    sheet = load_workbook(io.BytesIO(report_files.to_xlsx(frame()))).active
    header = [c.value for c in sheet[1]]

    def cell(row, column):
        return sheet.cell(row=row, column=header.index(column) + 1)

    expected = {
        "treated_area_ha": (7.5049, "0.0000"),
        "amount": (0.667, "0.000"),
        "dose_per_ha": (0.333, "0.000"),
        "spraying_pct": (98.16, "0.00"),
        "lat": (9.234568, "0.000000"),
        "phi_days": (14, "0"),
        "applications": (2, "0"),
        "entry_id": (12345, "0"),
    }
    for column, (value, number_format) in expected.items():
        got = cell(2, column)
        assert (got.value, got.number_format, got.data_type) == (value, number_format, "n"), column
    assert cell(3, "registration_no").value == NOT_RECORDED
    assert cell(3, "treated_area_ha").value is None
    assert cell(2, "product_name").value == "=SUM(1,2)" and cell(2, "product_name").data_type == "s"


def test_on_screen_a_missing_value_is_a_dash_never_nan():
    text = report_files.to_text(frame())
    for token in ("NaN", "<NA>", "None", "NaT", "nan"):
        assert token not in text, token
    header, first, second = text.splitlines()
    assert header.split() == list(frame().columns)
    # F2 has no area, no percentage, no PHI and no count: four dashes, one per cell.
    assert second.split().count(report_files.MISSING) == 4
    assert "7.5049" in first and "98.16" in first


def test_an_empty_report_on_screen_says_so():
    assert report_files.to_text(frame().iloc[0:0]) == "(no rows)"
