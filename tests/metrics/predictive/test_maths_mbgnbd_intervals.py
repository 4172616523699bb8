"""MBG/NBD's horizon sums and CLV intervals: the per-purchase-count sums with an interpolant over
the ages (mbgnbd_horizon_sums) against the month-by-month computation and the paper's closed form,
and its bootstrap (mbgnbd_clv_intervals) against the any-model bootstrap and a draw-by-draw one."""

from __future__ import annotations

from typing import Any

import mpmath as mp
import numpy as np
import pytest

from metrics.predictive.maths import GammaGammaParams, clv_score, gamma_gamma_fit, rfm_summary
from metrics.predictive.maths.clv import UNITS_PER_MONTH, horizon_coefficients
from metrics.predictive.maths.gammagamma import gamma_gamma_expected_spend
from metrics.predictive.maths.mbgnbd import (
    MbgNbdParams,
    mbgnbd_conditional_expected_purchases,
    mbgnbd_horizon_sums,
    mbgnbd_p_alive,
)
from metrics.predictive.maths.purchase_models import (
    FittedModel,
    PurchaseModel,
    purchase_model_expected_if_alive,
    purchase_model_fit,
)
from metrics.predictive.maths.uncertainty import (
    clv_intervals_any_model,
    clv_intervals_of_fit,
    mbgnbd_clv_intervals,
    parameter_draws,
)

from .cdnow import CALIBRATION_END, sample_transactions

GRID = [1e-3, 0.05, 1.0, 2.5, 40.0, 1e3, 1e6]
# Purchase counts from none to a heavy buyer, and enough ages per count (ages in whole days, as
# dates give them) for the interpolant over the ages to be used rather than the direct sums.
FREQUENCIES = np.repeat([0.0, 1.0, 5.0, 40.0], 150)
AGES = np.tile(np.arange(1, 151) * 5.0 / 7.0, 4)


def _direct(params: MbgNbdParams, x: np.ndarray, big_t: np.ndarray, *, horizon_months: int,
            monthly_discount: float) -> tuple[np.ndarray, np.ndarray]:
    """The discounted expected purchases over the horizon, sum_k (E_k - E_(k-1)) / (1 + d)^k, and the
    12-month E, from E[Y(t) | alive] at every month end (one column per month), as clv_score summed
    them month by month before the horizon sums."""
    months = np.arange(1, max(horizon_months, 12) + 1)
    cumulative = purchase_model_expected_if_alive(FittedModel(PurchaseModel.MBGNBD, params),
                                                  months[None, :] * UNITS_PER_MONTH, x[:, None], big_t[:, None])
    increments = np.diff(cumulative[:, :horizon_months], axis=1, prepend=0.0)
    discount = (1.0 + monthly_discount) ** -months[:horizon_months].astype(float)
    return increments @ discount, cumulative[:, 11]


def test_the_month_by_month_reference_is_the_conditional_expectation_over_p_alive() -> None:
    params = MbgNbdParams(0.525, 6.18, 0.891, 1.614)
    x, t_x, big_t = np.array([0.0, 2.0, 10.0]), np.array([0.0, 30.43, 35.0]), np.array([38.86, 38.86, 38.86])
    conditional = [mbgnbd_conditional_expected_purchases(params, k * UNITS_PER_MONTH, x, t_x, big_t)
                   for k in range(1, 13)]
    alive = mbgnbd_p_alive(params, x, t_x, big_t)
    want = sum((conditional[k] - (conditional[k - 1] if k else 0.0)) / 1.008 ** (k + 1) for k in range(12))
    discounted, twelve = _direct(params, x, big_t, horizon_months=12, monthly_discount=0.008)
    np.testing.assert_allclose(discounted * alive, want, rtol=1e-13)
    np.testing.assert_allclose(twelve * alive, conditional[11], rtol=1e-13)


def _sums(params: MbgNbdParams, x: np.ndarray, big_t: np.ndarray, **horizon: Any) -> np.ndarray:
    times, weights = horizon_coefficients(**horizon)
    return mbgnbd_horizon_sums(params, x, big_t, times=times, coefficients=weights)


