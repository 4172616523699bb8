"""The set-based allocation in PostgreSQL against hand-worked figures and the pure maths."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from customers.models import CostEntry, Customer, Transaction
from metrics.calculations import month_index
from metrics.models import AssumptionSet
from metrics.profitability.selectors import RESULT_COLUMNS, allocation_compute
from metrics.profitability.services import profitability_rows

from .db import assumptions, spend

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

JUN = month_index(dt.date(2024, 6, 1))
MAR = month_index(dt.date(2024, 3, 1))


def rows(month: int, assumption_set: AssumptionSet, ids: dict[str, int]) -> dict[str, tuple[Decimal, ...]]:
    frame, _totals = profitability_rows(month=month, assumption_set=assumption_set)
    names = {pk: name for name, pk in ids.items()}
    return {names[r[0]]: tuple(Decimal(v) for v in r[1:]) for r in frame[RESULT_COLUMNS].itertuples(index=False)}


def D(*values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values)


def test_equal_driver_allocation_matches_the_hand_worked_figures(business: dict[str, int]) -> None:
    got = rows(JUN, assumptions(driver="equal"), business)
    # margin, acquisition, retention, net
    assert got == {
        "A": D("100.00", "150.00", "53.33", "-103.33"),  # 100/3 + 10 + 10
        "B": D("60.00", "150.00", "33.33", "-123.33"),
        "C": D("41.00", "80.00", "43.33", "-82.33"),  # 50 - 9 (refund at 30%); 100/3 + 10
        "D": D("-6.00", "0.00", "0.00", "-6.00"),
        "E": D("10.00", "0.00", "0.00", "10.00"),
    }


def test_purchase_driver_allocation_matches_the_hand_worked_figures(business: dict[str, int]) -> None:
    got = rows(JUN, assumptions(driver="purchase"), business)
    assert got == {
        "A": D("100.00", "150.00", "30.00", "-80.00"),
        "B": D("60.00", "150.00", "0.00", "-90.00"),
        "C": D("41.00", "80.00", "100.00", "-139.00"),
        "D": D("-6.00", "0.00", "0.00", "-6.00"),
        "E": D("10.00", "0.00", "0.00", "10.00"),
    }


def test_totals_report_what_was_spent_shared_and_left_unallocated(business: dict[str, int]) -> None:
    _frame, totals = profitability_rows(month=JUN, assumption_set=assumptions(driver="equal"))
    assert totals.customers == 5
    assert (totals.acquisition_cost, totals.acquisition_cost_allocated, totals.acquisition_cost_unallocated) == D(
        "420.00", "380.00", "40.00")
    assert (totals.retention_cost, totals.retention_cost_unallocated) == D("137.00", "7.00")
    # 130 shared among three customers rounds to 129.99: within a cent per customer.
    assert totals.retention_cost_allocated == Decimal("129.99")
    assert totals.net_profit_to_date == Decimal("-304.99")


def test_allocation_to_an_earlier_month_ignores_later_transactions_and_entries(business: dict[str, int]) -> None:
    got = rows(MAR, assumptions(driver="equal"), business)
    assert got["A"] == D("100.00", "150.00", "43.33", "-93.33")
    assert got["C"] == D("50.00", "80.00", "43.33", "-73.33")
    assert got["E"] == D("0.00", "0.00", "0.00", "0.00")
    _frame, totals = profitability_rows(month=MAR, assumption_set=assumptions(driver="equal"))
    assert (totals.acquisition_cost_unallocated, totals.retention_cost_unallocated) == D("0.00", "0.00")


def test_a_cost_tagged_unassigned_goes_to_customers_without_that_value(business: dict[str, int]) -> None:
    spend(6, "retention", "4.00", "region", "unassigned")
    got = rows(JUN, assumptions(driver="equal"), business)
    assert got["E"][2] == Decimal("4.00")


def _random_business(seed: int) -> None:
    rng = random.Random(seed)
    regions, channels = ["North", "South", ""], ["web", "shop", ""]
    people = [Customer.objects.create(external_id=f"R{i}", region=rng.choice(regions),
                                      acquisition_channel=rng.choice(channels)) for i in range(40)]
    for n in range(160):
        who = rng.choice(people)
        day = dt.date(2023, rng.randint(1, 12), rng.randint(1, 28))
        revenue = rng.choice(["-15.55", "0", "19.99", "120.10", "333.33"])
        Transaction.objects.create(customer=who, order_date=day, revenue=Decimal(revenue), order_id=f"X{n}",
                                   cost=rng.choice([None, Decimal("7.77")]))
    tags = [("", ""), ("region", "North"), ("region", "unassigned"), ("acquisition_channel", "web"),
            ("region", "West")]
    seen = set()
    for _ in range(30):
        month, kind, tag = rng.randint(1, 12), rng.choice(["acquisition", "retention"]), rng.choice(tags)
        if (month, kind, tag) in seen:
            continue
        seen.add((month, kind, tag))
        CostEntry.objects.create(month=dt.date(2023, month, 1), kind=kind, segment_dimension=tag[0],
                                 segment_value=tag[1], amount=Decimal(rng.randint(1, 10**6)) / 100)


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("driver", ["equal", "purchase"])
@pytest.mark.parametrize("window", [1, 3])
def test_sql_allocation_equals_the_pure_maths_on_random_businesses(seed: int, driver: str, window: int) -> None:
    _random_business(seed)
    assumption_set = assumptions(driver=driver, window=window)
    for month in (month_index(dt.date(2023, 7, 1)), month_index(dt.date(2023, 12, 1))):
        frame, totals = profitability_rows(month=month, assumption_set=assumption_set)
        reference = allocation_compute(month=month, window=window, margin_rate=Decimal("0.3"), driver=driver)
        expected = reference.customers.sort_values("customer_id")[RESULT_COLUMNS]
        assert [tuple(r) for r in frame[RESULT_COLUMNS].itertuples(index=False)] == [
            tuple(r) for r in expected.itertuples(index=False)
        ]
        assert float(totals.acquisition_cost_unallocated) == pytest.approx(reference.acquisition_unallocated, abs=0.005)
        assert float(totals.retention_cost_unallocated) == pytest.approx(reference.retention_unallocated, abs=0.005)
        # Allocated totals add up to the entries shared out, within a cent per customer.
        shared = totals.acquisition_cost + totals.retention_cost - totals.acquisition_cost_unallocated \
            - totals.retention_cost_unallocated
        allocated = totals.acquisition_cost_allocated + totals.retention_cost_allocated
        assert abs(allocated - shared) <= Decimal("0.01") * totals.customers
