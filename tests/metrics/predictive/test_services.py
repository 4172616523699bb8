from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import cast

import pytest

from customers.models import Customer
from metrics.models import AssumptionSet, CustomerPrediction, PredictiveFit
from metrics.predictive import selectors
from metrics.predictive.maths import BgNbdParams, bgnbd_conditional_expected_purchases, bgnbd_p_alive
from metrics.predictive.maths.errors import BGNBD_NO_REPEAT_BUYERS
from metrics.predictive.services import ERROR_NO_TRANSACTIONS, clv_models_fit
from tests.factories import CustomerFactory

from .cdnow import CALIBRATION_END, PUBLISHED_BGNBD, PUBLISHED_BGNBD_LL, PUBLISHED_GG, sample_transactions
from .db import business_simulate, buy, cdnow_load

pytestmark = pytest.mark.django_db


@pytest.mark.postgres
def test_fit_on_cdnow_stores_the_published_parameters_and_a_prediction_per_customer() -> None:
    cdnow_load()
    fit = clv_models_fit(trigger="test", observation_end=CALIBRATION_END)
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    assert fit.bgnbd_r is not None and fit.bgnbd_alpha is not None and fit.bgnbd_a is not None
    assert fit.bgnbd_b is not None and fit.bgnbd_log_likelihood is not None
    assert fit.gg_p is not None and fit.gg_q is not None and fit.gg_gamma is not None
    got = {"r": fit.bgnbd_r, "alpha": fit.bgnbd_alpha, "a": fit.bgnbd_a, "b": fit.bgnbd_b}
    assert {k: round(v, 3) for k, v in got.items()} == PUBLISHED_BGNBD
    assert round(fit.bgnbd_log_likelihood, 1) == PUBLISHED_BGNBD_LL
    assert {"p": round(fit.gg_p, 2), "q": round(fit.gg_q, 2), "gamma": round(fit.gg_gamma, 2)} == PUBLISHED_GG
    assert fit.data_date == CALIBRATION_END
    assert fit.assumption_set == AssumptionSet.objects.latest()
    assert (fit.n_customers, fit.n_repeat_customers) == (2357, 946)
    assert fit.duration_seconds is not None and fit.finished_at is not None
    assert CustomerPrediction.objects.filter(fit=fit).count() == 2357
    gold = CustomerPrediction.objects.filter(tier=CustomerPrediction.Tier.GOLD).count()
    assert 0 < gold <= 472  # at most the top 20% (ceil(0.2 x 2357))
    # The published example customer (sample id 1): x = 2, t_x = 30.43, T = 38.86.
    example = CustomerPrediction.objects.get(customer__external_id="CD00001")
    params = BgNbdParams(fit.bgnbd_r, fit.bgnbd_alpha, fit.bgnbd_a, fit.bgnbd_b)
    x, t_x, big_t = [2], [213 / 7], [272 / 7]
    assert example.p_alive == pytest.approx(bgnbd_p_alive(params, x, t_x, big_t)[0], rel=1e-12)
    assert example.expected_purchases_12m == pytest.approx(
        bgnbd_conditional_expected_purchases(params, 365.25 / 7, x, t_x, big_t)[0], rel=1e-12)
    assert example.expected_spend.as_tuple().exponent == -2
    frame = sample_transactions()
    mine = frame[(frame["customer_id"] == 1) & (frame["order_date"] <= CALIBRATION_END)]
    expected_margin = (sum(Decimal(str(v)) for v in mine["revenue"]) * Decimal("0.30")).quantize(Decimal("0.01"))
    assert example.historic_margin == expected_margin


def test_fit_replaces_every_prediction_and_works_without_postgresql() -> None:
    customers = business_simulate()
    first = clv_models_fit(trigger="test")
    assert first.status == PredictiveFit.Status.SUCCEEDED, first.message
    assert CustomerPrediction.objects.count() == len(customers)
    second = clv_models_fit(trigger="test")
    assert second.status == PredictiveFit.Status.SUCCEEDED
    assert set(CustomerPrediction.objects.values_list("fit_id", flat=True)) == {second.pk}
    assert CustomerPrediction.objects.count() == len(customers)
    assert second.data_date == max(c.transactions.latest("order_date").order_date for c in customers)
    # Same data, same answer: the fit is idempotent.
    assert (first.bgnbd_r, first.gg_p) == pytest.approx((second.bgnbd_r, second.gg_p))


