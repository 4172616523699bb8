"""Cost files laid out as a finance sheet: one row per month (and segment), a column per kind
("month, acquisition cost, retention cost"), read as an entry per kind and month."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import pytest
from openpyxl import Workbook

from customers.models import CostEntry, ImportJob
from customers.services import import_undo
from customers.services.parsing import REASON_AMOUNT, REASON_COST_NEGATIVE, REASON_COST_NO_AMOUNT

from .test_workbooks import xlsx

Run = Callable[..., ImportJob]


def entries() -> list[tuple[dt.date, str, str, str, Decimal]]:
    return sorted(CostEntry.objects.values_list("month", "kind", "segment_dimension", "segment_value", "amount"))


@pytest.mark.parametrize("header", [
    "month,acquisition cost,retention cost,region",
    "Month,Acquisition Spend,Retention Spend,Region",
    "月份,获客费用（元）,留存费用（元）,区域",
    "月份,拉新成本,维系费用,地区",
])
def test_a_column_per_kind_gives_an_entry_per_kind_and_month(run_import: Run, header: str) -> None:
    job = run_import("costs", f'{header}\n2024-01,"1,000",200,East\n2024年2月,1200,,\n2024-03,0,¥50.5,East\n')
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert entries() == [
        (dt.date(2024, 1, 1), "acquisition", "region", "East", Decimal("1000.00")),
        (dt.date(2024, 1, 1), "retention", "region", "East", Decimal("200.00")),
        (dt.date(2024, 2, 1), "acquisition", "", "", Decimal("1200.00")),  # a blank cell: no entry of that kind
        (dt.date(2024, 3, 1), "acquisition", "region", "East", Decimal("0.00")),  # a zero is an entry
        (dt.date(2024, 3, 1), "retention", "region", "East", Decimal("50.50")),
    ]
    assert job.rows_total == 3 and job.result["costs_inserted"] == 5
    # Undone like any import: every entry it wrote goes.
    import_undo(job=job)
    assert entries() == []


def test_the_scale_in_a_kind_columns_name_multiplies_its_amounts(run_import: Run) -> None:
    job = run_import("costs", "月份,获客费用(万元),留存费用\n2024-01,1.5,300\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert [(kind, amount) for _m, kind, _d, _v, amount in entries()] == [
        ("acquisition", Decimal("15000.00")), ("retention", Decimal("300.00"))]
    assert "获客费用(万元)" in job.detected["scale_note"]


def test_bad_cells_of_a_wide_row_are_reported_each_in_its_column(run_import: Run) -> None:
    job = run_import("costs", "month,acquisition cost,retention cost\n2024-01,100,20\n2024-02,,\n2024-03,-5,abc\n")
    assert job.status == ImportJob.Status.REJECTED and entries() == []
    assert [(e["line"], e["column"], e["value"], e["reason"]) for e in job.error_report] == [
        (3, "acquisition cost", "", str(REASON_COST_NO_AMOUNT)),
        (4, "acquisition cost", "-5", str(REASON_COST_NEGATIVE)),
        (4, "retention cost", "abc", str(REASON_AMOUNT)),
    ]
    # With "skip the invalid rows": the good row's two entries.
    skipped = run_import("costs", "month,acquisition cost,retention cost\n2024-01,100,20\n2024-02,,\n",
                         skip_invalid=True)
    assert skipped.status == ImportJob.Status.SUCCEEDED, skipped.message
    assert [(kind, amount) for _m, kind, _d, _v, amount in entries()] == [
        ("acquisition", Decimal("100.00")), ("retention", Decimal("20.00"))]


def test_a_file_with_both_shapes_is_refused_naming_the_columns(run_import: Run) -> None:
    job = run_import("costs", "month,kind,amount,retention cost\n2024-01,acquisition,5,6\n")
    assert job.status == ImportJob.Status.REJECTED and entries() == []
    assert '"kind", "amount"' in job.message and '"retention cost"' in job.message


def test_a_wide_cost_sheet_in_a_workbook_reports_the_bad_cell(run_import: Run) -> None:
    def build(book: Workbook) -> None:
        sheet = book.active
        sheet.title = "费用"
        sheet.append(["2024年营销费用"])
        sheet.append(["月份", "获客成本", "留存成本", "渠道"])
        sheet.append([dt.date(2024, 1, 1), 1000, 250, "抖音"])
        sheet.append(["2024-02", 800, "n/a", "抖音"])

    job = run_import("costs", xlsx(build), name="costs.xlsx")
    assert job.status == ImportJob.Status.REJECTED
    assert [(e["cell"], e["column"], e["value"]) for e in job.error_report] == [("费用!C4", "留存成本", "n/a")]
    ok = run_import("costs", xlsx(build), name="costs.xlsx", skip_invalid=True)
    assert ok.status == ImportJob.Status.SUCCEEDED, ok.message
    assert entries() == [
        (dt.date(2024, 1, 1), "acquisition", "acquisition_channel", "抖音", Decimal("1000.00")),
        (dt.date(2024, 1, 1), "retention", "acquisition_channel", "抖音", Decimal("250.00")),
    ]  # an invalid row is skipped whole: February's valid acquisition cost with it
