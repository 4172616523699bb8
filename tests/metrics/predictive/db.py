"""Load the CDNOW sample into Customer and Transaction rows for the database tests."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import cast

import numpy as np

from customers.models import Customer, Transaction
from tests.factories import CustomerFactory, TransactionFactory

from .cdnow import sample_transactions


def cdnow_load() -> dict[int, int]:
    """Every line of the sample as one Transaction (no cost: the default margin rate applies).

    Returns sample customer id -> Customer pk."""
    frame = sample_transactions()
    regions = ["North", "South", "East", ""]
    customers = Customer.objects.bulk_create(
        Customer(external_id=f"CD{cid:05d}", region=regions[cid % 4]) for cid in sorted(frame["customer_id"].unique())
    )
    pk_of = {int(c.external_id[2:]): c.pk for c in customers}
    Transaction.objects.bulk_create(
        (
            Transaction(customer_id=pk_of[int(row.customer_id)], order_id="", order_date=row.order_date,
                        revenue=Decimal(str(row.revenue)), cost=None)
            for row in frame.itertuples()
        ),
        batch_size=5000,
    )
    return pk_of


def buy(customer: Customer, *days: dt.date, revenue: str = "100") -> None:
    """One transaction per day, no cost (the default margin rate applies)."""
    for day in days:
        TransactionFactory(customer=customer, order_date=day, revenue=Decimal(revenue), cost=None)


def business_simulate(n: int = 80, seed: int = 11) -> list[Customer]:
    """Customers simulated from the BG/NBD story over 2024 (seeded): Poisson purchases while alive,
    a chance to drop out after each purchase, spend varying around each customer's own mean."""
    rng = np.random.default_rng(seed)
    start, end = dt.date(2024, 1, 1), dt.date(2024, 12, 31)
    customers: list[Customer] = []
    for i in range(n):
        c = cast(Customer, CustomerFactory(external_id=f"S{i:03d}"))
        rate = rng.gamma(0.8, 1 / 20.0)  # purchases per day while alive
        drop = rng.beta(1.0, 3.0)
        mean_spend = rng.gamma(4.0, 20.0)
        day = start + dt.timedelta(days=int(rng.integers(0, 120)))
        while day <= end:
            buy(c, day, revenue=f"{rng.gamma(6.0, mean_spend / 6.0):.2f}")
            if rng.random() < drop:
                break
            day += dt.timedelta(days=1 + int(rng.exponential(1 / rate)))
        customers.append(c)
    return customers
