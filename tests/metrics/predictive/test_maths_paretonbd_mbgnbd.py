"""Pareto/NBD and MBG/NBD on the CDNOW sample: the published Pareto/NBD estimates, an exact
check of the numerically integrated likelihood against the closed form at 50 digits, and the
figures of lifetimes 0.11.3 for both models.

The lifetimes figures were recorded once, in a separate virtualenv (lifetimes is not a
dependency of the project), with:

    python -m venv /tmp/lt && /tmp/lt/bin/pip install lifetimes==0.11.3
    # frequency, recency and T from CDNOW_sample.txt as in tests/data/cdnow/README.md (weeks,
    # calibration up to 1997-09-30, distinct purchase days), then:
    ModifiedBetaGeoFitter().fit(x, t_x, T).params_
    m.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T); m.conditional_probability_alive(x, t_x, T)
    ParetoNBDFitter().fit(x, t_x, T) and the same two calls
"""

from __future__ import annotations

import numpy as np
import pytest

from metrics.predictive.maths.errors import ModelFitError
from metrics.predictive.maths.mbgnbd import (
    MbgNbdParams,
    mbgnbd_conditional_expected_purchases,
    mbgnbd_fit,
    mbgnbd_log_likelihood,
    mbgnbd_p_alive,
)
from metrics.predictive.maths.paretonbd import (
    ParetoNbdParams,
    paretonbd_conditional_expected_purchases,
    paretonbd_fit,
    paretonbd_log_likelihood,
    paretonbd_log_likelihood_terms,
    paretonbd_p_alive,
)
from tests.metrics.predictive.cdnow import published_inputs_by_hand
from tests.metrics.predictive.paretonbd_reference import closed_form_log_likelihood

PUBLISHED_PARETO = {"r": 0.553, "alpha": 10.578, "s": 0.606, "beta": 11.669}
PUBLISHED_PARETO_LL = -9595.0
LIFETIMES_PARETO = ParetoNbdParams(0.5532847299792008, 10.578043146195075, 0.6062470622844546, 11.669326357010466)
LIFETIMES_MBG = MbgNbdParams(0.5248429031495964, 6.183081764399258, 0.8913595172712049, 1.6140029311982784)
# (x, t_x, T) -> (E[Y(39)], P(alive)) from lifetimes.
LIFETIMES_PARETO_SCORES = {(2, 30.43, 38.86): (1.4550925292322714, 0.8691159541629009),
                           (0, 0.0, 38.86): (0.10706150403181944, 0.29510122685996976),
                           (10, 35.0, 38.86): (6.416869032001484, 0.9273034573476236)}
LIFETIMES_MBG_SCORES = {(2, 30.43, 38.86): (1.2626692202500687, 0.7061257),
                        (0, 0.0, 38.86): (0.15395427693317557, 0.38971519),
                        (10, 35.0, 38.86): (5.8791152664325255, 0.83538436)}


@pytest.fixture(scope="module")
def cdnow() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = list(published_inputs_by_hand().values())
    return (np.array([r[0] for r in rows], float), np.array([r[1] for r in rows]), np.array([r[2] for r in rows]))


def test_pareto_nbd_reproduces_the_published_cdnow_estimates(cdnow: tuple[np.ndarray, ...]) -> None:
    fit = paretonbd_fit(*cdnow)
    for name, published in PUBLISHED_PARETO.items():
        assert getattr(fit.params, name) == pytest.approx(published, abs=5e-4), name
    assert fit.log_likelihood == pytest.approx(PUBLISHED_PARETO_LL, abs=0.05)
    assert (fit.n_customers, fit.n_repeat_customers) == (2357, 946)
    # And lifetimes' optimum, to its own precision.
    for name in PUBLISHED_PARETO:
        assert getattr(fit.params, name) == pytest.approx(getattr(LIFETIMES_PARETO, name), rel=2e-4), name


