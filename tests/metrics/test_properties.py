"""Properties of the recompute on random small businesses (hypothesis)."""

from __future__ import annotations

import datetime as dt
import os
from collections import defaultdict
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from customers.models import CostEntry, Customer, Transaction
from metrics.models import AssumptionSet, CohortCell, MonthlySnapshot, RecomputeRun
from metrics.services import assumptions_record, snapshots_recompute

COUNTS = ["customers_start", "customers_end", "new_customers", "retained_customers", "reactivated_customers",
          "churned_customers"]
DIMENSIONS = ["region", "acquisition_channel", "business_unit", "product_line"]

customers_st = st.lists(st.tuples(st.sampled_from(["N", "S", ""]), st.sampled_from(["a", "b", ""])), min_size=1, max_size=7)
transactions_st = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 11), st.sampled_from([-40, 0, 25, 100, 310]), st.booleans()),
    min_size=1, max_size=30,
)
costs_st = st.lists(
    st.tuples(st.integers(0, 11), st.sampled_from(["acquisition", "retention"]), st.integers(1, 100000),
              st.sampled_from([("", ""), ("region", "N"), ("region", "Z"), ("acquisition_channel", "b")])),
    max_size=8,
)
# Each example recomputes a small business several times (about 3 s): the suite runs a dozen;
# CLV_PROPERTY_EXAMPLES=200 bin/test tests/metrics/test_properties.py searches wider.
PROPERTY_EXAMPLES = int(os.environ.get("CLV_PROPERTY_EXAMPLES", "12"))
PROPERTY_SETTINGS = settings(max_examples=PROPERTY_EXAMPLES, phases=[Phase.explicit, Phase.generate], deadline=None,
                             suppress_health_check=[HealthCheck.function_scoped_fixture])


def _month(offset: int) -> dt.date:
    return dt.date(2023 + (offset + 4) // 12, (offset + 4) % 12 + 1, 1)


def _load(customers: list[tuple[str, str]], transactions: list[Any], costs: list[Any], w: int, window: int) -> None:
    Transaction.objects.all().delete()
    CostEntry.objects.all().delete()
    Customer.objects.all().delete()
    MonthlySnapshot.objects.all().delete()
    CohortCell.objects.all().delete()
    RecomputeRun.objects.all().delete()
    AssumptionSet.objects.exclude(version=1).delete()
    made = [Customer.objects.create(external_id=f"C{i}", region=r, acquisition_channel=c) for i, (r, c) in enumerate(customers)]
    Transaction.objects.bulk_create(
        Transaction(customer=made[i % len(made)], order_id=f"O{n}", order_date=_month(m).replace(day=1 + (n % 28)),
                    revenue=Decimal(rev), cost=Decimal(rev) / 2 if has_cost else None)
        for n, (i, m, rev, has_cost) in enumerate(transactions)
    )
    seen = set()
    for m, kind, cents, (dim, value) in costs:
        if (m, kind, dim, value) not in seen:
            seen.add((m, kind, dim, value))
            CostEntry.objects.create(month=_month(m), kind=kind, amount=Decimal(cents) / 100, segment_dimension=dim,
                                     segment_value=value)
    assumptions_record(user=None, note="property", recompute=False, activity_window_months=w, smoothing_window_months=window)


def _dump() -> dict[Any, Any]:
    rows = {}
    for s in MonthlySnapshot.objects.all():
        rows[(s.month, s.scope_dimension, s.scope_value)] = tuple(
            getattr(s, f) for f in [*COUNTS, "revenue", "gross_margin", "retention_rate", "clv", "customer_equity",
                                    "acquisition_cost", "retention_cost", "cac", "clv_to_cac", "assumption_set_id"]
        )
    cells = set(CohortCell.objects.values_list("scope_dimension", "scope_value", "cohort_month", "months_since",
                                                "cohort_size", "active_customers", "purchasing_customers"))
    return {"snapshots": rows, "cells": cells}


@PROPERTY_SETTINGS
@given(customers=customers_st, transactions=transactions_st, costs=costs_st, w=st.integers(1, 4), window=st.integers(1, 4))
def test_counts_add_up_segments_sum_to_the_company_and_recomputing_changes_nothing(
    db: None, customers: list[Any], transactions: list[Any], costs: list[Any], w: int, window: int
) -> None:
    _load(customers, transactions, costs, w, window)
    snapshots_recompute(trigger="property")
    snapshots = list(MonthlySnapshot.objects.all())
    company = {s.month: s for s in snapshots if s.scope_dimension == "company"}
    assert company
    for s in snapshots:
        assert s.customers_end == s.retained_customers + s.new_customers + s.reactivated_customers
        assert s.churned_customers == s.customers_start - s.retained_customers
        assert 0 <= s.retention_rate <= 1

    entries = list(CostEntry.objects.all())
    for dimension in DIMENSIONS:
        sums: dict[dt.date, dict[str, Any]] = defaultdict(lambda: defaultdict(int))
        for s in snapshots:
            if s.scope_dimension == dimension:
                for f in [*COUNTS, "revenue", "gross_margin", "acquisition_cost", "retention_cost"]:
                    sums[s.month][f] += getattr(s, f)
        assert set(sums) == set(company), dimension
        for month, whole in company.items():
            for f in [*COUNTS, "revenue", "gross_margin"]:
                assert sums[month][f] == getattr(whole, f), (dimension, month, f)
            # Costs: the company's, minus entries tagged with another dimension, minus untagged
            # entries that have nobody to go to (no new customers / no customers at start).
            for kind, weight in [("acquisition", whole.new_customers), ("retention", whole.customers_start)]:
                expected = sum(
                    e.amount for e in entries if e.month == month and e.kind == kind
                    and (e.segment_dimension == dimension or (e.segment_dimension == "" and weight > 0))
                )
                assert sums[month][f"{kind}_cost"] == expected, (dimension, month, kind)

    before = _dump()
    snapshots_recompute(trigger="property")
    assert _dump() == before
    # The latest month alone (reads only its transactions, with the customers' stored activity).
    snapshots_recompute(trigger="property", from_month=max(company))
    assert _dump() == before
    middle = sorted(company)[len(company) // 2]
    snapshots_recompute(trigger="property", from_month=middle)
    assert _dump() == before
