"""Choices the recompute makes where METRICS.md leaves them open, and its bookkeeping."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any, cast

import pytest

from customers.models import Customer, Transaction
from metrics.models import AssumptionSet, CohortCell, MonthlySnapshot, RecomputeRun
from metrics.services import ERROR_NOTE_REQUIRED, assumptions_record, snapshots_recompute
from tests.factories import CostEntryFactory, CustomerFactory, TransactionFactory


@pytest.fixture(autouse=True)
def _no_fit(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False


def _company() -> dict[str, MonthlySnapshot]:
    return {f"{s.month:%Y-%m}": s for s in MonthlySnapshot.objects.filter(scope_dimension="company")}


def test_months_without_transactions_get_snapshots_and_customers_stay_active_through_them(db: None) -> None:
    customer = CustomerFactory()
    TransactionFactory(customer=customer, order_date=dt.date(2024, 1, 5))
    TransactionFactory(customer=customer, order_date=dt.date(2024, 4, 5))
    snapshots_recompute(trigger="test")
    company = _company()
    assert sorted(company) == ["2024-01", "2024-02", "2024-03", "2024-04"]
    # Default W = 12: active through the quiet months, retained, and the quiet months have no revenue.
    assert [company[m].customers_end for m in sorted(company)] == [1, 1, 1, 1]
    assert company["2024-02"].revenue == Decimal("0.00") and company["2024-02"].retained_customers == 1
    assert company["2024-01"].customers_start == 0  # nobody is active before the first month


def test_a_customer_with_only_refunds_is_never_counted_but_the_refund_is(db: None) -> None:
    TransactionFactory(order_date=dt.date(2024, 1, 5), revenue=Decimal("100"), cost=Decimal("40"))
    TransactionFactory(order_date=dt.date(2024, 1, 9), revenue=Decimal("-30"), cost=None)
    snapshots_recompute(trigger="test")
    jan = _company()["2024-01"]
    assert (jan.customers_end, jan.new_customers) == (1, 1)
    assert jan.revenue == Decimal("70.00")
    assert jan.gross_margin == Decimal("51.00")  # 100 - 40 + (-30 x 30%)


def test_recompute_from_a_month_keeps_the_earlier_months_and_records_the_run(db: None) -> None:
    customer = CustomerFactory()
    for month in [1, 2, 3]:
        TransactionFactory(customer=customer, order_date=dt.date(2024, month, 5))
    snapshots_recompute(trigger="test")
    before = _company()
    run = snapshots_recompute(trigger="test", from_month=dt.date(2024, 3, 17))
    after = _company()
    assert after["2024-01"].computed_at == before["2024-01"].computed_at
    assert after["2024-03"].computed_at > before["2024-03"].computed_at
    assert run.status == RecomputeRun.Status.SUCCEEDED and run.from_month == dt.date(2024, 3, 1)
    assert run.started_at and run.finished_at and run.duration_seconds is not None and run.scopes_done == 5


def test_snapshots_of_months_and_segments_that_disappear_are_removed(db: None) -> None:
    north = CustomerFactory(region="North")
    TransactionFactory(customer=north, order_date=dt.date(2024, 1, 5))
    late = cast(Transaction, TransactionFactory(customer=CustomerFactory(region="South"), order_date=dt.date(2024, 3, 5)))
    snapshots_recompute(trigger="test")
    assert MonthlySnapshot.objects.filter(scope_dimension="region", scope_value="South").exists()
    late.delete()  # as an undone import would
    snapshots_recompute(trigger="test")
    assert sorted(_company()) == ["2024-01"]
    assert not MonthlySnapshot.objects.filter(scope_value="South").exists()
    assert not CohortCell.objects.filter(scope_value="South").exists()
    Transaction.objects.all().delete()
    snapshots_recompute(trigger="test")
    assert not MonthlySnapshot.objects.exists() and not CohortCell.objects.exists()


def test_a_cost_tagged_to_a_value_nobody_has_gets_its_own_segment_row(db: None) -> None:
    TransactionFactory(customer=CustomerFactory(region="North"), order_date=dt.date(2024, 1, 5))
    CostEntryFactory(month=dt.date(2024, 1, 1), kind="acquisition", amount=Decimal("250"),
                     segment_dimension="region", segment_value="Atlantis")
    snapshots_recompute(trigger="test")
    atlantis = MonthlySnapshot.objects.get(scope_dimension="region", scope_value="Atlantis")
    assert (atlantis.customers_end, atlantis.acquisition_cost, atlantis.acquisition_equity) == (0, Decimal("250.00"), Decimal("-250.00"))
    assert atlantis.cac is None
    assert _company()["2024-01"].acquisition_cost == Decimal("250.00")


def test_blank_and_whitespace_attributes_are_the_unassigned_segment(db: None) -> None:
    TransactionFactory(customer=CustomerFactory(region=""), order_date=dt.date(2024, 1, 5))
    TransactionFactory(customer=CustomerFactory(region="  "), order_date=dt.date(2024, 1, 6))
    snapshots_recompute(trigger="test")
    assert set(MonthlySnapshot.objects.filter(scope_dimension="region").values_list("scope_value", flat=True)) == {"unassigned"}
    assert MonthlySnapshot.objects.get(scope_dimension="region").customers_end == 2


def test_recording_assumptions_makes_a_new_version_and_keeps_the_old_one(db: None, admin_user: Any) -> None:
    with pytest.raises(ValueError, match=ERROR_NOTE_REQUIRED):
        assumptions_record(user=admin_user, note="  ", annual_discount_rate=Decimal("0.12"))
    created = assumptions_record(user=admin_user, note="higher cost of capital", annual_discount_rate=Decimal("0.12"))
    assert created.version == 2 and created.created_by == admin_user
    assert created.activity_window_months == 12  # unchanged values carry over
    assert AssumptionSet.objects.get(version=1).annual_discount_rate == Decimal("0.10")


def test_an_assumption_change_recomputes_with_the_new_version(db: None, admin_user: Any, django_capture_on_commit_callbacks: Any) -> None:
    TransactionFactory(order_date=dt.date(2024, 1, 5))
    snapshots_recompute(trigger="test")
    with django_capture_on_commit_callbacks(execute=True):
        assumptions_record(user=admin_user, note="new window", activity_window_months=6)
    assert set(MonthlySnapshot.objects.values_list("assumption_set__version", flat=True)) == {2}
    assert RecomputeRun.objects.filter(trigger="assumptions", status="succeeded").exists()


def test_a_successful_recompute_enqueues_the_predictive_fit(db: None, settings: Any, django_capture_on_commit_callbacks: Any, monkeypatch: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = True
    calls: list[dict[str, Any]] = []
    from metrics.predictive import tasks as predictive_tasks

    monkeypatch.setattr(predictive_tasks.fit_clv_models, "delay", lambda **kw: calls.append(kw))
    TransactionFactory(order_date=dt.date(2024, 1, 5))
    with django_capture_on_commit_callbacks(execute=True):
        run = snapshots_recompute(trigger="test")
    assert calls == [{"trigger": f"recompute:{run.pk}"}]


def test_a_failed_recompute_is_recorded_with_its_message(db: None) -> None:
    TransactionFactory(order_date=dt.date(2024, 1, 5))
    TransactionFactory(order_date=dt.date(2024, 2, 5), customer=Customer.objects.get())
    # k = 0: the one retained customer measures 100% (with k > 0 the prior would keep r below 1).
    assumptions_record(user=None, note="no discount", recompute=False, annual_discount_rate=Decimal("0"),
                       activity_window_months=1, smoothing_window_months=1, credibility_weight=0)
    with pytest.raises(ValueError, match="discount rate above 0"):
        snapshots_recompute(trigger="test")
    run = RecomputeRun.objects.get()
    assert run.status == RecomputeRun.Status.FAILED and "discount rate above 0" in run.message


def test_an_incremental_recompute_of_new_latest_month_data_equals_a_full_one(db: None) -> None:
    a, b, c = CustomerFactory(region="North"), CustomerFactory(region="South"), CustomerFactory()
    for customer, months in [(a, [1, 2, 5]), (b, [1, 6]), (c, [3])]:
        for month in months:
            TransactionFactory(customer=customer, order_date=dt.date(2024, month, 7))
    assumptions_record(user=None, note="short windows", recompute=False, activity_window_months=2,
                       smoothing_window_months=3)
    snapshots_recompute(trigger="test")  # full: stores each customer's activity before June
    TransactionFactory(customer=c, order_date=dt.date(2024, 6, 20))  # came back in June
    TransactionFactory(customer=a, order_date=dt.date(2024, 6, 21), revenue=Decimal("-50"), cost=None)
    TransactionFactory(customer=CustomerFactory(region="North"), order_date=dt.date(2024, 6, 2))  # new
    snapshots_recompute(trigger="test", from_month=dt.date(2024, 6, 1))
    incremental = {(s.scope_dimension, s.scope_value, s.month): [getattr(s, f) for f in ["customers_start", "customers_end", "new_customers", "reactivated_customers", "revenue", "clv", "retention_rate"]] for s in MonthlySnapshot.objects.all()}
    cells = set(CohortCell.objects.values_list("scope_dimension", "scope_value", "cohort_month", "months_since", "cohort_size", "active_customers", "purchasing_customers"))
    snapshots_recompute(trigger="test")
    full = {(s.scope_dimension, s.scope_value, s.month): [getattr(s, f) for f in ["customers_start", "customers_end", "new_customers", "reactivated_customers", "revenue", "clv", "retention_rate"]] for s in MonthlySnapshot.objects.all()}
    assert incremental == full
    assert cells == set(CohortCell.objects.values_list("scope_dimension", "scope_value", "cohort_month", "months_since", "cohort_size", "active_customers", "purchasing_customers"))
    june = MonthlySnapshot.objects.get(scope_dimension="company", month=dt.date(2024, 6, 1))
    # W = 2: d is new; b (last bought in January) and c (March) come back.
    assert (june.new_customers, june.reactivated_customers, june.customers_start) == (1, 2, 1)