@pytest.mark.parametrize("a", GRID)
@pytest.mark.parametrize(("r", "alpha"), [(0.525, 6.18), (20.0, 0.05)])
def test_the_horizon_sums_equal_the_month_by_month_sums_for_every_a_and_b(r: float, alpha: float, a: float) -> None:
    # 150 ages per purchase count: enough for the interpolant over the ages to be used (it is, for
    # every count and parameter here), not only the direct sums.
    worst = 0.0
    for b in GRID:
        params = MbgNbdParams(r, alpha, a, b)
        got = _sums(params, FREQUENCIES, AGES, horizon_months=36, monthly_discount=0.008)
        discounted, twelve = _direct(params, FREQUENCIES, AGES, horizon_months=36, monthly_discount=0.008)
        assert np.isfinite(got).all() and (got > 0).all(), (a, b)
        worst = max(worst, float(np.max(np.abs(got[:, 0] / discounted - 1.0))),
                    float(np.max(np.abs(got[:, 1] / twelve - 1.0))))
    assert worst < 1e-9


@pytest.mark.parametrize(("horizon_months", "monthly_discount"), [(1, 0.008), (12, 0.0), (120, 0.03), (300, -0.002)])
def test_the_horizon_sums_hold_for_short_long_undiscounted_and_negative_discounted_horizons(
    horizon_months: int, monthly_discount: float
) -> None:
    params = MbgNbdParams(0.525, 6.18, 0.891, 1.614)
    got = _sums(params, FREQUENCIES, AGES, horizon_months=horizon_months, monthly_discount=monthly_discount)
    discounted, twelve = _direct(params, FREQUENCIES, AGES, horizon_months=horizon_months,
                                 monthly_discount=monthly_discount)
    np.testing.assert_allclose(got[:, 0], discounted, rtol=1e-9)
    np.testing.assert_allclose(got[:, 1], twelve, rtol=1e-9)


def _closed_form(r: float, alpha: float, a: float, b: float, x: int, big_t: float, t: float) -> mp.mpf:
    """E[Y(t) | alive, x, T] of the paper, (a + b + x) / (a - 1) [1 - ((alpha + T) / (alpha + T + t))^(r + x)
    2F1(r + x, b + x + 1; a + b + x; t / (alpha + T + t))], in mpmath (the caller sets the digits)."""
    r_, al, a_, b_, t_, big = (mp.mpf(v) for v in (r, alpha, a, b, t, big_t))
    z = t_ / (al + big + t_)
    return (a_ + b_ + x) / (a_ - 1) * (1 - (1 - z) ** (r_ + x) * mp.hyp2f1(r_ + x, b_ + x + 1, a_ + b_ + x, z))


@pytest.mark.parametrize("params", [(0.525, 6.18, 0.891, 1.614), (2.0, 1.5, 3.0, 0.4), (0.5, 20.0, 0.05, 50.0)])
def test_the_horizon_sums_match_the_paper_s_closed_form_at_40_digits(params: tuple[float, float, float, float]) -> None:
    x, big_t = np.array([0.0, 2.0, 10.0]), np.array([0.0, 38.86, 20.0])
    got = _sums(MbgNbdParams(*params), x, big_t, horizon_months=12, monthly_discount=0.008)
    with mp.workdps(40):
        for i in range(x.size):
            cumulative = [mp.mpf(0)] + [_closed_form(*params, int(x[i]), float(big_t[i]), k * UNITS_PER_MONTH)
                                        for k in range(1, 13)]
            want = mp.fsum((cumulative[k] - cumulative[k - 1]) / mp.mpf(1.008) ** k for k in range(1, 13))
            assert got[i, 0] == pytest.approx(float(want), rel=1e-9)
            assert got[i, 1] == pytest.approx(float(cumulative[12]), rel=1e-9)


