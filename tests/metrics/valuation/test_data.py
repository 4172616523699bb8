"""The valuation on the database: the first-lapse survival counts (SQL) by hand, the valuation of a
small growing business end to end, the stored valuations of the recompute, the commands."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from metrics.board.selectors import Scope
from metrics.calculations import month_index
from metrics.models import COMPANY, CustomerValuation, MonthlySnapshot
from metrics.services import snapshots_recompute
from metrics.valuation.maths.cohorts import CohortSurvival, cohort_survivors
from metrics.valuation.maths.value import value_of_future_customers
from metrics.valuation.selectors import first_lapses, lapse_rows
from metrics.valuation.services import MIN_CURVE_CUSTOMERS, valuation_compute

from .db import assumptions, growing_business, m, spiking_region, tiny_cohorts

pytestmark = pytest.mark.django_db

DATA = Path(__file__).resolve().parents[2] / "data" / "valuation" / "sbg_retention.csv"


def _survivors(dimension: str, value: str) -> list[CohortSurvival]:
    rows = lapse_rows(first_lapses(window=2), dimension=dimension, value=value)
    return cohort_survivors(rows, last_month=month_index(m(2024, 8)), window=2, first_cohort=month_index(m(2024, 3)))


def test_first_lapse_survival_counts_by_hand() -> None:
    """See tests/metrics/valuation/db.py tiny_cohorts: B's refund in May is not a purchase, so B
    first lapses in June; the warm-up cohort and the cohort of July are left out."""
    tiny_cohorts()
    march, april = month_index(m(2024, 3)), month_index(m(2024, 4))
    assert _survivors(COMPANY, "") == [CohortSurvival(march, (3, 2, 1, 1, 1)), CohortSurvival(april, (2, 1, 1, 0))]
    assert _survivors("region", "North") == [CohortSurvival(march, (3, 2, 1, 1, 1))]
    assert _survivors("region", "South") == [CohortSurvival(april, (2, 1, 1, 0))]


def test_first_lapses_rows_name_each_customers_first_lapse_month() -> None:
    tiny_cohorts()
    rows = sorted(lapse_rows(first_lapses(window=2), dimension=COMPANY, value=""))
    jan, mar, apr, jul = (month_index(m(2024, k)) for k in (1, 3, 4, 7))
    # Z lapses in March; A in May; B in June; C in October (beyond the data); D in June; E in
    # August; F in September (beyond the data).
    assert rows == [(jan, jan + 2, 1), (mar, mar + 2, 1), (mar, mar + 3, 1), (mar, mar + 7, 1), (apr, apr + 2, 1),
                    (apr, apr + 4, 1), (jul, jul + 2, 1)]


@pytest.fixture
def business(no_fit: None) -> None:
    assumptions(window=2, smoothing=6)
    growing_business()
    snapshots_recompute(trigger="test")


def test_valuation_of_a_growing_business_end_to_end(business: None) -> None:
    v = valuation_compute(model="flat", horizon=24)
    snapshot = MonthlySnapshot.objects.get(scope_dimension=COMPANY, month=m(2025, 12))
    assert v.month == m(2025, 12) and v.shortfalls == []
    assert v.result is not None and v.fit is not None and v.projection is not None
    assert v.current_value == pytest.approx(float(snapshot.customer_equity))
    # CAC: 600 a month over the last 6 months' new customers (30 + ... + 35 = 195).
    assert v.cac == pytest.approx(3600 / 195)
    # The series after the warm-up (March 2024 on): 14 .. 35 new customers; flat = the mean of the last 6.
    assert v.projection.history.tolist() == list(range(14, 36))
    assert v.projection.projected.tolist() == pytest.approx([32.5] * 24)
    assert v.result.future_value == pytest.approx(value_of_future_customers(
        new_customers=[32.5] * 24, v_new=v.result.v_new, cac=v.cac, monthly_discount=v.result.monthly_discount))
    assert v.result.total == pytest.approx(v.current_value + v.result.future_value)
    assert v.fit.customers >= MIN_CURVE_CUSTOMERS
    # Customers differ (loyal, middling, flighty): the curve's retention rises with tenure.
    assert v.fit.alpha > 0 and v.fit.beta > 0
    assert {e.key for e in v.elasticities} == {"retention", "margin", "acquisition_cost", "discount_rate"}
    assert all(e.change > 0 for e in v.elasticities)


def test_a_segment_values_with_its_own_figures(business: None) -> None:
    v = valuation_compute(scope=Scope("region", "North"), model="trend")
    snapshot = MonthlySnapshot.objects.get(scope_dimension="region", scope_value="North", month=m(2025, 12))
    assert v.result is not None
    assert v.current_value == pytest.approx(float(snapshot.customer_equity))
    assert v.curve_source == "own"


def test_the_recompute_stores_the_valuations_with_their_assumption_version(business: None) -> None:
    stored = {(r.scope_dimension, r.scope_value): r for r in CustomerValuation.objects.all()}
    company = stored[(COMPANY, "")]
    assert ("region", "North") in stored and ("region", "South") in stored
    v = valuation_compute()
    assert v.result is not None and v.fit is not None
    assert company.assumption_set_id == v.assumption_set.pk  # type: ignore[union-attr]
    assert company.acquisition_projection == "trend" and company.valuation_horizon_months == 120
    assert float(company.total_value) == pytest.approx(v.result.total, abs=0.01)
    assert company.sbg_alpha == pytest.approx(v.fit.alpha)
    assert len(company.details["projected_new_customers"]) == 120


def test_a_runaway_trend_of_a_small_segment_gives_no_value_and_stops_no_other(no_fit: None) -> None:
    """A small region whose new customers double each month at the end (1, 1, 1, 2, 4, 8): its
    log-linear trend would reach millions a month in five years. It gets no value and a note that
    says why and what to choose instead; the company and the other segments are valued and stored
    as before, and the flat projection values the small region."""
    assumptions(window=2, smoothing=6, valuation_horizon_months=60)
    growing_business()
    spiking_region()
    snapshots_recompute(trigger="test")
    spike = valuation_compute(scope=Scope("region", "Spike"))
    assert spike.model == "trend" and spike.runaway and spike.result is None and spike.projection is None
    assert any("runs away" in text and "flat or the logistic" in text for text in spike.shortfalls)
    stored = set(CustomerValuation.objects.values_list("scope_dimension", "scope_value"))
    assert {(COMPANY, ""), ("region", "North"), ("region", "South")} <= set(stored)
    assert ("region", "Spike") not in stored
    assert valuation_compute().result is not None
    flat = valuation_compute(scope=Scope("region", "Spike"), model="flat")
    assert flat.result is not None and not flat.runaway


def test_the_recompute_reads_the_purchase_months_for_the_lapses_once(business: None) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from metrics.valuation.services import valuations_recompute

    with CaptureQueriesContext(connection) as queries:
        stored = valuations_recompute()
    assert stored == CustomerValuation.objects.count() >= 3
    assert len([q for q in queries.captured_queries if "LEAD(m) OVER" in q["sql"]]) == 1


@pytest.mark.postgres
def test_a_full_run_values_from_its_stage_what_the_transactions_give(business: None, monkeypatch: Any) -> None:
    """The first lapses read off a full run's stage (its active intervals) are the ones the pass
    over the transactions gives, scope by scope, so the stored valuations are the same; and the
    recompute then reads no transaction for them."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from metrics import services as metrics_services
    from metrics.models import RecomputeRun
    from metrics.valuation.selectors import first_lapses_of_run
    from metrics.valuation.services import valuations_recompute

    by_transactions = {(r.scope_dimension, r.scope_value): r.total_value for r in CustomerValuation.objects.all()}
    valuations_recompute()  # without the run: from the transactions
    assert {(r.scope_dimension, r.scope_value): r.total_value for r in CustomerValuation.objects.all()} == by_transactions
    # Keep the next run's stage tables, to compare.
    monkeypatch.setattr(metrics_services, "stage_drop", lambda **kwargs: None)
    with CaptureQueriesContext(connection) as queries:
        snapshots_recompute(trigger="test")
    assert not [q for q in queries.captured_queries if "LEAD(m) OVER" in q["sql"]]
    assert {(r.scope_dimension, r.scope_value): r.total_value for r in CustomerValuation.objects.all()} == by_transactions
    run = RecomputeRun.objects.order_by("-pk").first()
    assert run is not None
    staged = first_lapses_of_run(run=run)
    assert staged is not None and staged[0] == 2
    columns = list(staged[1].columns)
    key = columns[:-1]
    assert staged[1].sort_values(key).reset_index(drop=True).equals(
        first_lapses(window=2)[columns].sort_values(key).reset_index(drop=True))
    assert len(staged[1]) > 10


