"""Uncertainty of the predictions: standard errors from the Hessian, P(n purchases), and the
parametric-bootstrap interval of each customer's CLV."""

from __future__ import annotations

from typing import Any

import mpmath as mp
import numpy as np
import pytest

from metrics.predictive.maths import (
    BgNbdParams,
    GammaGammaParams,
    bgnbd_fit,
    bgnbd_log_likelihood,
    clv_score,
    gamma_gamma_fit,
    rfm_summary,
)
from metrics.predictive.maths.bgnbd import bgnbd_probability_of_n_purchases, bgnbd_unconditional_expected_purchases
from metrics.predictive.maths.optimize import (
    hessian_from_values,
    log_covariance,
    natural_standard_errors,
)
from metrics.predictive.maths.uncertainty import clv_intervals, parameter_draws

from .cdnow import CALIBRATION_END, sample_transactions

# lifetimes 0.11 BetaGeoFitter().fit(...).summary on this CDNOW sample (its quickstart): se(coef).
LIFETIMES_BGNBD_SE = {"r": 0.012557, "alpha": 0.378221, "a": 0.185719, "b": 0.705345}


@pytest.fixture(scope="module")
def cdnow() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    s = rfm_summary(sample_transactions(), observation_end=CALIBRATION_END, default_margin_rate=0.3)
    return (s["frequency"].to_numpy(float), s["recency"].to_numpy(), s["T"].to_numpy(),
            s["monetary_value"].to_numpy(float))


def test_bgnbd_standard_errors_on_cdnow_match_lifetimes(cdnow: tuple) -> None:
    fit = bgnbd_fit(*cdnow[:3])
    assert fit.standard_errors is not None
    got = dict(zip(("r", "alpha", "a", "b"), fit.standard_errors, strict=True))
    for name, want in LIFETIMES_BGNBD_SE.items():
        assert got[name] == pytest.approx(want, rel=2e-3), name


def test_the_gradient_hessian_agrees_with_one_from_the_likelihood_values(cdnow: tuple) -> None:
    fit = bgnbd_fit(*cdnow[:3])
    log_params = np.log(fit.params.as_tuple())
    hessian = hessian_from_values(
        lambda v: -bgnbd_log_likelihood(BgNbdParams(*np.exp(v)), *cdnow[:3]), log_params)
    covariance = log_covariance(hessian)
    assert covariance is not None and fit.standard_errors is not None
    np.testing.assert_allclose(natural_standard_errors(fit.params.as_tuple(), covariance), fit.standard_errors,
                               rtol=2e-3)


def test_the_value_hessian_gives_the_textbook_standard_error_of_an_exponential_rate() -> None:
    # n exponential waiting times: the MLE of the rate is n / sum, its standard error rate / sqrt(n).
    rng = np.random.default_rng(3)
    times = rng.exponential(2.0, 400)
    rate = times.size / times.sum()

    def minus_log_likelihood(v: np.ndarray) -> float:
        return float(-(times.size * v[0] - np.exp(v[0]) * times.sum()))

    covariance = log_covariance(hessian_from_values(minus_log_likelihood, np.array([np.log(rate)])))
    assert covariance is not None
    assert natural_standard_errors([rate], covariance)[0] == pytest.approx(rate / np.sqrt(times.size), rel=1e-6)


def test_a_flat_likelihood_has_no_standard_errors() -> None:
    assert log_covariance(np.array([[1.0, 1.0], [1.0, 1.0]])) is None
    assert log_covariance(np.array([[np.nan, 0.0], [0.0, 1.0]])) is None


def test_gamma_gamma_standard_errors_follow_the_currency_unit(cdnow: tuple) -> None:
    x, m = cdnow[0], cdnow[3]
    dollars = gamma_gamma_fit(x, m)
    cents = gamma_gamma_fit(x, m * 100)
    assert dollars.standard_errors is not None and cents.standard_errors is not None
    assert all(se > 0 for se in dollars.standard_errors)
    np.testing.assert_allclose(cents.standard_errors[:2], dollars.standard_errors[:2], rtol=1e-3)
    assert cents.standard_errors[2] == pytest.approx(100 * dollars.standard_errors[2], rel=1e-3)


def _lifetimes_formula(r: float, alpha: float, a: float, b: float, t: float, n: int) -> float:
    """P(X(t) = n) written as lifetimes' probability_of_n_purchases_up_to_time does (a finite sum),
    at 50 digits."""
    with mp.workdps(50):
        r_, al, a_, b_, t_ = (mp.mpf(v) for v in (r, alpha, a, b, t))

        def nbd(j: int) -> mp.mpf:
            return mp.gamma(r_ + j) / (mp.gamma(r_) * mp.factorial(j)) * (al / (al + t_)) ** r_ * (t_ / (al + t_)) ** j

        first = mp.beta(a_, b_ + n) / mp.beta(a_, b_) * nbd(n)
        if n == 0:
            return float(first)
        second = mp.beta(a_ + 1, b_ + n - 1) / mp.beta(a_, b_) * (1 - mp.fsum(nbd(j) for j in range(n)))
        return float(first + second)


