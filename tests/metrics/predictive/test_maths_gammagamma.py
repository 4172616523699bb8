from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import approx_fprime

from metrics.predictive.maths import (
    GammaGammaParams,
    ModelFitError,
    gamma_gamma_expected_spend,
    gamma_gamma_fit,
    rfm_summary,
)
from metrics.predictive.maths.errors import GG_NO_SPENDERS
from metrics.predictive.maths.gammagamma import _Data, _neg_ll_and_grad, gamma_gamma_log_likelihood

from .cdnow import CALIBRATION_END, PUBLISHED_GG, sample_transactions


@pytest.fixture(scope="module")
def cdnow() -> tuple[np.ndarray, np.ndarray]:
    s = rfm_summary(sample_transactions(), observation_end=CALIBRATION_END, default_margin_rate=0.3)
    return s["frequency"].to_numpy(float), s["monetary_value"].to_numpy()


def test_gamma_gamma_fit_reproduces_the_published_cdnow_estimates(cdnow: tuple) -> None:
    fit = gamma_gamma_fit(*cdnow)
    got = {"p": fit.params.p, "q": fit.params.q, "gamma": fit.params.gamma}
    assert {k: round(v, 2) for k, v in got.items()} == PUBLISHED_GG
    assert fit.n_customers == 946


def test_the_fit_does_not_depend_on_the_currency_unit(cdnow: tuple) -> None:
    x, m = cdnow
    base = gamma_gamma_fit(x, m)
    scaled = gamma_gamma_fit(x, m * 1000.0)
    assert scaled.params.p == pytest.approx(base.params.p, rel=1e-5)
    assert scaled.params.q == pytest.approx(base.params.q, rel=1e-5)
    assert scaled.params.gamma == pytest.approx(base.params.gamma * 1000.0, rel=1e-5)


def test_the_reported_log_likelihood_is_the_log_likelihood_at_the_estimate(cdnow: tuple) -> None:
    x, m = cdnow
    fit = gamma_gamma_fit(x, m)
    keep = x > 0
    assert fit.log_likelihood == pytest.approx(gamma_gamma_log_likelihood(fit.params, x[keep], m[keep]), abs=1e-6)


def test_the_analytic_gradient_matches_finite_differences(cdnow: tuple) -> None:
    x, m = cdnow
    keep = x > 0
    point = np.log([3.0, 2.5, 12.0])
    args = (_Data.make(x[keep], m[keep], np.ones(int(keep.sum()))), 1.0)
    _, analytic = _neg_ll_and_grad(point, *args)
    numeric = approx_fprime(point, lambda v: _neg_ll_and_grad(v, *args)[0], 1e-7)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=1e-3)


def test_expected_spend_shrinks_a_customer_mean_towards_the_population_mean() -> None:
    params = GammaGammaParams(**PUBLISHED_GG)
    population = params.p * params.gamma / (params.q - 1)
    spend = gamma_gamma_expected_spend(params, [0, 1, 10, 100], [0, 100, 100, 100])
    assert spend[0] == pytest.approx(population)
    assert population < spend[1] < spend[2] < spend[3] < 100


def test_zero_spend_repeat_buyers_are_left_out_of_the_fit_and_expect_less_than_average(cdnow: tuple) -> None:
    x, m = cdnow
    with_zero = gamma_gamma_fit(np.r_[x, 3.0], np.r_[m, 0.0])
    assert with_zero.n_customers == 946
    params = with_zero.params
    spend = gamma_gamma_expected_spend(params, [3.0], [0.0])[0]
    assert 0 < spend < params.p * params.gamma / (params.q - 1)


def test_no_repeat_buyer_with_positive_spend_is_a_clear_error() -> None:
    with pytest.raises(ModelFitError) as error:
        gamma_gamma_fit([0, 0, 2], [0.0, 0.0, 0.0])
    assert str(error.value) == GG_NO_SPENDERS.format(count=0, minimum=2)


def test_identical_spend_everywhere_cannot_identify_the_model() -> None:
    with pytest.raises(ModelFitError, match="ran to the edge of its allowed range"):
        gamma_gamma_fit(np.r_[np.ones(100), np.full(100, 3.0)], np.full(200, 20.0))