def test_too_short_data_say_what_is_needed(no_fit: None) -> None:
    assumptions(window=2, smoothing=6)
    growing_business(months=4)
    snapshots_recompute(trigger="test")
    v = valuation_compute()
    assert v.result is None
    text = " ".join(v.shortfalls)
    assert "at least 50 customers" in text and "at least 5 months of data" in text
    assert "needs at least 3 months of new customers after the warm-up" in text


def test_value_customers_prints_the_valuation(business: None) -> None:
    out = StringIO()
    call_command("value_customers", "--acquisition", "flat", "--horizon", "24", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    v = valuation_compute(model="flat", horizon=24)
    assert v.result is not None
    assert data["total"] == pytest.approx(round(v.result.total, 2))
    assert data["projected_new_customers"] == [32.5] * 24
    assert set(data["elasticities"]) == {"retention", "margin", "acquisition_cost", "discount_rate"}
    assert data["sbg"]["alpha_se"] > 0
    text = StringIO()
    call_command("value_customers", "--month", "2025-12", stdout=text)
    assert "current_value:" in text.getvalue() and "elasticity retention: +" in text.getvalue()


def test_fit_retention_curve_reproduces_the_published_fit() -> None:
    out = StringIO()
    call_command("fit_retention_curve", str(DATA), "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["alpha"] == pytest.approx(0.704, abs=5e-4)
    assert data["beta"] == pytest.approx(1.182, abs=5e-4)
    assert data["log_likelihood"] == pytest.approx(-1680.3, abs=0.05)
    text = StringIO()
    call_command("fit_retention_curve", str(DATA), stdout=text)
    assert "alpha = 0.7041" in text.getvalue() and "log-likelihood = -1680.3" in text.getvalue()
