"""The set-based referral counts of the recompute equal the pure rules on a random business
(self, unknown and newer referrers, refund-only customers, customers without purchases)."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter
from decimal import Decimal
from typing import Any

import pandas as pd
import pytest

from customers.models import Customer, Transaction
from metrics.calculations import month_index
from metrics.models import AssumptionSet, CustomerProfitability, MonthlySnapshot
from metrics.referrals.maths import counted_referrals, referrals_by_referrer
from metrics.services import snapshots_recompute


@pytest.fixture(autouse=True)
def _quick(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    settings.CLV_VALUATION_AFTER_RECOMPUTE = False


@pytest.mark.parametrize("seed", [1, 2])
def test_the_recompute_counts_the_referrals_the_rules_count(db: None, seed: int) -> None:
    rng = random.Random(seed)
    AssumptionSet.objects.create(version=AssumptionSet.objects.count() + 1, note="test", activity_window_months=4)
    ids = [f"K{i:03d}" for i in range(80)]
    people = []
    for external_id in ids:
        roll = rng.random()
        referred_by = (None if roll < 0.3 else external_id if roll < 0.35 else f"X{rng.randrange(9)}" if roll < 0.42
                       else rng.choice(ids))
        people.append(Customer.objects.create(external_id=external_id, region=rng.choice(["N", "S", ""]),
                                              referred_by=referred_by))
    order = 0
    for person in people:
        if rng.random() < 0.1:
            continue  # no transaction at all
        for _ in range(rng.randrange(1, 4)):
            order += 1
            revenue = Decimal(rng.randrange(-20, 200)) if rng.random() < 0.9 else Decimal(-15)
            Transaction.objects.create(customer=person, order_id=f"O{order}", revenue=revenue, cost=None,
                                       order_date=dt.date(2024, 1, 1) + dt.timedelta(days=rng.randrange(360)))
    snapshots_recompute(trigger="test")

    first: dict[int, int] = {}
    for pk, day in Transaction.objects.filter(revenue__gte=0).values_list("customer_id", "order_date"):
        first[pk] = min(first.get(pk, 10**6), month_index(day))
    frame = pd.DataFrame(
        [(c.pk, c.external_id, c.referred_by, float(first[c.pk]) if c.pk in first else float("nan")) for c in people],
        columns=["customer_id", "external_id", "referred_by", "first_m"],
    )
    counted = counted_referrals(frame)
    assert len(counted) > 5
    by_month = Counter(counted["first_m"].tolist())
    stored = {month_index(m): n for m, n in MonthlySnapshot.objects.filter(scope_dimension="company")
              .values_list("month", "referred_new_customers")}
    assert stored == {m: by_month.get(m, 0) for m in stored}
    assert sum(stored.values()) == len(counted)
    margins = dict(CustomerProfitability.objects.values_list("customer_id", "margin_to_date"))
    expected = {int(r.referrer_id): (int(r.referrals_made), Decimal(r.referral_margin))
                for r in referrals_by_referrer(counted, margins).itertuples()}
    got = {pk: (made, margin) for pk, made, margin in CustomerProfitability.objects.filter(referrals_made__gt=0)
           .values_list("customer_id", "referrals_made", "referral_margin")}
    assert got == expected
