"""The partitioned recompute (metrics.partitions) gives exactly the single pass's numbers: every
snapshot, cohort cell, customer's profitability and activity state, on random small businesses
with referrals crossing partitions, for full and incremental runs."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import connection
from django.test import override_settings
from hypothesis import given, settings
from hypothesis import strategies as st

from customers.models import Customer
from metrics.models import CustomerActivityState, CustomerProfitability, MonthlySnapshot, RecomputeRun, RecomputeState
from metrics.partitions.selectors import check_partitions
from metrics.selectors import partition_filter
from metrics.services import snapshots_recompute
from tests.metrics.test_properties import (
    PROPERTY_EXAMPLES,
    PROPERTY_SETTINGS,
    _dump,
    _load,
    costs_st,
    customers_st,
    transactions_st,
)

pytestmark = pytest.mark.postgres


def _everything() -> dict[str, Any]:
    """Every stored figure a recompute writes, without the times it was written."""
    out = _dump()
    out["referred"] = {(s.month, s.scope_dimension, s.scope_value): s.referred_new_customers
                       for s in MonthlySnapshot.objects.all()}
    out["profitability"] = set(CustomerProfitability.objects.values_list(
        "customer__external_id", "month", "margin_to_date", "acquisition_cost_allocated", "retention_cost_allocated",
        "net_profit_to_date", "referrals_made", "referral_margin"))
    out["state"] = set(CustomerActivityState.objects.values_list("customer_id", "first_purchase_month",
                                                                 "last_purchase_month", "first_lapse_month"))
    out["state_window"] = set(RecomputeState.objects.values_list("as_of_month", "activity_window"))
    return out


def _stage_relations() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname LIKE 'metrics_stage_%%'")
        return [row[0] for row in cursor.fetchall()]


def _refer(pairs: list[tuple[int, int]]) -> None:
    """Customer i referred by customer j (the referrer may sit in any partition)."""
    made = list(Customer.objects.order_by("pk"))
    for i, j in pairs:
        referred, referrer = made[i % len(made)], made[j % len(made)]
        Customer.objects.filter(pk=referred.pk).update(referred_by=referrer.external_id)


# Committed (transactional_db): each run's own transactions, as on a worker; in one enclosing
# transaction the locks of every created and dropped stage table would pile up.
@settings(PROPERTY_SETTINGS, max_examples=max(1, PROPERTY_EXAMPLES // 2))
@given(customers=customers_st, transactions=transactions_st, costs=costs_st, w=st.integers(1, 4),
       window=st.integers(1, 4), referrals=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), max_size=4),
       parts=st.sampled_from([2, 3, 5]))
def test_partitioned_recompute_equals_the_single_pass(
    transactional_db: None, customers: list[Any], transactions: list[Any], costs: list[Any], w: int, window: int,
    referrals: list[tuple[int, int]], parts: int,
) -> None:
    with override_settings(CLV_FIT_AFTER_RECOMPUTE=False):  # committed runs would queue the model fit
        _load(customers, transactions, costs, w, window)
        _refer(referrals)
        snapshots_recompute(trigger="single", partitions=1)
        single = _everything()
        months = sorted({month for month, _dimension, _scope in single["snapshots"]})

        run = snapshots_recompute(trigger="partitioned", partitions=parts)
        assert run.status == RecomputeRun.Status.SUCCEEDED, run.message
        assert _everything() == single
        assert _stage_relations() == []  # the partitions' tables and the views over them are gone
        # Incremental runs: the latest month alone (from the stored activity state), and the middle.
        for from_month in (months[-1], months[len(months) // 2]):
            snapshots_recompute(trigger="partitioned", partitions=parts, from_month=from_month)
            after = _everything()
            # The state is kept, or rebuilt by a run that read enough months, or marked out of date:
            # never a different one.
            state_kept = after.pop("state_window")
            assert state_kept in (single["state_window"], set()), from_month
            if from_month == months[-1]:
                assert state_kept == single["state_window"]
            assert after == {k: v for k, v in single.items() if k != "state_window"}, from_month


def test_a_bigger_business_with_every_customer_in_a_partition_of_its_own_size(db: None) -> None:
    """Dozens of customers over two years, 4 partitions: the same numbers, and each partition
    holds about a quarter of the customers."""
    from metrics.partitions.selectors import partition_sizes, stage_build_partition
    from metrics.selectors import assumptions_values, stage_drop
    from metrics.services import assumptions_ensure, recompute_run_create, recompute_run_start, snapshots_stage_plan

    customers = [(["N", "S", ""][i % 3], ["a", "b"][i % 2]) for i in range(40)]
    transactions = [(i % 40, (i * 7) % 24 // 2, [25, 100, -40, 310][i % 4], i % 3 == 0) for i in range(160)]
    _load(customers, transactions, [(3, "acquisition", 5000, ("", "")), (5, "retention", 700, ("region", "N"))], 2, 3)
    _refer([(1, 2), (5, 8), (9, 4), (13, 14)])
    snapshots_recompute(trigger="single", partitions=1)
    single = _everything()
    assert snapshots_recompute(trigger="partitioned", partitions=4).status == RecomputeRun.Status.SUCCEEDED
    assert _everything() == single
    assert single["referred"] and sum(single["referred"].values()) > 0

    run = recompute_run_start(run=recompute_run_create(trigger="sizes"))
    stage = snapshots_stage_plan(run=run)
    assert stage is not None
    assumptions = assumptions_values(assumption_set=assumptions_ensure())
    for k in range(4):
        stage_build_partition(stage=stage, assumptions=assumptions, part=k, parts=4)
    # A rerun of a partition (a redelivered task) replaces its tables.
    stage_build_partition(stage=stage, assumptions=assumptions, part=2, parts=4)
    sizes = partition_sizes(stage=stage, parts=4)
    assert sum(s["customers"] for s in sizes) == Customer.objects.count() == 40
    assert [s["customers"] for s in sizes] == [10, 10, 10, 10]
    stage_drop(run_id=run.pk, label=None)
    assert _stage_relations() == []


def test_partition_rules(db: None) -> None:
    assert partition_filter("t.customer_id", None) == "TRUE"
    assert partition_filter("t.customer_id", (1, 3)) == "MOD(t.customer_id, 3) = 1"
    with pytest.raises(ValueError, match="does not exist"):
        partition_filter("c.id", (3, 3))
    with pytest.raises(ValueError, match="1 or more"):
        check_partitions(0)
    assert django_settings.CLV_RECOMPUTE_PARTITIONS >= 1


def test_no_partitions_on_sqlite(db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded database always runs the single pass; asking for partitions there says why not."""
    monkeypatch.setattr(connection, "vendor", "sqlite")
    from metrics.partitions.services import recompute_partitions

    monkeypatch.setattr(django_settings, "CLV_RECOMPUTE_PARTITIONS", 4)
    assert recompute_partitions() == 1
    with pytest.raises(ValueError, match="needs PostgreSQL"):
        check_partitions(2)


