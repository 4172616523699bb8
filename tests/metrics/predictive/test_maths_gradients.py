"""The fits' analytic gradients against central differences of the likelihood, and the scoring
and interval work done once per distinct customer against the same work done for every customer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from metrics.predictive.maths import BgNbdParams, GammaGammaParams, uncertainty
from metrics.predictive.maths.betamix import COARSE
from metrics.predictive.maths.bgnbd import bgnbd_fit, bgnbd_gradient, bgnbd_log_likelihood, distinct_rows
from metrics.predictive.maths.clv import bgnbd_horizon_sums
from metrics.predictive.maths.mbgnbd import MbgNbdParams, mbgnbd_fit, mbgnbd_gradient, mbgnbd_log_likelihood
from metrics.predictive.maths.optimize import hessian_from_values, log_covariance, natural_standard_errors
from metrics.predictive.maths.paretonbd import (
    ParetoNbdParams,
    _log_terms,
    paretonbd_fit,
    paretonbd_gradient,
    paretonbd_log_likelihood,
    paretonbd_p_alive,
)
from metrics.predictive.maths.uncertainty import parameter_draws
from tests.metrics.predictive.cdnow import published_inputs_by_hand


@pytest.fixture(scope="module")
def cdnow() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = list(published_inputs_by_hand().values())
    return (np.array([r[0] for r in rows], float), np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))


def _random_customers(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Day-level histories (ages and recencies in whole days, in weeks), heavy buyers included."""
    rng = np.random.default_rng(seed)
    age_days = rng.integers(1, 731, n)
    x = rng.poisson(rng.gamma(0.6, 5.0, n)).astype(float)
    last_day = np.where(x > 0, 1 + np.floor(rng.uniform(0, 1, n) * age_days), 0)
    return x, np.minimum(last_day, age_days) / 7.0, age_days / 7.0


def _central_difference(log_likelihood: Callable[[np.ndarray], float], at: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """d log L / d log theta by central differences (error ~ step^2)."""
    out = np.empty(at.size)
    for i in range(at.size):
        up, down = at.copy(), at.copy()
        up[i] += step
        down[i] -= step
        out[i] = (log_likelihood(up) - log_likelihood(down)) / (2.0 * step)
    return out


MODELS: dict[str, tuple[Any, Any, Any]] = {
    "bgnbd": (BgNbdParams, bgnbd_log_likelihood, bgnbd_gradient),
    "mbgnbd": (MbgNbdParams, mbgnbd_log_likelihood, mbgnbd_gradient),
    "pareto_nbd": (ParetoNbdParams, paretonbd_log_likelihood, paretonbd_gradient),
}
# Away from the optimum (where the gradient is not ~0, so a relative comparison means something):
# alpha < beta, alpha > beta and alpha = beta for Pareto/NBD's two 2F1 branches.
POINTS = [(0.3, 5.0, 0.9, 2.0), (0.9, 25.0, 1.4, 3.0), (2.0, 0.5, 0.3, 0.5)]


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("point", POINTS)
def test_the_analytic_gradient_equals_central_differences_of_the_likelihood(
    model: str, point: tuple[float, ...], cdnow: tuple[np.ndarray, ...],
) -> None:
    params_class, log_likelihood, gradient = MODELS[model]
    for x, t_x, big_t in (cdnow, _random_customers(3000, seed=4)):
        at = np.log(point)
        analytic = gradient(params_class(*point), x, t_x, big_t) * np.array(point)  # in log parameters
        def value(v: np.ndarray, data: tuple[np.ndarray, ...] = (x, t_x, big_t)) -> float:
            return float(log_likelihood(params_class(*np.exp(v)), *data))

        numeric = _central_difference(value, at)
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-6 * np.abs(numeric).max())


def test_the_pareto_nbd_gradient_is_zero_at_the_published_cdnow_optimum(cdnow: tuple[np.ndarray, ...]) -> None:
    fit = paretonbd_fit(*cdnow)
    grad = paretonbd_gradient(fit.params, *cdnow) * np.array(fit.params.as_tuple())
    assert np.abs(grad).max() < 1e-3  # per 2,357 customers: the mean is stationary to ~4e-7
    assert fit.function_evaluations < 100


def test_the_pareto_nbd_fit_on_many_distinct_histories_converges_in_few_evaluations() -> None:
    x, t_x, big_t = _random_customers(20_000, seed=8)
    fit = paretonbd_fit(x, t_x, big_t)
    assert fit.n_distinct > 10_000
    assert fit.function_evaluations < 150
    grad = paretonbd_gradient(fit.params, x, t_x, big_t) * np.array(fit.params.as_tuple())
    assert np.abs(grad).max() / fit.n_customers < 1e-5


def test_pareto_nbd_p_alive_once_per_distinct_history_equals_it_for_every_customer() -> None:
    x, t_x, big_t = _random_customers(4000, seed=5)
    # Each history three times over, shuffled: distinct rows shared by several customers.
    order = np.random.default_rng(1).permutation(3 * x.size)
    x, t_x, big_t = (np.tile(c, 3)[order] for c in (x, t_x, big_t))
    params = ParetoNbdParams(0.55, 10.6, 0.61, 11.7)
    _common, alive, dropped = _log_terms(params.as_tuple(), x, t_x, big_t)
    every_customer = np.exp(alive - np.logaddexp(alive, dropped))
    np.testing.assert_allclose(paretonbd_p_alive(params, x, t_x, big_t), every_customer, rtol=1e-12, atol=0)