@pytest.mark.parametrize(("params", "t"), [((0.243, 4.414, 0.793, 2.426), 39.0), ((0.243, 4.414, 0.793, 2.426), 260.0),
                                           ((2.0, 1.5, 3.0, 0.4), 10.0), ((0.5, 20.0, 0.05, 50.0), 1.0)])
def test_probability_of_n_purchases_matches_lifetimes_formula_at_50_digits(params: tuple, t: float) -> None:
    got = bgnbd_probability_of_n_purchases(BgNbdParams(*params), t, 12)
    r, alpha, a, b = params
    want = [_lifetimes_formula(r, alpha, a, b, t, n) for n in range(13)]
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-300)


def test_probabilities_of_n_purchases_sum_to_one_and_their_mean_is_the_expected_purchases() -> None:
    params = BgNbdParams(0.243, 4.414, 0.793, 2.426)
    for t in (1.0, 52.0, 156.0):
        p = bgnbd_probability_of_n_purchases(params, t, 3000)
        assert (p >= 0).all() and p.sum() == pytest.approx(1.0, abs=1e-10)
        assert float(np.arange(p.size) @ p) == pytest.approx(float(bgnbd_unconditional_expected_purchases(params, t)),
                                                           rel=1e-9)
    assert list(bgnbd_probability_of_n_purchases(params, 0.0, 2)) == [1.0, 0.0, 0.0]


CUSTOMERS: dict[str, Any] = {
    "frequency": np.array([0.0, 1, 2, 6, 15, 0]), "recency": np.array([0.0, 5, 20, 30, 38, 0]),
    "age": np.array([10.0, 30, 40, 40, 39, 2]), "monetary_value": np.array([0.0, 20, 35, 50, 28, 0]),
    "margin_rate": np.full(6, 0.3), "horizon_months": 36, "monthly_discount": 0.008,
}
BG = BgNbdParams(0.243, 4.414, 0.793, 2.426)
GG = GammaGammaParams(6.25, 3.74, 15.44)


def test_a_vanishing_parameter_uncertainty_collapses_the_interval_onto_the_prediction() -> None:
    point = clv_score(bgnbd=BG, gamma_gamma=GG, **CUSTOMERS).predicted_clv
    tiny = clv_intervals(bgnbd=BG, bgnbd_log_covariance=np.eye(4) * 1e-16, gamma_gamma=GG,
                         gamma_gamma_log_covariance=np.eye(3) * 1e-16, **CUSTOMERS)
    np.testing.assert_allclose(tiny.low, point, rtol=1e-5)
    np.testing.assert_allclose(tiny.high, point, rtol=1e-5)


def test_the_vectorised_bootstrap_equals_scoring_each_draw_one_by_one() -> None:
    bg_cov = np.diag([0.05, 0.08, 0.2, 0.25]) ** 2
    gg_cov = np.diag([0.03, 0.02, 0.04]) ** 2
    got = clv_intervals(bgnbd=BG, bgnbd_log_covariance=bg_cov, gamma_gamma=GG, gamma_gamma_log_covariance=gg_cov,
                        draws=150, seed=7, **CUSTOMERS)
    rng = np.random.default_rng(7)
    bg = parameter_draws(np.log(BG.as_tuple()), bg_cov, draws=150, rng=rng)
    gg = parameter_draws(np.log([GG.p, GG.q, GG.gamma]), gg_cov, draws=150, rng=rng)
    clv = np.array([clv_score(bgnbd=BgNbdParams(*b), gamma_gamma=GammaGammaParams(*g), **CUSTOMERS).predicted_clv
                    for b, g in zip(bg, gg, strict=True)])
    low, high = np.quantile(clv, [0.05, 0.95], axis=0)
    np.testing.assert_allclose(got.low, low, rtol=1e-5)
    np.testing.assert_allclose(got.high, high, rtol=1e-5)
    assert (got.low < got.high).all() and got.level == 0.9


def test_the_interval_narrows_as_the_parameters_become_more_certain() -> None:
    bg_cov, gg_cov = np.diag([0.05, 0.08, 0.2, 0.25]) ** 2, np.diag([0.03, 0.02, 0.04]) ** 2
    wide = clv_intervals(bgnbd=BG, bgnbd_log_covariance=bg_cov, gamma_gamma=GG, gamma_gamma_log_covariance=gg_cov,
                         **CUSTOMERS)
    narrow = clv_intervals(bgnbd=BG, bgnbd_log_covariance=bg_cov / 4, gamma_gamma=GG,
                           gamma_gamma_log_covariance=gg_cov / 4, **CUSTOMERS)
    ratio = (narrow.high - narrow.low) / (wide.high - wide.low)
    assert ((ratio > 0.35) & (ratio < 0.65)).all()


