"""The recompute stores every customer's profitability for the latest month of the data."""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

import pytest

from customers.models import Customer, Transaction
from metrics.calculations import month_index
from metrics.models import (
    CustomerProfitability,
    ProfitabilityCustomerMonth,
    ProfitabilityMonth,
    ProfitabilityShare,
    ProfitabilityTotals,
    RecomputeRun,
)
from metrics.profitability.services import profitability_store
from metrics.services import assumptions_record, snapshots_recompute

from .db import buy

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


def _everything_stored() -> dict[str, list[tuple[object, ...]]]:
    return {
        "customers": sorted(CustomerProfitability.objects.values_list(
            "customer_id", "month", "margin_to_date", "acquisition_cost_allocated", "retention_cost_allocated",
            "net_profit_to_date", "referrals_made", "referral_margin")),
        "months": sorted(ProfitabilityMonth.objects.values_list(
            "scope_dimension", "scope_value", "month", "margin_to_date", "acquisition_cost_allocated",
            "retention_cost_allocated", "net_profit_to_date", "acquisition_cost_unallocated",
            "retention_cost_unallocated")),
        "shares": sorted(ProfitabilityShare.objects.values_list(
            "region", "product_line", "business_unit", "acquisition_channel", "month", "acquisition",
            "retention_equal", "retention_per_purchase")),
        "totals": list(ProfitabilityTotals.objects.values_list(
            "month", "customers", "margin_to_date", "acquisition_cost_allocated", "retention_cost_allocated",
            "acquisition_cost_unallocated", "retention_cost_unallocated", "net_profit_to_date", "whale_peak",
            "loss_making_customers", "loss")),
        "customer_months": sorted(ProfitabilityCustomerMonth.objects.values_list(
            "customer_id", "month", "purchases", "transactions", "margin")),
    }


@pytest.mark.parametrize("driver", ["equal", "purchase"])
def test_a_full_run_allocates_from_its_stages_segment_groups_as_from_the_transactions(
        business: dict[str, int], driver: str, caplog: pytest.LogCaptureFixture) -> None:
    assumptions_record(user=None, note="W of 3", recompute=False, activity_window_months=3,
                       cost_to_serve_driver=driver)
    # A customer with refunds only (a margin, no first purchase) and one with no transactions.
    buy(Customer.objects.create(external_id="G", region="North", product_line="Toys"), dt.date(2024, 3, 5), "-12.50")
    Customer.objects.create(external_id="H", region="South")
    with caplog.at_level(logging.INFO, logger="metrics.profitability.services"):
        run = snapshots_recompute(trigger="test")
    assert run.status == RecomputeRun.Status.SUCCEEDED
    assert "customer months (stage), segment groups (stage)" in caplog.text
    from_stage = _everything_stored()
    assert len(from_stage["customers"]) == 7
    # The same allocation read from the transactions (no stage): the same rows, to the cent.
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="metrics.profitability.services"):
        assert run.assumption_set is not None
        profitability_store(month=month_index(dt.date(2024, 6, 1)), assumption_set=run.assumption_set)
    assert "customer months (all) in" in caplog.text
    assert _everything_stored() == from_stage


@pytest.mark.parametrize(("day", "from_month"), [
    (dt.date(2024, 6, 12), dt.date(2024, 6, 1)),  # an upload of the latest month only
    (dt.date(2024, 2, 20), dt.date(2024, 2, 1)),  # an upload that reaches back to an old month
])
@pytest.mark.parametrize("driver", ["equal", "purchase"])
def test_an_incremental_allocation_equals_the_full_one_after_an_upload(
        business: dict[str, int], day: dt.date, from_month: dt.date, driver: str,
        caplog: pytest.LogCaptureFixture) -> None:
    assumptions_record(user=None, note="W of 3", recompute=False, activity_window_months=3,
                       cost_to_serve_driver=driver)
    snapshots_recompute(trigger="test")
    # The upload: a known customer buys again, a new one appears, a refund.
    b = Customer.objects.get(external_id="B")
    buy(b, day, "80", "20")
    buy(Customer.objects.create(external_id="F", region="North"), day, "55.55")
    buy(Customer.objects.get(external_id="A"), day, "-5")
    with caplog.at_level(logging.INFO, logger="metrics.profitability.services"):
        run = snapshots_recompute(trigger="test", from_month=from_month)
    assert run.status == RecomputeRun.Status.SUCCEEDED
    # Only the months from the upload's on were read again.
    assert "customer months (months)" in caplog.text
    incremental = _everything_stored()
    snapshots_recompute(trigger="test")
    assert _everything_stored() == incremental
    assert ProfitabilityCustomerMonth.objects.filter(customer_id=b.pk, month=month_index(from_month)).exists()


def test_an_incremental_allocation_rebuilds_when_the_earlier_months_changed_unseen(
        business: dict[str, int], caplog: pytest.LogCaptureFixture) -> None:
    assumptions_record(user=None, note="W of 3", recompute=False, activity_window_months=3)
    snapshots_recompute(trigger="test")
    # A transaction of March arrives, but the recompute is asked for June only.
    buy(Customer.objects.get(external_id="E"), dt.date(2024, 3, 3), "20")
    with caplog.at_level(logging.INFO, logger="metrics.profitability.services"):
        snapshots_recompute(trigger="test", from_month=dt.date(2024, 6, 1))
    assert "customer months (all)" in caplog.text
    e = CustomerProfitability.objects.get(customer__external_id="E")
    assert e.margin_to_date == Decimal("16.00")