def test_scoring_an_mbgnbd_fit_uses_the_horizon_sums() -> None:
    params = MbgNbdParams(0.525, 6.18, 0.891, 1.614)
    recency = np.minimum(AGES, np.where(FREQUENCIES > 0, AGES / 2.0 + 0.5, 0.0))
    scores = clv_score(purchase_model=FittedModel(PurchaseModel.MBGNBD, params), gamma_gamma=GG,
                       frequency=FREQUENCIES, recency=recency, age=AGES, monetary_value=np.full(AGES.size, 30.0),
                       margin_rate=np.full(AGES.size, 0.3), horizon_months=36, monthly_discount=0.008)
    discounted, twelve = _direct(params, FREQUENCIES, AGES, horizon_months=36, monthly_discount=0.008)
    alive = mbgnbd_p_alive(params, FREQUENCIES, recency, AGES)
    np.testing.assert_allclose(scores.discounted_purchases, discounted * alive, rtol=1e-9)
    np.testing.assert_allclose(scores.expected_purchases_12m, twelve * alive, rtol=1e-9)


CUSTOMERS: dict[str, Any] = {
    "frequency": np.array([0.0, 1, 2, 6, 15, 0]), "recency": np.array([0.0, 5, 20, 30, 38, 0]),
    "age": np.array([10.0, 30, 40, 40, 39, 2]), "monetary_value": np.array([0.0, 20, 35, 50, 28, 0]),
    "margin_rate": np.full(6, 0.3), "horizon_months": 36, "monthly_discount": 0.008,
}
MBG = MbgNbdParams(0.525, 6.18, 0.891, 1.614)
MBG_COV = np.diag([0.05, 0.08, 0.2, 0.25]) ** 2
GG = GammaGammaParams(6.25, 3.74, 15.44)
GG_COV = np.diag([0.03, 0.02, 0.04]) ** 2


def test_the_mbgnbd_bootstrap_equals_the_any_model_bootstrap_with_the_same_seed() -> None:
    fast = mbgnbd_clv_intervals(mbgnbd=MBG, mbgnbd_log_covariance=MBG_COV, gamma_gamma=GG,
                                gamma_gamma_log_covariance=GG_COV, draws=150, seed=7, **CUSTOMERS)
    general = clv_intervals_any_model(purchase_model=FittedModel(PurchaseModel.MBGNBD, MBG, log_covariance=MBG_COV),
                                      gamma_gamma=GG, gamma_gamma_log_covariance=GG_COV, draws=150, seed=7,
                                      **CUSTOMERS)
    # The same draws in the same order, so no Monte Carlo difference: only the quadrature's, the
    # coarse one (~1e-7) against clv_score's full precision.
    np.testing.assert_allclose(fast.low, general.low, rtol=1e-5)
    np.testing.assert_allclose(fast.high, general.high, rtol=1e-5)
    assert (fast.low < fast.high).all() and (fast.level, fast.draws) == (0.9, 150)


def test_a_fit_gets_the_fastest_bootstrap_of_its_model() -> None:
    """clv_intervals_of_fit (what the service calls) is mbgnbd_clv_intervals for MBG/NBD."""
    fitted = FittedModel(PurchaseModel.MBGNBD, MBG, log_covariance=MBG_COV)
    got = clv_intervals_of_fit(purchase_model=fitted, gamma_gamma=GG, gamma_gamma_log_covariance=GG_COV,
                               draws=80, seed=5, **CUSTOMERS)
    fast = mbgnbd_clv_intervals(mbgnbd=MBG, mbgnbd_log_covariance=MBG_COV, gamma_gamma=GG,
                                gamma_gamma_log_covariance=GG_COV, draws=80, seed=5, **CUSTOMERS)
    np.testing.assert_array_equal(got.low, fast.low)
    np.testing.assert_array_equal(got.high, fast.high)
    with pytest.raises(ValueError, match="no covariance"):
        clv_intervals_of_fit(purchase_model=FittedModel(PurchaseModel.MBGNBD, MBG), gamma_gamma=GG,
                             gamma_gamma_log_covariance=GG_COV, **CUSTOMERS)