def _intervals_every_customer(*, bgnbd: BgNbdParams, bgnbd_log_covariance: np.ndarray, gamma_gamma: GammaGammaParams,
                              gamma_gamma_log_covariance: np.ndarray, frequency: np.ndarray, recency: np.ndarray,
                              age: np.ndarray, monetary_value: np.ndarray, margin_rate: np.ndarray,
                              horizon_months: int, monthly_discount: float, draws: int, seed: int) -> tuple[np.ndarray, ...]:
    """The bootstrap as it was written before it worked per distinct customer: the (customers x
    draws) CLVs of every customer and their quantiles (no redraws are needed at these covariances)."""
    rng = np.random.default_rng(seed)
    bg = parameter_draws(np.log(bgnbd.as_tuple()), bgnbd_log_covariance, draws=draws, rng=rng)
    gg = parameter_draws(np.log([gamma_gamma.p, gamma_gamma.q, gamma_gamma.gamma]), gamma_gamma_log_covariance,
                         draws=draws, rng=rng)
    assert (gg[:, 1] > 1.01).all()
    (xu, tu), inverse, _ = distinct_rows(frequency, age)
    discounted = np.column_stack([
        bgnbd_horizon_sums(BgNbdParams(*bg[k]), xu, tu, horizon_months=horizon_months,
                           monthly_discount=monthly_discount, precision=COARSE)[:, 0] for k in range(draws)])
    r, alpha, a, b = (bg[:, i][None, :] for i in range(4))
    p, q, gamma = (gg[:, i][None, :] for i in range(3))
    xb, txb, tb = frequency[:, None], recency[:, None], age[:, None]
    repeat = xb > 0
    log_odds = (np.log(a) - np.log(np.where(repeat, b + xb - 1.0, 1.0))
                + (r + xb) * (np.log(alpha + tb) - np.log(alpha + txb)))
    alive = np.where(repeat, np.exp(-np.logaddexp(0.0, log_odds)), 1.0)
    spend = p * (gamma + xb * monetary_value[:, None]) / (p * xb + q - 1.0)
    clv = discounted[inverse] * alive * spend * margin_rate[:, None]
    low, high = np.quantile(clv, [0.05, 0.95], axis=1)
    return low, high


def test_the_intervals_once_per_distinct_customer_equal_those_of_every_customer(monkeypatch: pytest.MonkeyPatch) -> None:
    # Blocks of 200 distinct customers at 300 draws: several blocks.
    monkeypatch.setattr(uncertainty, "_BLOCK_CELLS", 60_000)
    x, t_x, big_t = _random_customers(600, seed=6)
    rng = np.random.default_rng(2)
    spend = np.where(x > 0, np.round(rng.gamma(3.0, 12.0, x.size), 2), 0.0)
    margin = rng.choice([0.3, 0.45, -0.1], x.size)
    # Duplicated customers, and more than one block of the distinct ones.
    order = rng.permutation(4 * x.size)
    x, t_x, big_t, spend, margin = (np.tile(c, 4)[order] for c in (x, t_x, big_t, spend, margin))
    inputs: dict[str, Any] = {
        "bgnbd": BgNbdParams(0.243, 4.414, 0.793, 2.426), "bgnbd_log_covariance": np.diag([0.05, 0.08, 0.2, 0.25]) ** 2,
        "gamma_gamma": GammaGammaParams(6.25, 3.74, 15.44), "gamma_gamma_log_covariance": np.diag([0.03, 0.02, 0.04]) ** 2,
        "frequency": x, "recency": t_x, "age": big_t, "monetary_value": spend, "margin_rate": margin,
        "horizon_months": 36, "monthly_discount": 0.008, "draws": 300, "seed": 3,
    }
    got = uncertainty.clv_intervals(**inputs)
    low, high = _intervals_every_customer(**inputs)
    np.testing.assert_allclose(got.low, low, rtol=1e-12, atol=0)
    np.testing.assert_allclose(got.high, high, rtol=1e-12, atol=0)


@pytest.mark.parametrize("fit", [bgnbd_fit, mbgnbd_fit, paretonbd_fit])
def test_a_fit_on_rows_already_compressed_with_weights_equals_the_fit_on_every_customer(
    fit: Callable[..., Any], cdnow: tuple[np.ndarray, ...],
) -> None:
    every = fit(*cdnow)
    (x, t_x, big_t), _, counts = distinct_rows(*cdnow)
    weighted = fit(x, t_x, big_t, weights=counts)
    np.testing.assert_allclose(weighted.params.as_tuple(), every.params.as_tuple(), rtol=1e-12)
    assert weighted.log_likelihood == pytest.approx(every.log_likelihood, rel=1e-12)
    assert (weighted.n_customers, weighted.n_repeat_customers, weighted.n_distinct) == (
        every.n_customers, every.n_repeat_customers, every.n_distinct)


@pytest.mark.parametrize(("fit", "log_likelihood", "params_class"), [
    (mbgnbd_fit, mbgnbd_log_likelihood, MbgNbdParams), (paretonbd_fit, paretonbd_log_likelihood, ParetoNbdParams),
])
def test_standard_errors_from_the_gradient_agree_with_those_from_the_likelihood_values(
    fit: Callable[..., Any], log_likelihood: Callable[..., float], params_class: type, cdnow: tuple[np.ndarray, ...],
) -> None:
    fitted = fit(*cdnow)
    hessian = hessian_from_values(lambda v: -log_likelihood(params_class(*np.exp(v)), *cdnow),
                                  np.log(fitted.params.as_tuple()))
    covariance = log_covariance(hessian)
    assert covariance is not None and fitted.standard_errors is not None
    np.testing.assert_allclose(natural_standard_errors(fitted.params.as_tuple(), covariance), fitted.standard_errors,
                               rtol=2e-3)
