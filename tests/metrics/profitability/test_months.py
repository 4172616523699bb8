"""Monthly profitability totals per scope, and one customer's allocated costs month by month."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from customers.models import Customer
from metrics.calculations import month_index
from metrics.models import CustomerProfitability, ProfitabilityMonth, ProfitabilityShare
from metrics.profitability.maths.months import TOTAL_COLUMNS, group_shares, money, monthly_totals
from metrics.profitability.selectors import allocation_frames, customer_profitability_months
from metrics.profitability.services import profitability_store

from .db import assumptions, buy, spend

pytestmark = [pytest.mark.django_db]

D = Decimal


def _totals(dimension: str, value: str) -> dict[str, tuple[Decimal, ...]]:
    return {f"{r.month:%Y-%m}": (r.margin_to_date, r.acquisition_cost_allocated, r.retention_cost_allocated,
                                 r.net_profit_to_date, r.acquisition_cost_unallocated, r.retention_cost_unallocated)
            for r in ProfitabilityMonth.objects.filter(scope_dimension=dimension, scope_value=value)}


def test_monthly_totals_of_two_scopes_follow_the_hand_worked_allocation(business: dict[str, int]) -> None:
    """The business of tests/metrics/profitability/db.py, W = 3, equal shares. January: A and B
    new (150 each of 300), margins A 40, B 60. February: C new in the North (80), the untagged
    retention 100 shared by A, B, C; margins C 50, D -6. June, to date: A 100, B 60, C 41, D -6,
    E 10; the April acquisition (nobody new) and the June South retention (nobody active there)
    unallocated."""
    profitability_store(month=month_index(dt.date(2024, 6, 1)), assumption_set=assumptions(window=3))
    company, north, south = _totals("company", ""), _totals("region", "North"), _totals("region", "South")
    assert list(company) == ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05", "2024-06"]
    assert company["2024-01"] == (D("100.00"), D("300.00"), D("0.00"), D("-200.00"), D("0.00"), D("0.00"))
    assert company["2024-02"] == (D("144.00"), D("380.00"), D("100.00"), D("-336.00"), D("0.00"), D("0.00"))
    assert company["2024-04"][4] == D("40.00")
    assert company["2024-06"] == (D("205.00"), D("380.00"), D("130.00"), D("-305.00"), D("40.00"), D("7.00"))
    # The North (A and C): A's share of January, then C's 80 and two thirds of 100 in February.
    assert north["2024-01"] == (D("40.00"), D("150.00"), D("0.00"), D("-110.00"), D("0.00"), D("0.00"))
    assert north["2024-02"] == (D("90.00"), D("230.00"), D("66.67"), D("-206.67"), D("0.00"), D("0.00"))
    assert north["2024-06"] == (D("141.00"), D("230.00"), D("96.67"), D("-185.67"), D("0.00"), D("0.00"))
    # An entry tagged with a segment that reaches nobody is that segment's unallocated cost.
    assert south["2024-06"][5] == D("7.00") and south["2024-05"][5] == D("0.00")


def test_the_latest_months_totals_are_the_sums_of_the_stored_customer_figures(business: dict[str, int]) -> None:
    profitability_store(month=month_index(dt.date(2024, 6, 1)), assumption_set=assumptions(window=3))
    customers = {c.pk: c for c in Customer.objects.all()}
    rows = list(CustomerProfitability.objects.all())
    for dimension, value in [("company", ""), ("region", "North"), ("region", "South"), ("region", "unassigned")]:
        mine = [r for r in rows if dimension == "company"
                or (getattr(customers[r.customer_id], dimension).strip() or "unassigned") == value]
        latest = ProfitabilityMonth.objects.get(scope_dimension=dimension, scope_value=value, month=dt.date(2024, 6, 1))
        assert latest.margin_to_date == sum(r.margin_to_date for r in mine)
        # Each customer's figure is rounded once, the scope's sum once: half a cent per customer at most.
        for field in ["acquisition_cost_allocated", "retention_cost_allocated", "net_profit_to_date"]:
            assert abs(getattr(latest, field) - sum(getattr(r, field) for r in mine)) <= D("0.005") * len(mine)
    # Exactly so where the shares are whole cents: the South (B and D).
    south = ProfitabilityMonth.objects.get(scope_dimension="region", scope_value="South", month=dt.date(2024, 6, 1))
    assert south.net_profit_to_date == D("-129.33") == sum(r.net_profit_to_date for r in rows
                                                        if customers[r.customer_id].region == "South")


def test_a_dimensions_segments_add_up_to_the_company_every_month(business: dict[str, int]) -> None:
    profitability_store(month=month_index(dt.date(2024, 6, 1)), assumption_set=assumptions(window=3, driver="purchase"))
    company = _totals("company", "")
    for month, figures in company.items():
        parts = [t[month] for v in ["North", "South", "unassigned"] for t in [_totals("region", v)]]
        for i in range(4):
            assert abs(sum(p[i] for p in parts) - figures[i]) <= D("0.02")


def _random_business(seed: int) -> None:
    rng = random.Random(seed)
    regions, channels = ["North", "South", ""], ["web", "shop"]
    people = [Customer.objects.create(external_id=f"R{i}", region=rng.choice(regions),
                                      acquisition_channel=rng.choice(channels)) for i in range(25)]
    for person in people:
        for _ in range(rng.randint(0, 5)):
            revenue = rng.choice(["-15.50", "0", "12.34", "40", "99.99"])
            buy(person, dt.date(2024, rng.randint(1, 8), rng.randint(1, 28)), revenue,
                None if rng.random() < 0.4 else "3.21")
    for month in range(1, 9):
        spend(month, "acquisition", f"{rng.randint(10, 200)}.{rng.randint(0, 99):02d}")
        spend(month, "retention", f"{rng.randint(10, 200)}.{rng.randint(0, 99):02d}")
        spend(month, "retention", "33.34", "region", rng.choice(["North", "South", "unassigned"]))
        spend(month, "acquisition", "17.00", "acquisition_channel", rng.choice(channels))


@pytest.mark.parametrize(("seed", "driver", "window"), [(1, "equal", 3), (2, "purchase", 1), (3, "purchase", 3)])
def test_the_sql_monthly_totals_equal_the_pure_reference(seed: int, driver: str, window: int) -> None:
    _random_business(seed)
    last = month_index(dt.date(2024, 8, 1))
    profitability_store(month=last, assumption_set=assumptions(window=window, driver=driver))
    customers, activity, entries, margins = allocation_frames(month=last, window=window, margin_rate=D("0.30"))
    shares, unallocated = group_shares(customers=customers, activity=activity, entries=entries, driver=driver)
    reference = monthly_totals(customers=customers, activity=activity, margins=margins, shares=shares,
                               unallocated=unallocated, first_month=int(margins["m"].min()), last_month=last)
    stored = {(r.scope_dimension, r.scope_value, month_index(r.month)): r for r in ProfitabilityMonth.objects.all()}
    checked = 0
    for d, v, m, margin, acq, ret, acq_un, ret_un in reference[TOTAL_COLUMNS].itertuples(index=False, name=None):
        row = stored[(d, v, int(m))]
        assert row.margin_to_date == money(margin)
        assert abs(row.acquisition_cost_allocated - money(acq)) <= D("0.01")
        assert abs(row.retention_cost_allocated - money(ret)) <= D("0.01")
        assert (row.acquisition_cost_unallocated, row.retention_cost_unallocated) == (money(acq_un), money(ret_un))
        checked += 1
    assert checked == len(stored)
    # Every customer's month-by-month figures end at their stored figures, within a cent.
    for person in Customer.objects.all():
        months = customer_profitability_months(customer=person)
        assert months is not None
        stored_row = CustomerProfitability.objects.get(customer=person)
        for mine, theirs in [(months.acquisition_cost_allocated, stored_row.acquisition_cost_allocated),
                             (months.retention_cost_allocated, stored_row.retention_cost_allocated),
                             (months.margin_to_date, stored_row.margin_to_date),
                             (months.net_profit_to_date, stored_row.net_profit_to_date)]:
            assert abs(mine - theirs) <= D("0.01")


def test_a_customers_months_show_what_each_month_allocated_them(business: dict[str, int]) -> None:
    """A (North, W = 3): January 150 of the acquisition and a margin of 40; February a third of
    100; March 10 of the North's 20 and a margin of 60; April nothing; May all of 10."""
    profitability_store(month=month_index(dt.date(2024, 6, 1)), assumption_set=assumptions(window=3))
    assert ProfitabilityShare.objects.exists()
    months = customer_profitability_months(customer=Customer.objects.get(external_id="A"))
    assert months is not None
    rows = {f"{r.month:%Y-%m}": (r.margin, r.acquisition_cost, r.retention_cost, r.net_profit_to_date)
            for r in months.rows}
    assert rows == {
        "2024-01": (D("40.00"), D("150.00"), D("0.00"), D("-110.00")),
        "2024-02": (D("0.00"), D("0.00"), D("33.33"), D("-143.33")),
        "2024-03": (D("60.00"), D("0.00"), D("10.00"), D("-93.33")),
        "2024-04": (D("0.00"), D("0.00"), D("0.00"), D("-93.33")),
        "2024-05": (D("0.00"), D("0.00"), D("10.00"), D("-103.33")),
    }
    assert months.net_profit_to_date == months.stored.net_profit_to_date == D("-103.33")
    # D only refunds: never active, no cost; their margin alone.
    refunds = customer_profitability_months(customer=Customer.objects.get(external_id="D"))
    assert refunds is not None
    assert [(f"{r.month:%Y-%m}", r.active, r.net_profit_to_date) for r in refunds.rows] == [
        ("2024-02", False, D("-6.00"))]


def test_a_customers_months_are_none_before_any_allocation(business: dict[str, int]) -> None:
    assert customer_profitability_months(customer=Customer.objects.get(external_id="A")) is None