@pytest.mark.parametrize("params", [
    ParetoNbdParams(0.553, 10.578, 0.606, 11.669),   # alpha < beta
    ParetoNbdParams(0.9, 25.0, 1.4, 3.0),            # alpha > beta
    ParetoNbdParams(2.0, 0.5, 0.3, 0.5),             # alpha = beta
    ParetoNbdParams(0.3, 40.0, 0.8, 0.5),            # alpha >> beta: the roles of the integral swap
])
@pytest.mark.parametrize("case", [(0, 0.0, 38.86), (1, 2.0, 78.0), (7, 30.5, 38.86), (60, 70.0, 78.0), (3, 12.0, 12.0)])
def test_the_integrated_likelihood_equals_the_closed_form(params: ParetoNbdParams, case: tuple[int, float, float]) -> None:
    ours = float(paretonbd_log_likelihood_terms(params, [case[0]], [case[1]], [case[2]])[0])
    assert ours == pytest.approx(closed_form_log_likelihood(params, *case), rel=1e-12, abs=1e-10)


def test_pareto_nbd_scores_match_lifetimes() -> None:
    for (x, t_x, big_t), (expected, alive) in LIFETIMES_PARETO_SCORES.items():
        args = ([x], [t_x], [big_t])
        assert paretonbd_conditional_expected_purchases(LIFETIMES_PARETO, 39, *args)[0] == pytest.approx(expected, rel=1e-8)
        assert paretonbd_p_alive(LIFETIMES_PARETO, *args)[0] == pytest.approx(alive, rel=1e-8)


def test_pareto_nbd_expectation_is_continuous_through_s_equal_one() -> None:
    below, at, above = (paretonbd_conditional_expected_purchases(ParetoNbdParams(0.5, 10.0, s, 12.0), 39, [3], [20.0], [38.0])[0]
                        for s in (1 - 1e-7, 1.0, 1 + 1e-7))
    assert below == pytest.approx(at, rel=1e-6) and above == pytest.approx(at, rel=1e-6) and np.isfinite(at)


def test_a_customer_whose_last_purchase_is_at_t_is_alive_under_pareto_nbd() -> None:
    assert paretonbd_p_alive(LIFETIMES_PARETO, [4], [38.0], [38.0])[0] == 1.0
    # Heavy buyers and long histories stay finite (no 2F1 to overflow).
    assert np.isfinite(paretonbd_log_likelihood(LIFETIMES_PARETO, [500], [10.0], [600.0]))


def test_mbg_nbd_matches_lifetimes_modified_bg_fitter(cdnow: tuple[np.ndarray, ...]) -> None:
    fit = mbgnbd_fit(*cdnow)
    for name in ("r", "alpha", "a", "b"):
        assert getattr(fit.params, name) == pytest.approx(getattr(LIFETIMES_MBG, name), rel=2e-5), name
    assert fit.log_likelihood == pytest.approx(mbgnbd_log_likelihood(LIFETIMES_MBG, *cdnow), abs=1e-6)
    assert fit.log_likelihood == pytest.approx(-9582.1357, abs=1e-3)
    for (x, t_x, big_t), (expected, alive) in LIFETIMES_MBG_SCORES.items():
        args = ([x], [t_x], [big_t])
        assert mbgnbd_conditional_expected_purchases(LIFETIMES_MBG, 39, *args)[0] == pytest.approx(expected, rel=1e-8)
        assert mbgnbd_p_alive(LIFETIMES_MBG, *args)[0] == pytest.approx(alive, rel=1e-6)


def test_under_mbg_nbd_a_single_purchase_long_ago_is_not_certainly_alive() -> None:
    alive = mbgnbd_p_alive(LIFETIMES_MBG, [0, 0, 0], [0.0, 0.0, 0.0], [1.0, 39.0, 150.0])
    assert 0 < alive[2] < alive[1] < alive[0] < 1


@pytest.mark.parametrize("fit", [paretonbd_fit, mbgnbd_fit])
def test_fits_refuse_bad_input_and_data_without_repeat_buyers(fit: object) -> None:
    with pytest.raises(ModelFitError, match="recency"):
        fit([1, 2], [5.0, 50.0], [10.0, 20.0])  # type: ignore[operator]
    with pytest.raises(ModelFitError, match="finite"):
        fit([1, 2], [5.0, float("nan")], [10.0, 20.0])  # type: ignore[operator]
    with pytest.raises(ModelFitError, match="repeat purchases"):
        fit([0, 0, 0], [0.0, 0.0, 0.0], [10.0, 20.0, 30.0])  # type: ignore[operator]