def test_all_customers_with_one_purchase_cannot_be_identified() -> None:
    for i in range(30):
        buy(cast(Customer, CustomerFactory(external_id=f"ONE{i}")), dt.date(2024, 1, 1) + dt.timedelta(days=5 * i))
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.FAILED
    assert fit.message == BGNBD_NO_REPEAT_BUYERS
    assert fit.bgnbd_r is None and fit.finished_at is not None
    assert not CustomerPrediction.objects.exists()


def test_a_failed_fit_keeps_the_previous_predictions() -> None:
    customers = business_simulate()
    good = clv_models_fit(trigger="test")
    assert good.status == PredictiveFit.Status.SUCCEEDED, good.message
    # The day before anyone's second purchase day, every customer seen so far has one purchase.
    second_days = []
    for c in customers:
        days = sorted(set(c.transactions.values_list("order_date", flat=True)))
        if len(days) > 1:
            second_days.append(days[1])
    end = min(second_days) - dt.timedelta(days=1)
    failed = clv_models_fit(trigger="test", observation_end=end)
    assert failed.status == PredictiveFit.Status.FAILED
    assert failed.message == BGNBD_NO_REPEAT_BUYERS
    assert set(CustomerPrediction.objects.values_list("fit_id", flat=True)) == {good.pk}
    assert CustomerPrediction.objects.count() == len(customers)
    assert selectors.fit_current() == good and selectors.fit_latest() == failed


def test_no_transactions_is_a_failed_fit_that_says_to_import_first() -> None:
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.FAILED
    assert fit.message == ERROR_NO_TRANSACTIONS


def test_with_no_assumptions_recorded_the_fit_uses_the_default_version() -> None:
    business_simulate()
    AssumptionSet.objects.all().delete()
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    assert fit.assumption_set is not None and fit.assumption_set.version == 1
    assert fit.assumption_set.default_gross_margin_rate == Decimal("0.30")


def test_refunds_bigger_than_purchases_make_a_customer_unprofitable() -> None:
    business_simulate()
    refunder = cast(Customer, CustomerFactory(external_id="REFUNDER"))
    buy(refunder, dt.date(2024, 1, 10), dt.date(2024, 2, 10), revenue="100")
    buy(refunder, dt.date(2024, 3, 1), revenue="-500")
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    prediction = CustomerPrediction.objects.get(customer=refunder)
    assert prediction.tier == CustomerPrediction.Tier.UNPROFITABLE
    assert prediction.historic_margin == Decimal("-90.00")  # (200 - 500) x 30%


def test_zero_spend_and_one_purchase_customers_get_finite_predictions() -> None:
    business_simulate()
    free = cast(Customer, CustomerFactory(external_id="FREE"))
    buy(free, dt.date(2024, 2, 1), dt.date(2024, 3, 1), dt.date(2024, 4, 1), revenue="0")
    once = cast(Customer, CustomerFactory(external_id="ONCE"))
    buy(once, dt.date(2024, 5, 1), revenue="80")
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    free_p = CustomerPrediction.objects.get(customer=free)
    once_p = CustomerPrediction.objects.get(customer=once)
    assert free_p.historic_margin == Decimal("0.00")
    assert fit.gg_p is not None and fit.gg_q is not None and fit.gg_gamma is not None
    population_spend = fit.gg_p * fit.gg_gamma / (fit.gg_q - 1)
    assert 0 < float(free_p.expected_spend) < population_spend
    assert once_p.p_alive == 1.0
    assert float(once_p.expected_spend) == pytest.approx(population_spend, abs=0.006)
    assert once_p.predicted_clv > 0
