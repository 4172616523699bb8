"""The recompute stores every customer's profitability for the latest month of the data."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from customers.models import Transaction
from metrics.models import CustomerProfitability, ProfitabilityTotals, RecomputeRun
from metrics.services import assumptions_record, snapshots_recompute

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


def test_recompute_stores_each_customers_profit_and_the_totals(business: dict[str, int]) -> None:
    assumptions_record(user=None, note="W of 3", recompute=False, activity_window_months=3)
    run = snapshots_recompute(trigger="test")
    assert run.status == RecomputeRun.Status.SUCCEEDED
    stored = {row.customer.external_id: row for row in CustomerProfitability.objects.select_related("customer")}
    assert set(stored) == {"A", "B", "C", "D", "E"}
    assert stored["A"].month == dt.date(2024, 6, 1)
    assert (stored["A"].margin_to_date, stored["A"].acquisition_cost_allocated, stored["A"].retention_cost_allocated,
            stored["A"].net_profit_to_date) == (Decimal("100.00"), Decimal("150.00"), Decimal("53.33"),
                                                Decimal("-103.33"))
    totals = ProfitabilityTotals.objects.get()
    assert (totals.cost_to_serve_driver, totals.acquisition_cost_unallocated, totals.retention_cost_unallocated) == (
        "equal", Decimal("40.00"), Decimal("7.00"))
    assert totals.net_profit_to_date == sum(row.net_profit_to_date for row in stored.values())


def test_recompute_with_the_purchase_driver_rewrites_the_rows(business: dict[str, int]) -> None:
    assumptions_record(user=None, note="W of 3", recompute=False, activity_window_months=3)
    snapshots_recompute(trigger="test")
    assumptions_record(user=None, note="per purchase", recompute=False, cost_to_serve_driver="purchase")
    snapshots_recompute(trigger="test")
    c = CustomerProfitability.objects.get(customer__external_id="C")
    assert (c.retention_cost_allocated, c.net_profit_to_date) == (Decimal("100.00"), Decimal("-139.00"))
    assert ProfitabilityTotals.objects.get().cost_to_serve_driver == "purchase"
    assert CustomerProfitability.objects.count() == 5


def test_recompute_without_transactions_clears_the_stored_profitability(business: dict[str, int]) -> None:
    snapshots_recompute(trigger="test")
    assert CustomerProfitability.objects.exists()
    Transaction.objects.all().delete()
    snapshots_recompute(trigger="test")
    assert not CustomerProfitability.objects.exists()
    assert not ProfitabilityTotals.objects.exists()


def test_an_incremental_recompute_stores_the_same_figures_as_a_full_one(business: dict[str, int]) -> None:
    assumptions_record(user=None, note="W of 3", recompute=False, activity_window_months=3)
    snapshots_recompute(trigger="test")
    full = sorted(CustomerProfitability.objects.values_list("customer_id", "net_profit_to_date",
                                                            "retention_cost_allocated"))
    run = snapshots_recompute(trigger="test", from_month=dt.date(2024, 6, 1))
    assert run.status == RecomputeRun.Status.SUCCEEDED
    assert sorted(CustomerProfitability.objects.values_list("customer_id", "net_profit_to_date",
                                                            "retention_cost_allocated")) == full
