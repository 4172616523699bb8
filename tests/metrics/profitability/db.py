"""A hand-worked business for the profitability tests (see the `business` fixture)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from customers.models import CostEntry, Customer, Transaction
from metrics.models import AssumptionSet


def assumptions(*, driver: str = "equal", window: int = 3) -> AssumptionSet:
    return AssumptionSet.objects.create(version=AssumptionSet.objects.count() + 1, note="test",
                                        activity_window_months=window, cost_to_serve_driver=driver)


def buy(customer: Customer, day: dt.date, revenue: str, cost: str | None = None) -> None:
    Transaction.objects.create(customer=customer, order_date=day, revenue=Decimal(revenue),
                               cost=None if cost is None else Decimal(cost),
                               order_id=f"O{Transaction.objects.count() + 1}")


def spend(month: int, kind: str, amount: str, dimension: str = "", value: str = "") -> None:
    CostEntry.objects.create(month=dt.date(2024, month, 1), kind=kind, amount=Decimal(amount),
                             segment_dimension=dimension, segment_value=value)


def hand_worked_business() -> dict[str, int]:
    """W = 3, data January..June 2024 (the warm-up is January..March), margin rate 30%.
    A (North) buys in January and twice in March: active January..May. B (South) buys in
    January: active January..March. C (North) buys in February, refunds in April. D (South)
    only refunds. E (no region) buys in June."""
    a, b, c, d, e = (Customer.objects.create(external_id=x, region=r) for x, r in
                     [("A", "North"), ("B", "South"), ("C", "North"), ("D", "South"), ("E", " ")])
    buy(a, dt.date(2024, 1, 5), "100", "60")
    buy(a, dt.date(2024, 3, 2), "50", "20")
    buy(a, dt.date(2024, 3, 20), "50", "20")
    buy(b, dt.date(2024, 1, 9), "200")
    buy(c, dt.date(2024, 2, 14), "100", "50")
    buy(c, dt.date(2024, 4, 1), "-30")
    buy(d, dt.date(2024, 2, 3), "-20")
    buy(e, dt.date(2024, 6, 30), "10", "0")
    spend(1, "acquisition", "300.00")  # A and B, new in the warm-up: 150 each
    spend(2, "acquisition", "80.00", "region", "North")  # C
    spend(4, "acquisition", "40.00")  # nobody new in April: unallocated
    spend(2, "retention", "100.00")  # A, B, C active: 33.33... each; per purchase: C (the one buyer)
    spend(3, "retention", "20.00", "region", "North")  # A, C: 10 each; per purchase: A (2 purchases)
    spend(5, "retention", "10.00")  # only A active, no purchase in May: A either way
    spend(6, "retention", "7.00", "region", "South")  # nobody in the South is active in June
    return {x.external_id: x.pk for x in (a, b, c, d, e)}


def whale_business(*, customers: int = 60) -> None:
    """A business with a few very profitable customers and a loss-making tail: customer i buys
    (i % 7) + 1 times, more for a few; acquisition and retention costs every month."""
    regions = ["North", "South", "East"]
    n = 0
    for i in range(customers):
        person = Customer.objects.create(external_id=f"W{i:03d}", name=f"客户 {i}", region=regions[i % 3])
        visits = (i % 7) + 1 + (12 if i % 17 == 0 else 0)
        for k in range(visits):
            n += 1
            revenue = Decimal(40 + (i * 13) % 200)
            Transaction.objects.create(customer=person, order_id=f"WO{n}", revenue=revenue, cost=revenue / 2,
                                       order_date=dt.date(2024, 1 + (i + k) % 12, 1 + (i * 7 + k) % 27))
    for month in range(1, 13):
        spend(month, "acquisition", "150.00")
        spend(month, "retention", "300.00")
        spend(month, "retention", "60.00", "region", "North")