def test_the_mbgnbd_bootstrap_equals_scoring_each_draw_month_by_month() -> None:
    got = mbgnbd_clv_intervals(mbgnbd=MBG, mbgnbd_log_covariance=MBG_COV, gamma_gamma=GG,
                               gamma_gamma_log_covariance=GG_COV, draws=120, seed=3, **CUSTOMERS)
    rng = np.random.default_rng(3)
    mbg = parameter_draws(np.log(MBG.as_tuple()), MBG_COV, draws=120, rng=rng)
    gg = parameter_draws(np.log([GG.p, GG.q, GG.gamma]), GG_COV, draws=120, rng=rng)
    x, t_x, big_t = CUSTOMERS["frequency"], CUSTOMERS["recency"], CUSTOMERS["age"]
    clv = []
    for m, g in zip(mbg, gg, strict=True):
        params = MbgNbdParams(*m)
        discounted, _ = _direct(params, x, big_t, horizon_months=36, monthly_discount=0.008)
        spend = gamma_gamma_expected_spend(GammaGammaParams(*g), x, CUSTOMERS["monetary_value"])
        clv.append(discounted * mbgnbd_p_alive(params, x, t_x, big_t) * spend * 0.3)
    low, high = np.quantile(np.array(clv), [0.05, 0.95], axis=0)
    np.testing.assert_allclose(got.low, low, rtol=1e-5)
    np.testing.assert_allclose(got.high, high, rtol=1e-5)


def test_mbgnbd_intervals_on_cdnow_hold_the_prediction_and_narrow_with_certainty() -> None:
    s = rfm_summary(sample_transactions(), observation_end=CALIBRATION_END, default_margin_rate=0.3)
    x, t_x, big_t = s["frequency"].to_numpy(float), s["recency"].to_numpy(), s["T"].to_numpy()
    m = s["monetary_value"].to_numpy(float)
    fitted = purchase_model_fit(PurchaseModel.MBGNBD, x, t_x, big_t)
    spend = gamma_gamma_fit(x, m)
    mbg_cov, gg_cov = fitted.log_covariance, spend.log_covariance
    assert mbg_cov is not None and gg_cov is not None and isinstance(fitted.params, MbgNbdParams)
    inputs = {"frequency": x, "recency": t_x, "age": big_t, "monetary_value": m, "margin_rate": np.full(x.size, 0.3),
              "horizon_months": 36, "monthly_discount": 0.008}
    point = clv_score(purchase_model=fitted, gamma_gamma=spend.params, **inputs).predicted_clv

    def intervals(scale: float) -> Any:
        return mbgnbd_clv_intervals(mbgnbd=fitted.params, mbgnbd_log_covariance=mbg_cov * scale,  # type: ignore[arg-type]
                                    gamma_gamma=spend.params, gamma_gamma_log_covariance=gg_cov * scale, draws=40,
                                    **inputs)

    got, narrower = intervals(1.0), intervals(0.25)
    assert np.isfinite(got.low).all() and (got.low <= got.high).all()
    inside = (got.low <= point * (1 + 1e-9)) & (point <= got.high * (1 + 1e-9))
    assert inside.mean() > 0.95
    spread, tight = got.high - got.low, narrower.high - narrower.low
    assert np.median(tight[spread > 0] / spread[spread > 0]) == pytest.approx(0.5, abs=0.15)


def test_wildly_uncertain_mbgnbd_drop_out_parameters_still_give_finite_intervals() -> None:
    got = mbgnbd_clv_intervals(mbgnbd=MBG, mbgnbd_log_covariance=np.diag([0.05, 0.08, 15.0, 15.0]) ** 2,
                               gamma_gamma=GG, gamma_gamma_log_covariance=GG_COV, draws=60, **CUSTOMERS)
    assert np.isfinite(got.low).all() and np.isfinite(got.high).all() and (got.low <= got.high).all()
