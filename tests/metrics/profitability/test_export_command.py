"""`manage.py export_customers`: one row per customer with their profitability, CSV or JSON."""

from __future__ import annotations

import csv
import io
import json
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from customers.models import Customer
from metrics.profitability.selectors import CUSTOMER_EXPORT_FIELDS, ERROR_SEGMENT
from metrics.services import assumptions_record, snapshots_recompute

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def recomputed(business: dict[str, int], settings: Any) -> dict[str, int]:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    assumptions_record(user=None, note="W of 3", recompute=False, activity_window_months=3)
    snapshots_recompute(trigger="test")
    return business


def export(*args: str) -> str:
    out = StringIO()
    call_command("export_customers", *args, stdout=out)
    return out.getvalue()


def test_csv_has_one_row_per_customer_with_the_stored_figures(recomputed: dict[str, int]) -> None:
    rows = list(csv.DictReader(io.StringIO(export("--format", "csv"))))
    assert list(rows[0]) == CUSTOMER_EXPORT_FIELDS
    by_id = {row["customer_id"]: row for row in rows}
    assert set(by_id) == {"A", "B", "C", "D", "E"}
    assert (by_id["A"]["month"], by_id["A"]["margin_to_date"], by_id["A"]["acquisition_cost_allocated"],
            by_id["A"]["retention_cost_allocated"], by_id["A"]["net_profit_to_date"]) == (
        "2024-06", "100.00", "150.00", "53.33", "-103.33")
    # No prediction fitted yet: its fields are blank.
    assert by_id["A"]["predicted_clv"] == "" and by_id["A"]["tier"] == ""


def test_json_of_an_earlier_month_is_computed_to_the_close_of_that_month(recomputed: dict[str, int]) -> None:
    rows = json.loads(export("--format", "json", "--month", "2024-03"))
    a = next(row for row in rows if row["customer_id"] == "A")
    assert (a["month"], a["retention_cost_allocated"], a["net_profit_to_date"]) == ("2024-03", "43.33", "-93.33")


def test_segment_filter_keeps_that_segments_customers(recomputed: dict[str, int]) -> None:
    rows = json.loads(export("--format", "json", "--segment", "region=North"))
    assert [row["customer_id"] for row in rows] == ["A", "C"]
    rows = json.loads(export("--format", "json", "--segment", "region=unassigned"))
    assert [row["customer_id"] for row in rows] == ["E"]


def test_customer_ids_that_look_like_formulas_are_defused_in_csv(recomputed: dict[str, int]) -> None:
    Customer.objects.filter(external_id="D").update(external_id="=HYPERLINK(1)")
    text = export("--format", "csv")
    assert "'=HYPERLINK(1)" in text


def test_bad_arguments_are_refused_with_how_to_fix_them(recomputed: dict[str, int]) -> None:
    with pytest.raises(CommandError, match="must be YYYY-MM"):
        export("--month", "2024-6")
    with pytest.raises(CommandError, match="DIMENSION=VALUE"):
        export("--segment", "colour=red")
    assert "DIMENSION=VALUE" in ERROR_SEGMENT
