from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import approx_fprime
from scipy.special import hyp2f1

from metrics.predictive.maths import (
    BgNbdParams,
    ModelFitError,
    bgnbd_conditional_expected_purchases,
    bgnbd_fit,
    bgnbd_log_likelihood,
    bgnbd_p_alive,
    bgnbd_p_alive_path,
    rfm_summary,
)
from metrics.predictive.maths.bgnbd import bgnbd_gradient, bgnbd_unconditional_expected_purchases
from metrics.predictive.maths.errors import (
    BGNBD_HOMOGENEOUS_DROPOUT,
    BGNBD_NO_REPEAT_BUYERS,
    BGNBD_TOO_FEW_CUSTOMERS,
    INPUT_LENGTHS,
    INPUT_NEGATIVE,
    INPUT_NOT_FINITE,
    INPUT_NOT_WHOLE,
    INPUT_RECENCY_RANGE,
    INPUT_RECENCY_WITHOUT_REPEAT,
    ModelInputError,
)

from .cdnow import CALIBRATION_END, PUBLISHED_BGNBD, PUBLISHED_BGNBD_LL, PUBLISHED_EY39, sample_transactions


@pytest.fixture(scope="module")
def cdnow() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    s = rfm_summary(sample_transactions(), observation_end=CALIBRATION_END, default_margin_rate=0.3)
    return s["frequency"].to_numpy(float), s["recency"].to_numpy(), s["T"].to_numpy()


def test_bgnbd_fit_reproduces_the_published_cdnow_estimates(cdnow: tuple) -> None:
    fit = bgnbd_fit(*cdnow)
    got = {"r": fit.params.r, "alpha": fit.params.alpha, "a": fit.params.a, "b": fit.params.b}
    assert {k: round(v, 3) for k, v in got.items()} == PUBLISHED_BGNBD
    assert round(fit.log_likelihood, 1) == PUBLISHED_BGNBD_LL
    assert fit.n_customers == 2357
    assert fit.n_repeat_customers == 946


def test_fitting_distinct_triples_with_weights_equals_fitting_every_customer(cdnow: tuple) -> None:
    weighted = bgnbd_fit(*cdnow)
    plain = bgnbd_fit(*cdnow, deduplicate=False)
    assert weighted.n_distinct < plain.n_distinct == 2357
    np.testing.assert_allclose(weighted.params.as_tuple(), plain.params.as_tuple(), rtol=1e-5)
    assert weighted.log_likelihood == pytest.approx(plain.log_likelihood, abs=1e-6)


def test_the_optimised_likelihood_equals_the_plain_one_at_the_estimate(cdnow: tuple) -> None:
    fit = bgnbd_fit(*cdnow, deduplicate=False)
    assert fit.log_likelihood == pytest.approx(bgnbd_log_likelihood(fit.params, *cdnow), abs=1e-7)


def test_log_likelihood_at_the_published_parameters_is_the_published_value(cdnow: tuple) -> None:
    assert round(bgnbd_log_likelihood(BgNbdParams(**PUBLISHED_BGNBD), *cdnow), 1) == PUBLISHED_BGNBD_LL


@pytest.mark.parametrize("point", [(0.243, 4.414, 0.793, 2.426), (1.5, 0.7, 2.2, 0.4), (0.05, 30.0, 0.3, 9.0)])
def test_the_analytic_gradient_matches_finite_differences(cdnow: tuple, point: tuple) -> None:
    params = np.array(point)
    analytic = bgnbd_gradient(BgNbdParams(*params), *cdnow)
    numeric = approx_fprime(params, lambda v: bgnbd_log_likelihood(BgNbdParams(*v), *cdnow), 1e-7 * params)
    np.testing.assert_allclose(analytic, numeric, rtol=2e-4, atol=1e-3)


def test_conditional_expectation_of_the_published_example_is_1_226() -> None:
    expected = bgnbd_conditional_expected_purchases(BgNbdParams(**PUBLISHED_BGNBD), 39, [2], [30.43], [38.86])
    assert round(float(expected[0]), 3) == PUBLISHED_EY39


def test_euler_transformed_hypergeometric_term_equals_the_direct_formula() -> None:
    params = BgNbdParams(**PUBLISHED_BGNBD)
    r, alpha, a, b = params.as_tuple()
    x = np.array([0.0, 1, 2, 7, 25])
    t_x = np.array([0.0, 3, 30.43, 35, 38])
    big_t = np.full(5, 38.86)
    t = 39.0
    z = t / (alpha + big_t + t)
    direct = (a + b + x - 1) / (a - 1) * (
        1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    )
    direct = direct * bgnbd_p_alive(params, x, t_x, big_t)
    np.testing.assert_allclose(bgnbd_conditional_expected_purchases(params, t, x, t_x, big_t), direct, rtol=1e-10)


def test_a_one_purchase_customer_is_alive_for_sure_and_expects_fewer_purchases_than_a_new_one() -> None:
    params = BgNbdParams(**PUBLISHED_BGNBD)
    assert bgnbd_p_alive(params, [0], [0], [30])[0] == 1.0
    later = bgnbd_conditional_expected_purchases(params, 52, [0], [0], [30])[0]
    brand_new = bgnbd_unconditional_expected_purchases(params, 52)
    assert 0 < later < brand_new


