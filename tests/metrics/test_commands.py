"""recompute_snapshots and export_snapshots."""

from __future__ import annotations

import csv
import datetime as dt
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from metrics.models import MonthlySnapshot, RecomputeRun
from metrics.selectors import CLOSED_MONTH_FIELDS, EXPORT_FIELDS
from tests.factories import CustomerFactory, TransactionFactory


@pytest.fixture
def data(db: None, settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    customer = CustomerFactory(region="North")
    for month in [1, 2, 3]:
        TransactionFactory(customer=customer, order_date=dt.date(2024, month, 3))


def test_recompute_command_computes_everything_or_from_a_month(data: None) -> None:
    out = StringIO()
    call_command("recompute_snapshots", stdout=out)
    assert "succeeded" in out.getvalue()
    assert MonthlySnapshot.objects.filter(scope_dimension="company").count() == 3
    call_command("recompute_snapshots", "--from", "2024-03", stdout=out)
    assert RecomputeRun.objects.latest("pk").from_month == dt.date(2024, 3, 1)
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("recompute_snapshots", "--from", "March")


def test_export_prints_one_row_per_month_with_the_metric_names(data: None) -> None:
    call_command("recompute_snapshots", stdout=StringIO())
    out = StringIO()
    call_command("export_snapshots", stdout=out)
    rows = list(csv.DictReader(StringIO(out.getvalue())))
    # A closed month's published figures and restatement follow (empty here: nothing is closed).
    assert list(rows[0]) == [*EXPORT_FIELDS, *CLOSED_MONTH_FIELDS]
    assert [r["month"] for r in rows] == ["2024-01", "2024-02", "2024-03"]
    assert rows[0]["revenue"] == "100.00" and rows[0]["monthly_retention"] == ""
    out = StringIO()
    call_command("export_snapshots", "--segment", "region=North", "--format", "json", stdout=out)
    data_rows = json.loads(out.getvalue())
    assert {r["scope_value"] for r in data_rows} == {"North"} and len(data_rows) == 3
    with pytest.raises(CommandError, match="DIMENSION=VALUE"):
        call_command("export_snapshots", "--segment", "North")


def test_export_neutralises_a_segment_value_a_spreadsheet_would_run_and_keeps_negative_money(
    db: None, settings: Any
) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    customer = CustomerFactory(region="=HYPERLINK(1)")
    TransactionFactory(customer=customer, order_date=dt.date(2024, 1, 3), revenue="-40.00", cost=None)
    TransactionFactory(customer=customer, order_date=dt.date(2024, 1, 4), revenue="10.00", cost=None)
    call_command("recompute_snapshots", stdout=StringIO())
    out = StringIO()
    call_command("export_snapshots", "--segment", "region==HYPERLINK(1)", stdout=out)
    row = next(csv.DictReader(StringIO(out.getvalue())))
    assert row["scope_value"] == "'=HYPERLINK(1)"
    assert row["revenue"] == "-30.00"
