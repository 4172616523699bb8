"""Every pure scoring function refuses what it cannot score, with the reason (issue 13's cases one
by one), and degenerate fits fail with the reason or succeed with a warning."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from metrics.predictive.maths import (
    BgNbdParams,
    GammaGammaParams,
    bgnbd_conditional_expected_purchases,
    bgnbd_fit,
    bgnbd_p_alive,
    clv_score,
    gamma_gamma_expected_spend,
    tiers_assign,
)
from metrics.predictive.maths.bgnbd import bgnbd_unconditional_expected_purchases
from metrics.predictive.maths.checks import GG_Q_MARGIN, MAX_HORIZON_MONTHS
from metrics.predictive.maths.errors import (
    BGNBD_TOO_FEW_REPEAT_BUYERS,
    FIT_NO_STANDARD_ERRORS,
    FIT_POORLY_IDENTIFIED,
    INPUT_DISCOUNT,
    INPUT_GG_Q,
    INPUT_HORIZON,
    INPUT_LENGTHS,
    INPUT_NEGATIVE,
    INPUT_NOT_FINITE,
    INPUT_PARAMETER,
    INPUT_RECENCY_RANGE,
    INPUT_RECENCY_WITHOUT_REPEAT,
    ModelFitError,
    ModelInputError,
)
from metrics.predictive.maths.mbgnbd import MbgNbdParams
from metrics.predictive.maths.paretonbd import ParetoNbdParams, paretonbd_conditional_expected_purchases

BG = BgNbdParams(0.243, 4.414, 0.793, 2.426)
GG = GammaGammaParams(6.25, 3.74, 15.44)


def _score(**changes: Any) -> Any:
    inputs: dict[str, Any] = {
        "bgnbd": BG, "gamma_gamma": GG, "frequency": [0, 2, 5], "recency": [0, 10.0, 30.0], "age": [20.0, 30, 40],
        "monetary_value": [0, 30.0, 40.0], "margin_rate": [0.3, 0.3, 0.3], "horizon_months": 36,
        "monthly_discount": 0.008,
    }
    return clv_score(**(inputs | changes))


def _refused(call: Any, message: str) -> None:
    with pytest.raises(ModelInputError) as error:
        call()
    assert str(error.value) == message


def test_nan_spend_is_refused() -> None:
    _refused(lambda: _score(monetary_value=[0, np.nan, 40.0]), INPUT_NOT_FINITE.format(name="spend", count=1, index=1))


def test_nan_margin_is_refused() -> None:
    _refused(lambda: _score(margin_rate=[0.3, 0.3, np.inf]),
             INPUT_NOT_FINITE.format(name="margin rate", count=1, index=2))


def test_a_spend_array_of_the_wrong_length_is_refused_not_broadcast() -> None:
    _refused(lambda: _score(monetary_value=[30.0]),
             INPUT_LENGTHS.format(names="frequency, spend, margin_rate", lengths="frequency 3, spend 1, margin_rate 3"))


@pytest.mark.parametrize("rate", [-1.0, -1.5, np.nan, np.inf])
def test_a_discount_rate_at_or_below_minus_one_or_not_finite_is_refused(rate: float) -> None:
    _refused(lambda: _score(monthly_discount=rate), INPUT_DISCOUNT.format(value=rate))


def test_a_discount_just_above_minus_one_still_scores_and_zero_discount_is_the_plain_sum() -> None:
    assert np.isfinite(_score(monthly_discount=-0.01).predicted_clv).all()
    assert (_score(monthly_discount=0.0).predicted_clv >= _score(monthly_discount=0.01).predicted_clv).all()


@pytest.mark.parametrize("months", [0, -3, MAX_HORIZON_MONTHS + 1, 2.5])
def test_a_horizon_outside_1_to_the_maximum_is_refused(months: Any) -> None:
    _refused(lambda: _score(horizon_months=months), INPUT_HORIZON.format(maximum=MAX_HORIZON_MONTHS, value=months))


def test_repeat_purchases_with_recency_and_age_zero_are_refused() -> None:
    # t_x = T = 0 with x = 3: three repeat purchases on the first purchase's day cannot be.
    _refused(lambda: _score(frequency=[3, 2, 5], recency=[0, 10.0, 30.0], age=[0, 30.0, 40.0]),
             INPUT_RECENCY_WITHOUT_REPEAT.format(count=1, index=0))


def test_recency_beyond_the_age_is_refused() -> None:
    _refused(lambda: bgnbd_p_alive(BG, [2], [12.0], [10.0]), INPUT_RECENCY_RANGE.format(count=1, index=0))


def test_negative_age_is_refused() -> None:
    _refused(lambda: bgnbd_p_alive(BG, [0], [0], [-1.0]), INPUT_NEGATIVE.format(name="T", count=1, index=0))


def test_a_negative_or_nan_prediction_time_is_refused() -> None:
    _refused(lambda: bgnbd_conditional_expected_purchases(BG, -1.0, [1], [2.0], [3.0]),
             INPUT_NEGATIVE.format(name="t", count=1, index=0))
    _refused(lambda: bgnbd_unconditional_expected_purchases(BG, [1.0, np.nan]),
             INPUT_NOT_FINITE.format(name="t", count=1, index=1))
    _refused(lambda: paretonbd_conditional_expected_purchases(ParetoNbdParams(0.55, 10.6, 0.61, 11.7), np.nan,
                                                              [1], [2.0], [3.0]),
             INPUT_NOT_FINITE.format(name="t", count=1, index=0))


@pytest.mark.parametrize("q", [1.0000001, 1.0, 0.5, 1.0 + GG_Q_MARGIN])
def test_a_spend_model_q_not_clear_of_one_is_refused(q: float) -> None:
    # q = 1.0000001 used to give a spend of $9e8.
    params = GammaGammaParams(6.25, q, 15.44)
    _refused(lambda: gamma_gamma_expected_spend(params, [0, 2], [0, 30.0]), INPUT_GG_Q.format(margin=GG_Q_MARGIN, value=q))
    _refused(lambda: _score(gamma_gamma=params), INPUT_GG_Q.format(margin=GG_Q_MARGIN, value=q))


def test_q_just_clear_of_the_margin_gives_a_finite_spend() -> None:
    spend = gamma_gamma_expected_spend(GammaGammaParams(6.25, 1.0 + 2 * GG_Q_MARGIN, 15.44), [0, 2], [0, 30.0])
    assert np.isfinite(spend).all()


@pytest.mark.parametrize(("make", "model", "name"), [
    (lambda: BgNbdParams(0.2, np.nan, 1.0, 1.0), "BG/NBD", "alpha"),
    (lambda: BgNbdParams(0.2, 4.0, -1.0, 1.0), "BG/NBD", "a"),
    (lambda: GammaGammaParams(0.0, 3.0, 1.0), "Gamma-Gamma", "p"),
    (lambda: MbgNbdParams(0.2, 4.0, 1.0, np.inf), "MBG/NBD", "b"),
    (lambda: ParetoNbdParams(0.2, 4.0, 0.0, 1.0), "Pareto/NBD", "s"),
])
def test_parameters_must_be_finite_and_positive(make: Any, model: str, name: str) -> None:
    with pytest.raises(ModelInputError) as error:
        make()
    assert str(error.value).startswith(INPUT_PARAMETER.split("{model}")[0])
    assert f"the {model} parameter {name} " in str(error.value)


def test_bgnbd_unconditional_expectation_at_a_equal_one_does_not_divide_by_zero() -> None:
    values = bgnbd_unconditional_expected_purchases(BgNbdParams(0.243, 4.414, 1.0, 2.426), [0.0, 10.0, 52.0])
    assert values[0] == 0.0 and 0 < values[1] < values[2] and np.isfinite(values).all()


def test_tiers_refuse_columns_of_different_lengths_and_nan_values() -> None:
    with pytest.raises(ModelInputError):
        tiers_assign(predicted_clv=[1.0, 2.0], historic_margin=[1.0], p_alive=[0.5, 0.5])
    with pytest.raises(ModelInputError):
        tiers_assign(predicted_clv=[1.0, np.nan], historic_margin=[1.0, 2.0], p_alive=[0.5, 0.5])


def _few_repeat_buyers(repeaters: int, n: int = 500, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    age = rng.uniform(10, 52, n)
    x, t_x = np.zeros(n), np.zeros(n)
    x[:repeaters] = rng.integers(1, 3, repeaters)
    t_x[:repeaters] = age[:repeaters] * rng.uniform(0.1, 1, repeaters)
    return x, t_x, age


def test_one_repeat_buyer_among_500_customers_fails_with_the_reason() -> None:
    # Unchecked, this fit returned a = 2e4, b = 5e-5 without a note, then NaN for everyone.
    with pytest.raises(ModelFitError) as error:
        bgnbd_fit(*_few_repeat_buyers(1))
    assert str(error.value) == BGNBD_TOO_FEW_REPEAT_BUYERS.format(minimum=10, count=1, total=500)


def test_a_barely_identified_fit_succeeds_with_a_warning_and_finite_scores() -> None:
    x, t_x, age = _few_repeat_buyers(10)
    fit = bgnbd_fit(x, t_x, age)
    assert fit.warnings
    heads = {FIT_NO_STANDARD_ERRORS.split("{")[0], FIT_POORLY_IDENTIFIED.split("{")[0]}
    assert all(str(w).startswith(tuple(heads)) for w in fit.warnings)
    scores = clv_score(bgnbd=fit.params, gamma_gamma=GG, frequency=x, recency=t_x, age=age,
                       monetary_value=np.where(x > 0, 30.0, 0.0), margin_rate=np.full(x.size, 0.3),
                       horizon_months=36, monthly_discount=0.008)
    assert np.isfinite(scores.predicted_clv).all()


def test_a_well_identified_fit_carries_no_warning(cdnow_inputs: tuple) -> None:
    assert bgnbd_fit(*cdnow_inputs).warnings == ()


@pytest.fixture(scope="module")
def cdnow_inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from metrics.predictive.maths import rfm_summary

    from .cdnow import CALIBRATION_END, sample_transactions

    s = rfm_summary(sample_transactions(), observation_end=CALIBRATION_END, default_margin_rate=0.3)
    return s["frequency"].to_numpy(float), s["recency"].to_numpy(), s["T"].to_numpy()