def test_p_alive_falls_with_time_since_the_last_purchase_and_rises_with_frequency() -> None:
    params = BgNbdParams(**PUBLISHED_BGNBD)
    p = bgnbd_p_alive(params, [3, 3, 3], [5, 20, 38], [40, 40, 40])
    assert p[0] < p[1] < p[2] <= 1
    assert bgnbd_p_alive(params, [1], [20], [40])[0] > bgnbd_p_alive(params, [8], [20], [40])[0]


def test_p_alive_path_jumps_up_at_each_purchase_and_is_undefined_before_the_first() -> None:
    params = BgNbdParams(**PUBLISHED_BGNBD)
    path = bgnbd_p_alive_path(params, [10.0, 20.0, 22.0], [5.0, 10.0, 15.0, 19.9, 20.0, 21.9, 22.0, 40.0])
    assert np.isnan(path[0])
    assert path[1] == 1.0 and path[2] == 1.0 and path[3] == 1.0  # one purchase only so far
    # Right after a repeat purchase only the chance of dropping out at that purchase remains.
    assert path[4] == pytest.approx(1 / (1 + params.a / params.b))
    assert path[5] < path[4] < path[6]
    assert path[7] < path[6]
    np.testing.assert_allclose(path[6], bgnbd_p_alive(params, [2], [12.0], [12.0]))


def test_all_customers_with_one_purchase_cannot_be_identified() -> None:
    with pytest.raises(ModelFitError) as error:
        bgnbd_fit(np.zeros(500), np.zeros(500), np.linspace(1, 50, 500))
    assert str(error.value) == BGNBD_NO_REPEAT_BUYERS


def test_a_single_customer_is_too_few() -> None:
    with pytest.raises(ModelFitError) as error:
        bgnbd_fit([2], [5.0], [9.0])
    assert str(error.value) == BGNBD_TOO_FEW_CUSTOMERS.format(minimum=2, count=1)


def test_degenerate_data_raise_instead_of_returning_runaway_parameters() -> None:
    with pytest.raises(ModelFitError, match="ran to the edge of its allowed range"):
        bgnbd_fit(np.ones(200), np.full(200, 10.0), np.full(200, 10.0))


@pytest.mark.parametrize(
    ("x", "t_x", "big_t", "message"),
    [
        ([1, np.nan], [1, 1], [2, 2], INPUT_NOT_FINITE.format(name="frequency", count=1, index=1)),
        ([1, -1], [1, 0], [2, 2], INPUT_NEGATIVE.format(name="frequency", count=1, index=1)),
        ([1, 1.5], [1, 1], [2, 2], INPUT_NOT_WHOLE.format(count=1, index=1)),
        ([1, 1], [3, 1], [2, 2], INPUT_RECENCY_RANGE.format(count=1, index=0)),
        ([0, 1], [1, 1], [2, 2], INPUT_RECENCY_WITHOUT_REPEAT.format(count=1, index=0)),
        ([1, 1], [1, 1], [2, 2, 2], INPUT_LENGTHS.format(names="frequency, recency, T",
                                                         lengths="frequency 2, recency 2, T 3")),
    ],
)
def test_bad_inputs_are_refused_with_the_reason(x: list, t_x: list, big_t: list, message: str) -> None:
    with pytest.raises(ModelInputError) as error:
        bgnbd_fit(x, t_x, big_t)
    assert str(error.value) == message


def _homogeneous_dropout_customers(n: int, p: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """BG/NBD customers whose drop-out chance after each purchase is the same p for everyone
    (purchase rates Gamma(2, 8) per week, 52 weeks observed)."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(2.0, 1 / 8.0, n)
    age = np.full(n, 52.0)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / rates[i])
            if t > age[i]:
                break
            x[i], t_x[i] = x[i] + 1, t
            if rng.random() < p:
                break
    return x, t_x, age


def test_a_drop_out_chance_shared_by_every_customer_is_fitted_and_said() -> None:
    # a and b run off together (only a / (a + b) is identified): the fit still succeeds, says so,
    # and recovers the purchase-rate parameters and the drop-out probability.
    x, t_x, age = _homogeneous_dropout_customers(3000, 0.1, seed=0)
    fit = bgnbd_fit(x, t_x, age)
    assert str(fit.note) == BGNBD_HOMOGENEOUS_DROPOUT.format(p=fit.params.a / (fit.params.a + fit.params.b))
    assert abs(fit.params.a / (fit.params.a + fit.params.b) - 0.1) < 0.01
    assert abs(fit.params.r - 2.0) < 0.2 and abs(fit.params.alpha - 8.0) < 1.0
    assert np.isfinite(bgnbd_p_alive(fit.params, x, t_x, age)).all()
    # Expected purchases stay finite there and close to those of a nearer point of the ridge.
    expected = bgnbd_conditional_expected_purchases(fit.params, 52.0, x, t_x, age)
    assert np.isfinite(expected).all() and (expected >= 0).all()
    p = fit.params.a / (fit.params.a + fit.params.b)
    nearby = BgNbdParams(r=fit.params.r, alpha=fit.params.alpha, a=2000.0 * p / (1 - p), b=2000.0)
    heavy = x < 10
    reference = bgnbd_conditional_expected_purchases(nearby, 52.0, x[heavy], t_x[heavy], age[heavy])
    assert np.isfinite(reference).all() and np.allclose(expected[heavy], reference, rtol=0.01, atol=1e-3)
