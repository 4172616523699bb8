"""Small businesses for the valuation tests."""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

from customers.models import CostEntry, Customer, Transaction
from metrics.calculations import month_from_index, month_index
from metrics.models import AssumptionSet


def assumptions(*, window: int = 2, smoothing: int = 6, **extra: object) -> AssumptionSet:
    return AssumptionSet.objects.create(version=AssumptionSet.objects.count() + 1, note="test",
                                        activity_window_months=window, smoothing_window_months=smoothing, **extra)


def buy(customer: Customer, month: dt.date, revenue: str = "100", day: int = 10) -> None:
    Transaction.objects.create(customer=customer, order_date=month.replace(day=day), revenue=Decimal(revenue),
                               cost=None, order_id=f"O{Transaction.objects.count() + 1}")


def m(year: int, month: int) -> dt.date:
    return dt.date(year, month, 1)


def tiny_cohorts() -> None:
    """W = 2, data January..August 2024: the warm-up is January and February.
    Z (warm-up) buys in January only. Cohort March (North): A buys in March only (first lapse May:
    period 1); B buys in March and April, refunds in May (not a purchase), buys again in July
    (first lapse June: period 2); C buys in March, May, July and August (chained: not lapsed).
    Cohort April (South): D buys in April only (lapse June: period 1); E in April and June (lapse
    August: period 3). F (North) buys in July: observed for no period yet.
    Survivors: March [3, 2, 1, 1, 1] (periods 0..4), April [2, 1, 1, 0] (periods 0..3)."""
    z, a, b, c, d, e, f = (Customer.objects.create(external_id=x, region=r) for x, r in [
        ("Z", "North"), ("A", "North"), ("B", "North"), ("C", "North"), ("D", "South"), ("E", "South"), ("F", "North")])
    buy(z, m(2024, 1))
    buy(a, m(2024, 3))
    buy(b, m(2024, 3))
    buy(b, m(2024, 4))
    buy(b, m(2024, 5), "-40")
    buy(b, m(2024, 7))
    for month in (3, 5, 7, 8):
        buy(c, m(2024, month))
    buy(d, m(2024, 4))
    buy(e, m(2024, 4))
    buy(e, m(2024, 6))
    buy(f, m(2024, 7))


def growing_business(*, months: int = 24, seed: int = 7) -> None:
    """January 2024 on: 12 + month new customers a month, a third loyal (buy again each month with
    probability 0.85), a third middling (0.5), a third flighty (0.15); revenue 100 a purchase (30%
    margin by default); acquisition cost 600 a month, retention cost 200 a month."""
    rng = random.Random(seed)
    start = month_index(m(2024, 1))
    rows: list[Transaction] = []
    n = 0
    regions = ["North", "South"]
    for k in range(months):
        for j in range(12 + k):
            n += 1
            person = Customer.objects.create(external_id=f"G{n:05d}", region=regions[j % 2])
            loyalty = (0.85, 0.5, 0.15)[j % 3]
            for later in range(k, months):
                if later == k or rng.random() < loyalty:
                    rows.append(Transaction(customer=person, order_date=month_from_index(start + later).replace(day=12),
                                            revenue=Decimal("100"), order_id=f"G{len(rows) + 1}"))
        CostEntry.objects.create(month=month_from_index(start + k), kind="acquisition", amount=Decimal("600"))
        CostEntry.objects.create(month=month_from_index(start + k), kind="retention", amount=Decimal("200"))
    Transaction.objects.bulk_create(rows, batch_size=2000)


def spiking_region(*, months: int = 24) -> None:
    """Beside growing_business(months): region "Spike", whose new customers of the last six
    months double at the end (1, 1, 1, 2, 4, 8), each buying every other month."""
    start = month_index(m(2024, 1))
    for k, count in zip(range(months - 6, months), [1, 1, 1, 2, 4, 8], strict=True):
        for j in range(count):
            person = Customer.objects.create(external_id=f"S{k}-{j}", region="Spike")
            for later in range(k, months, 2):
                buy(person, month_from_index(start + later))