def test_the_months_are_the_same_whatever_the_partitions_default(db: None, settings: Any) -> None:
    """CLV_RECOMPUTE_PARTITIONS is what snapshots_recompute uses when not told."""
    _load([("N", "a"), ("S", "b"), ("", "")], [(0, 0, 100, True), (1, 1, 25, False), (2, 3, 310, False),
                                              (0, 4, 25, True)], [], 2, 2)
    snapshots_recompute(trigger="single", partitions=1)
    single = _everything()
    settings.CLV_RECOMPUTE_PARTITIONS = 3
    assert snapshots_recompute(trigger="default").status == RecomputeRun.Status.SUCCEEDED
    assert _everything() == single
    assert MonthlySnapshot.objects.filter(scope_dimension="company").count() == 5
    assert Decimal(str(MonthlySnapshot.objects.get(scope_dimension="company", month=dt.date(2023, 5, 1)).revenue)) == 100


def test_a_partition_built_while_the_sweep_fails_its_run_leaves_no_table(
        transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sweep fails a dead run and drops its stage in one transaction, but it cannot see a
    partition another worker has not committed yet: that partition drops the run's stage itself
    once it sees the run is over (the race a killed worker's rerun once hit)."""
    import threading

    from django.db import connections

    from metrics.partitions import services as partition_services
    from metrics.selectors import assumptions_values, stage_drop
    from metrics.services import assumptions_ensure, recompute_run_create, recompute_run_start, snapshots_stage_plan

    _load([("N", "a"), ("S", "b")], [(0, 0, 100, True), (1, 1, 25, False), (0, 2, 40, False)], [], 2, 2)
    run = recompute_run_start(run=recompute_run_create(trigger="race"))
    stage = snapshots_stage_plan(run=run)
    assert stage is not None
    assumptions = assumptions_values(assumption_set=assumptions_ensure())

    def sweep_meanwhile() -> None:
        """What recompute_runs_sweep does to a dead run, on its own connection, committed while
        the partition's transaction is still open."""
        def sweep() -> None:
            try:
                RecomputeRun.objects.filter(pk=run.pk).update(status=RecomputeRun.Status.FAILED)
                stage_drop(run_id=run.pk, label=None)
            finally:
                connections.close_all()
        worker = threading.Thread(target=sweep)
        worker.start()
        worker.join(30)
        assert not worker.is_alive()

    monkeypatch.setattr(partition_services, "pause_for_fault_injection", sweep_meanwhile)
    built = partition_services.stage_partition_build(run=run, stage=stage, assumptions=assumptions, part=0, parts=2)
    assert built is False
    assert _stage_relations() == []
    # A partition of a run that is already over builds nothing.
    monkeypatch.setattr(partition_services, "pause_for_fault_injection", lambda: None)
    assert partition_services.stage_partition_build(run=run, stage=stage, assumptions=assumptions, part=1,
                                                    parts=2) is False
    assert _stage_relations() == []