def test_wildly_uncertain_drop_out_parameters_still_give_finite_intervals() -> None:
    # A homogeneous drop-out leaves a and b with log standard errors of 10 and more.
    bg_cov = np.diag([0.05, 0.08, 15.0, 15.0]) ** 2
    got = clv_intervals(bgnbd=BG, bgnbd_log_covariance=bg_cov, gamma_gamma=GG,
                        gamma_gamma_log_covariance=np.diag([0.03, 0.02, 0.04]) ** 2, draws=60, **CUSTOMERS)
    assert np.isfinite(got.low).all() and np.isfinite(got.high).all() and (got.low <= got.high).all()


def _fitted(model: str, cdnow: tuple) -> Any:
    from metrics.predictive.maths.purchase_models import purchase_model_fit

    return purchase_model_fit(model, *cdnow[:3])


def test_the_any_model_bootstrap_gives_the_bgnbd_intervals_for_bgnbd() -> None:
    from metrics.predictive.maths.purchase_models import FittedModel, PurchaseModel
    from metrics.predictive.maths.uncertainty import clv_intervals_any_model

    bg_cov, gg_cov = np.diag([0.05, 0.08, 0.2, 0.25]) ** 2, np.diag([0.03, 0.02, 0.04]) ** 2
    special = clv_intervals(bgnbd=BG, bgnbd_log_covariance=bg_cov, gamma_gamma=GG, gamma_gamma_log_covariance=gg_cov,
                            draws=150, seed=7, **CUSTOMERS)
    general = clv_intervals_any_model(
        purchase_model=FittedModel(PurchaseModel.BGNBD, BG, log_covariance=bg_cov), gamma_gamma=GG,
        gamma_gamma_log_covariance=gg_cov, draws=150, seed=7, **CUSTOMERS)
    # The same draws (same seed, same order); the BG/NBD path sums the horizon at a coarser quadrature.
    np.testing.assert_allclose(general.low, special.low, rtol=1e-5)
    np.testing.assert_allclose(general.high, special.high, rtol=1e-5)


def test_pareto_nbd_intervals_on_cdnow_hold_the_prediction_and_narrow_with_certainty(cdnow: tuple) -> None:
    # MBG/NBD's own bootstrap has the same test in test_maths_mbgnbd_intervals.py.
    import dataclasses

    from metrics.predictive.maths.uncertainty import clv_intervals_any_model

    fitted = _fitted("pareto_nbd", cdnow)
    spend = gamma_gamma_fit(cdnow[0], cdnow[3])
    assert fitted.log_covariance is not None and spend.log_covariance is not None
    inputs = {"frequency": cdnow[0], "recency": cdnow[1], "age": cdnow[2], "monetary_value": cdnow[3],
              "margin_rate": np.full(cdnow[0].size, 0.3), "horizon_months": 36, "monthly_discount": 0.008}
    point = clv_score(purchase_model=fitted, gamma_gamma=spend.params, **inputs).predicted_clv
    got = clv_intervals_any_model(purchase_model=fitted, gamma_gamma=spend.params,
                                  gamma_gamma_log_covariance=spend.log_covariance, draws=40, **inputs)
    assert np.isfinite(got.low).all() and (got.low <= got.high).all()
    inside = (got.low <= point * (1 + 1e-9)) & (point <= got.high * (1 + 1e-9))
    assert inside.mean() > 0.95
    narrower = clv_intervals_any_model(
        purchase_model=dataclasses.replace(fitted, log_covariance=fitted.log_covariance / 4), gamma_gamma=spend.params,
        gamma_gamma_log_covariance=spend.log_covariance / 4, draws=40, **inputs)
    spread, tight = got.high - got.low, narrower.high - narrower.low
    assert np.median(tight[spread > 0] / spread[spread > 0]) == pytest.approx(0.5, abs=0.15)


def test_the_any_model_bootstrap_refuses_more_distinct_customers_than_it_can_score_in_seconds() -> None:
    from metrics.predictive.maths.purchase_models import FittedModel, PurchaseModel
    from metrics.predictive.maths.uncertainty import TooManyHistories, clv_intervals_any_model

    with pytest.raises(TooManyHistories):
        clv_intervals_any_model(purchase_model=FittedModel(PurchaseModel.BGNBD, BG, log_covariance=np.eye(4) * 0.01),
                                gamma_gamma=GG, gamma_gamma_log_covariance=np.eye(3) * 0.01, max_distinct=5,
                                **CUSTOMERS)
