"""Pareto/NBD's own bootstrap (paretonbd_clv_intervals): P(alive) for every (customer, draw) pair
with its own parameters, the horizon's sum once per age and draw, and the intervals against the
any-model bootstrap (the same draws scored one by one with clv_score, month by month)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from metrics.predictive.maths import GammaGammaParams
from metrics.predictive.maths.clv import UNITS_PER_MONTH, horizon_coefficients
from metrics.predictive.maths.paretonbd import (
    ParetoNbdParams,
    paretonbd_conditional_expected_purchases,
    paretonbd_horizon_draws,
    paretonbd_p_alive,
    paretonbd_p_alive_draws,
)
from metrics.predictive.maths.purchase_models import FittedModel, PurchaseModel
from metrics.predictive.maths.uncertainty import (
    TooManyHistories,
    clv_intervals_any_model,
    clv_intervals_of_fit,
    paretonbd_clv_intervals,
)

PARETO = ParetoNbdParams(0.553, 10.578, 0.606, 11.669)
# Wide enough that many draws have alpha > beta (the integral's roles swap) and s near 1.
PARETO_COV = np.diag([0.1, 0.15, 0.3, 0.35]) ** 2
GG = GammaGammaParams(6.25, 3.74, 15.44)
GG_COV = np.diag([0.03, 0.02, 0.04]) ** 2


def _customers(n: int, seed: int) -> dict[str, Any]:
    """Day-level histories in weeks: one-off buyers, heavy buyers, a last purchase at T, and
    repeats of the same history with different spends."""
    rng = np.random.default_rng(seed)
    big_t = rng.integers(1, 1100, n) / 7.0
    x = np.minimum(rng.negative_binomial(1, 0.15, n), 150).astype(float)
    t_x = np.where(x > 0, np.maximum(np.floor(rng.uniform(0, 1, n) * big_t * 7.0), 1.0) / 7.0, 0.0)
    t_x = np.minimum(t_x, big_t)
    t_x[:5] = big_t[:5] * (x[:5] > 0)
    x[5:10], t_x[5:10], big_t[5:10] = 3.0, 2.0, 40.0
    return {"frequency": x, "recency": t_x, "age": big_t, "monetary_value": np.round(rng.gamma(2.0, 20.0, n), 2),
            "margin_rate": rng.choice([0.2, 0.3], n)}


CUSTOMERS = _customers(600, 1)
INPUTS: dict[str, Any] = {"horizon_months": 36, "monthly_discount": 0.008}


def test_p_alive_for_every_draw_at_once_equals_one_draw_at_a_time() -> None:
    rng = np.random.default_rng(2)
    draws = np.exp(rng.multivariate_normal(np.log(PARETO.as_tuple()), PARETO_COV * 4, size=25))
    assert (draws[:, 1] > draws[:, 3]).any() and (draws[:, 1] <= draws[:, 3]).any()
    x, t_x, big_t = CUSTOMERS["frequency"], CUSTOMERS["recency"], CUSTOMERS["age"]
    got = paretonbd_p_alive_draws(draws, x, t_x, big_t)
    expected = np.column_stack([paretonbd_p_alive(ParetoNbdParams(*d), x, t_x, big_t) for d in draws])
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("s", [0.606, 1.0, 1.0 + 1e-13, 3.5])
def test_the_horizon_per_age_gives_the_month_by_month_discounted_purchases(s: float) -> None:
    params = ParetoNbdParams(0.553, 10.578, s, 11.669)
    x = np.array([0.0, 2.0, 40.0, 7.0])
    t_x, big_t = np.array([0.0, 30.0, 70.0, 5.0]), np.array([38.0, 38.0, 78.0, 150.0])
    times, weights = horizon_coefficients(**INPUTS)
    horizon = paretonbd_horizon_draws(np.array([params.as_tuple()]), big_t, times=times, coefficients=weights[:, 0])
    alive = paretonbd_p_alive(params, x, t_x, big_t)
    got = alive * (params.r + x) / (params.alpha + big_t) * horizon[:, 0]
    expected = np.zeros(x.size)
    previous = np.zeros(x.size)
    for k in range(1, INPUTS["horizon_months"] + 1):
        cumulative = paretonbd_conditional_expected_purchases(params, k * UNITS_PER_MONTH, x, t_x, big_t)
        expected += (cumulative - previous) / (1.0 + INPUTS["monthly_discount"]) ** k
        previous = cumulative
    np.testing.assert_allclose(got, expected, rtol=1e-11)


def test_the_pareto_bootstrap_equals_the_any_model_bootstrap_with_the_same_seed() -> None:
    fast = paretonbd_clv_intervals(paretonbd=PARETO, paretonbd_log_covariance=PARETO_COV, gamma_gamma=GG,
                                   gamma_gamma_log_covariance=GG_COV, draws=120, seed=7, **CUSTOMERS, **INPUTS)
    general = clv_intervals_any_model(
        purchase_model=FittedModel(PurchaseModel.PARETO_NBD, PARETO, log_covariance=PARETO_COV), gamma_gamma=GG,
        gamma_gamma_log_covariance=GG_COV, draws=120, seed=7, **CUSTOMERS, **INPUTS)
    # The same draws in the same order and both exact: no Monte Carlo or quadrature difference.
    np.testing.assert_allclose(fast.low, general.low, rtol=1e-10)
    np.testing.assert_allclose(fast.high, general.high, rtol=1e-10)
    assert (fast.low <= fast.high).all() and np.isfinite(fast.low).all() and (fast.level, fast.draws) == (0.9, 120)


def test_a_pareto_fit_gets_its_own_bootstrap_and_its_limit_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from metrics.predictive.maths import uncertainty

    fitted = FittedModel(PurchaseModel.PARETO_NBD, PARETO, log_covariance=PARETO_COV)
    got = clv_intervals_of_fit(purchase_model=fitted, gamma_gamma=GG, gamma_gamma_log_covariance=GG_COV, draws=60,
                               seed=5, **CUSTOMERS, **INPUTS)
    fast = paretonbd_clv_intervals(paretonbd=PARETO, paretonbd_log_covariance=PARETO_COV, gamma_gamma=GG,
                                   gamma_gamma_log_covariance=GG_COV, draws=60, seed=5, **CUSTOMERS, **INPUTS)
    np.testing.assert_array_equal(got.low, fast.low)
    np.testing.assert_array_equal(got.high, fast.high)
    # Far more distinct histories than the any-model bootstrap takes: still intervals.
    monkeypatch.setitem(uncertainty.MAX_DISTINCT_ANY_MODEL, "pareto_nbd", 5)
    assert clv_intervals_of_fit(purchase_model=fitted, gamma_gamma=GG, gamma_gamma_log_covariance=GG_COV, draws=20,
                                **CUSTOMERS, **INPUTS).low.size == CUSTOMERS["frequency"].size
    monkeypatch.setattr(uncertainty, "MAX_PARETO_HISTORIES", 5)
    with pytest.raises(TooManyHistories):
        clv_intervals_of_fit(purchase_model=fitted, gamma_gamma=GG, gamma_gamma_log_covariance=GG_COV, draws=20,
                             **CUSTOMERS, **INPUTS)


def test_blocks_smaller_than_the_histories_give_the_same_intervals(monkeypatch: pytest.MonkeyPatch) -> None:
    from metrics.predictive.maths import uncertainty

    whole = paretonbd_clv_intervals(paretonbd=PARETO, paretonbd_log_covariance=PARETO_COV, gamma_gamma=GG,
                                    gamma_gamma_log_covariance=GG_COV, draws=50, seed=9, **CUSTOMERS, **INPUTS)
    # 50 draws x 3 rows per block: blocks of histories end inside runs of customers sharing one.
    monkeypatch.setattr(uncertainty, "_BLOCK_CELLS", 150)
    pieces = paretonbd_clv_intervals(paretonbd=PARETO, paretonbd_log_covariance=PARETO_COV, gamma_gamma=GG,
                                     gamma_gamma_log_covariance=GG_COV, draws=50, seed=9, **CUSTOMERS, **INPUTS)
    np.testing.assert_allclose(pieces.low, whole.low, rtol=1e-12)
    np.testing.assert_allclose(pieces.high, whole.high, rtol=1e-12)
