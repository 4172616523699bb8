from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from metrics.board.exports import COLUMNS, ExportTable, export_csv, export_xlsx, safe_text

HOSTILE = ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)", "\tTab", "\rCR", "=cmd|' /C calc'!A0"]


@pytest.mark.parametrize("value", HOSTILE)
def test_a_text_that_a_spreadsheet_would_run_is_neutralised(value: str) -> None:
    assert safe_text(value) == "'" + value


@pytest.mark.parametrize("value", ["North", "华东", "", "a=b", "unassigned"])
def test_ordinary_text_is_left_alone(value: str) -> None:
    assert safe_text(value) == value


def table(values: list[str]) -> ExportTable:
    rows = []
    for value in values:
        row: dict[str, object] = dict.fromkeys(COLUMNS)
        row.update(month=dt.date(2025, 6, 1), scope_dimension="region", scope_value=value, customers_end=10,
                   customer_equity=Decimal("-1234.50"), retention_rate=0.91, retention_source="measured",
                   assumption_version=3)
        rows.append(row)
    return ExportTable(month=dt.date(2025, 6, 1), currency="CNY", rows=rows)


def test_csv_neutralises_hostile_segment_values_and_keeps_numbers() -> None:
    content = export_csv(table(HOSTILE)).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(content, newline="")))
    assert [r["scope_value"] for r in rows] == ["'" + v for v in HOSTILE]
    assert all(r["customer_equity"] == "-1234.50" for r in rows)
    assert rows[0]["month"] == "2025-06" and rows[0]["cac"] == ""


def test_xlsx_cells_are_never_formulas() -> None:
    data = export_xlsx(table(HOSTILE), about=[("Month", "2025-06"), ("=evil", "@x")])
    book = load_workbook(io.BytesIO(data))
    sheet = book["figures"]
    values = [sheet.cell(row=i + 2, column=COLUMNS.index("scope_value") + 1) for i in range(len(HOSTILE))]
    # XML stores a carriage return as a line feed; the apostrophe in front is what matters.
    assert [c.value for c in values] == ["'" + v.replace("\r", "\n") for v in HOSTILE]
    assert all(c.data_type == "s" for c in values)
    equity = sheet.cell(row=2, column=COLUMNS.index("customer_equity") + 1)
    assert equity.data_type == "n" and Decimal(str(equity.value)) == Decimal("-1234.50")
    about = [[c.value for c in row] for row in book["about"].iter_rows()]
    assert about[1] == ["'=evil", "'@x"]
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            assert all(c.data_type != "f" for c in row)
