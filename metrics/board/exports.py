"""The month's figures as CSV and Excel (.xlsx) for the board pack.

One row per scope (the company first, then every segment), one column per metric of
METRICS.md under its name there, so that the files feed a finance model unchanged. Numbers are
written as numbers; every text cell goes through `safe_text`, which neutralises a value that a
spreadsheet would run as a formula (OWASP "CSV injection"): a text beginning with =, +, -, @,
a tab or a carriage return gets a leading apostrophe. Segment values come from uploaded files,
so they are untrusted.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import TYPE_STRING
from openpyxl.styles import Font

from clv_dashboard.spreadsheets import spreadsheet_safe
from metrics.selectors import EXPORT_FIELDS

# The columns of the API and export_snapshots: METRICS.md's metric names.
COLUMNS: tuple[str, ...] = tuple(EXPORT_FIELDS)
TEXT_COLUMNS = frozenset({"month", "scope_dimension", "scope_value", "retention_source"})
MONEY_FORMAT = "#,##0.00"
SHARE_FORMAT = "0.0000"
MONEY_COLUMNS = frozenset(
    {
        "revenue", "gross_margin", "margin_per_customer", "clv", "customer_equity", "acquisition_cost",
        "retention_cost", "acquisition_equity", "retention_equity", "cac",
    }
)
SHARE_COLUMNS = frozenset({"monthly_retention", "retention_rate", "clv_to_cac"})


def safe_text(value: object) -> str:
    """The text of a cell, neutralised when a spreadsheet would read it as a formula."""
    return str(spreadsheet_safe("" if value is None else str(value)))


@dataclass(frozen=True)
class ExportTable:
    month: dt.date
    currency: str
    rows: Sequence[dict[str, object]]  # keyed by COLUMNS


def _cell(column: str, value: object) -> object:
    if column in TEXT_COLUMNS:
        if isinstance(value, dt.date):
            value = value.strftime("%Y-%m")
        return safe_text(value)
    if value is None:
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, (int, float)):
        return value
    # Anything else in a numeric column is unexpected: write it as (safe) text.
    return safe_text(value)


def _rows(table: ExportTable) -> Iterable[list[object]]:
    for row in table.rows:
        yield [_cell(column, row.get(column)) for column in COLUMNS]


def export_csv(table: ExportTable) -> bytes:
    """UTF-8 with a BOM, so that Excel opens Chinese text correctly."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for row in _rows(table):
        writer.writerow(["" if v is None else v for v in row])
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def export_xlsx(table: ExportTable, *, about: Sequence[tuple[str, str]]) -> bytes:
    """A workbook with the figures and a sheet that says what they are (month, currency, version)."""
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "figures"
    sheet.append(list(COLUMNS))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for values in _rows(table):
        sheet.append(values)
        for column, cell in zip(COLUMNS, sheet[sheet.max_row], strict=True):
            if column in TEXT_COLUMNS:
                # openpyxl turns a string beginning with "=" into a formula; keep it a string.
                cell.data_type = TYPE_STRING
            elif column in MONEY_COLUMNS:
                cell.number_format = MONEY_FORMAT
            elif column in SHARE_COLUMNS:
                cell.number_format = SHARE_FORMAT
    sheet.freeze_panes = "D2"
    for index, column in enumerate(COLUMNS, start=1):
        sheet.column_dimensions[sheet.cell(row=1, column=index).column_letter].width = max(12, len(column) + 2)
    info = workbook.create_sheet("about")
    for label, value in about:
        info.append([safe_text(label), safe_text(value)])
        for cell in info[info.max_row]:
            cell.data_type = TYPE_STRING
    info.column_dimensions["A"].width = 28
    info.column_dimensions["B"].width = 60
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
