"""No silent NaN: the BG/NBD expected purchases against mpmath at 50 digits for every a, b, and the
scoring finite and exact where the hypergeometric series used to overflow."""

from __future__ import annotations

import itertools

import mpmath as mp
import numpy as np
import pytest

from metrics.predictive.maths import BgNbdParams, GammaGammaParams, clv_score
from metrics.predictive.maths.bgnbd import (
    bgnbd_conditional_expected_purchases,
    bgnbd_expected_purchases_if_alive,
    bgnbd_unconditional_expected_purchases,
)
from metrics.predictive.maths.clv import UNITS_PER_MONTH, bgnbd_horizon_sums
from metrics.predictive.maths.mbgnbd import MbgNbdParams, mbgnbd_conditional_expected_purchases

R, ALPHA = 0.243, 4.414
GRID = [1e-3, 0.05, 1.0, 2.5, 40.0, 1e3, 1e6]
# (x, T, t): a new customer over 600 months, the published example's customer over a year, a heavy
# buyer over a week, a one-repeat customer over 600 months.
POINTS = [(0, 0.0, 600 * UNITS_PER_MONTH), (3, 38.86, 12 * UNITS_PER_MONTH), (40, 150.0, 1.0),
          (1, 5.0, 600 * UNITS_PER_MONTH)]


def _reference(r: float, a: float, b: float, tau: float, *, integrate: bool | None = None) -> float:
    """E[Y(t) | alive] = (a + b - 1) / (a - 1) [1 - (1 - z)^r 2F1(r, b; a + b - 1; z)], z = tau / (1 + tau),
    in mpmath at 50 digits (at a = 1, the limit, from a = 1 + 1e-50 at 110 digits). Where b is large
    the series is too slow, and where a and b are both large mpmath's 2F1 is silently wrong (a = 1001,
    b = 1003: 1e58), so there the same expectation is integrated instead: the mean over
    p ~ Beta(a, b) of (1 - (1 + p tau)^-r) / p, by tanh-sinh quadrature in u = logit(p), split at the
    mode and multiples of the spread."""
    if integrate is None:
        integrate = b >= 1e4 or (a >= 100 and b >= 100)
    if not integrate:
        with mp.workdps(110 if a == 1 else 50):
            rr, aa, bb, tt = (mp.mpf(v) for v in (r, a, b, tau))
            if a == 1:
                aa = 1 + mp.mpf(10) ** -50
            z = tt / (1 + tt)
            return float((aa + bb - 1) / (aa - 1) * (1 - (1 - z) ** rr * mp.hyp2f1(rr, bb, aa + bb - 1, z)))
    with mp.workdps(50):
        rr, aa, bb, tt = (mp.mpf(v) for v in (r, a, b, tau))
        log_beta = mp.log(mp.beta(aa, bb))
        mode = mp.log(aa / bb)
        spread = mp.sqrt(mp.psi(1, aa) + mp.psi(1, bb))

        def integrand(u: mp.mpf) -> mp.mpf:
            p = 1 / (1 + mp.exp(-u))
            softplus = u + mp.log1p(mp.exp(-u)) if u > 0 else mp.log1p(mp.exp(u))
            return mp.exp(aa * u - (aa + bb) * softplus - log_beta) * -mp.expm1(-rr * mp.log1p(p * tt)) / p

        cuts = sorted({mode + spread * k for k in (-60, -30, -15, -8, -4, -2, -1, 0, 1, 2, 4, 8, 15, 30, 60)}
                      | {-mp.log(tt) + k for k in (-5, 0, 5)})
        return float(mp.quad(integrand, [-mp.inf, *cuts, mp.inf]))


def test_the_two_references_agree_where_both_evaluate() -> None:
    for r, a, b, tau in [(0.243, 0.79, 2.4, 8.8), (3.2, 2.5, 40.0, 0.5), (1.2, 1e-3, 1.0, 400.0), (40.2, 40.0, 2.5, 0.01)]:
        assert _reference(r, a, b, tau, integrate=True) == pytest.approx(_reference(r, a, b, tau, integrate=False),
                                                                         rel=1e-14)


@pytest.mark.parametrize("a", GRID)
def test_expected_purchases_if_alive_match_mpmath_for_every_a_and_b(a: float) -> None:
    worst = 0.0
    for b, (x, big_t, t) in itertools.product(GRID, POINTS):
        got = bgnbd_expected_purchases_if_alive(BgNbdParams(R, ALPHA, a, b), t, [float(x)], [big_t])[0]
        want = _reference(R + x, a, b + x, t / (ALPHA + big_t))
        assert np.isfinite(got), (a, b, x)
        worst = max(worst, abs(got / want - 1.0))
    assert worst < 1e-12


def test_the_old_nan_cases_are_finite_and_exact() -> None:
    # a = 1000, b = 2.4: the 36-month CLV was NaN; a >= 1e4: every prediction; just above a, b > 1e3
    # the approximation was off by up to 9e-4.
    x = np.array([0.0, 1, 4, 12])
    big_t = np.array([20.0, 30, 52, 52])
    for a, b in [(1000.0, 2.4), (1e4, 2.4), (2e4, 5e-5), (1e5, 3e5), (1001.0, 1002.0)]:
        params = BgNbdParams(0.5, 6.0, a, b)
        t = 36 * UNITS_PER_MONTH
        got = bgnbd_expected_purchases_if_alive(params, t, x, big_t)
        want = [_reference(0.5 + xi, a, b + xi, t / (6.0 + ti)) for xi, ti in zip(x, big_t, strict=True)]
        np.testing.assert_allclose(got, want, rtol=1e-12)


def test_unconditional_expectation_at_a_equal_one_is_the_finite_limit() -> None:
    params = BgNbdParams(R, ALPHA, 1.0, 2.4)
    got = bgnbd_unconditional_expected_purchases(params, [1.0, 52.0, 600 * UNITS_PER_MONTH])
    want = [_reference(R, 1.0, 2.4, t / ALPHA) for t in (1.0, 52.0, 600 * UNITS_PER_MONTH)]
    np.testing.assert_allclose(got, want, rtol=1e-12)
    # Either side of a = 1 joins continuously.
    near = bgnbd_unconditional_expected_purchases(BgNbdParams(R, ALPHA, 1.0 + 1e-7, 2.4), 52.0)
    assert float(near) == pytest.approx(want[1], rel=1e-6)


def test_horizon_sums_equal_the_month_by_month_sum_for_extreme_parameters() -> None:
    rng = np.random.default_rng(4)
    x = np.repeat([0.0, 1, 5, 40], 150)
    big_t = np.round(rng.uniform(0, 3000, x.size)) / 7
    for params in [BgNbdParams(0.243, 4.414, 0.793, 2.426), BgNbdParams(0.5, 0.01, 1e4, 2e4),
                   BgNbdParams(2.0, 50.0, 1.0, 1e-3), BgNbdParams(0.1, 3.0, 1e-3, 1e6)]:
        sums = bgnbd_horizon_sums(params, x, big_t, horizon_months=36, monthly_discount=0.01)
        previous, discounted = np.zeros_like(x), np.zeros_like(x)
        for k in range(1, 37):
            cumulative = bgnbd_expected_purchases_if_alive(params, k * UNITS_PER_MONTH, x, big_t)
            discounted += (cumulative - previous) / 1.01**k
            previous = cumulative
        np.testing.assert_allclose(sums[:, 0], discounted, rtol=1e-11)
        np.testing.assert_allclose(
            sums[:, 1], bgnbd_expected_purchases_if_alive(params, 12 * UNITS_PER_MONTH, x, big_t), rtol=1e-11)


@pytest.mark.parametrize(("a", "b"), [(1000.0, 2.4), (1e4, 1e-3), (1e6, 1e6), (1e-3, 1e-3), (1.0, 1e6)])
def test_clv_scores_are_finite_for_any_drop_out_parameters(a: float, b: float) -> None:
    scores = clv_score(
        bgnbd=BgNbdParams(0.3, 5.0, a, b), gamma_gamma=GammaGammaParams(6.25, 3.74, 15.44),
        frequency=[0, 1, 3, 30], recency=[0, 2.0, 20.0, 51.0], age=[10.0, 30.0, 52.0, 52.0],
        monetary_value=[0, 20.0, 35.0, 50.0], margin_rate=[0.3] * 4, horizon_months=600, monthly_discount=0.008,
    )
    for values in (scores.p_alive, scores.expected_purchases_12m, scores.expected_spend, scores.predicted_clv):
        assert np.isfinite(values).all() and (values >= 0).all()


def test_mbgnbd_expected_purchases_are_finite_at_a_equal_one_and_for_large_a() -> None:
    for a in (1.0, 1e3, 1e5):
        got = mbgnbd_conditional_expected_purchases(MbgNbdParams(0.5, 6.0, a, 2.0), 52.0, [0, 2], [0, 10.0], [20.0, 30])
        assert np.isfinite(got).all() and (got > 0).all()
    # MBG/NBD if alive is BG/NBD's with b + 1 for b: equal to the reference with b' = b + x + 1.
    params = MbgNbdParams(0.5, 6.0, 1.0, 2.0)
    alive_share = mbgnbd_conditional_expected_purchases(params, 52.0, [2], [10.0], [30.0])[0]
    from metrics.predictive.maths.mbgnbd import mbgnbd_p_alive

    if_alive = alive_share / mbgnbd_p_alive(params, [2], [10.0], [30.0])[0]
    assert if_alive == pytest.approx(_reference(2.5, 1.0, 5.0, 52.0 / 36.0), rel=1e-12)


def test_conditional_expectation_of_a_customer_uses_the_same_stable_term() -> None:
    params = BgNbdParams(R, ALPHA, 1e4, 2.4)
    got = bgnbd_conditional_expected_purchases(params, 39.0, [2.0], [30.43], [38.86])[0]
    assert np.isfinite(got) and got > 0


def test_a_drop_out_spike_far_beyond_the_grid_tends_to_its_limit() -> None:
    # a, b ~ 1e12: every customer drops out with p = a / (a + b); E = (1 - (1 + p tau)^-r) / p.
    from metrics.predictive.maths.betamix import beta_mixture_expected_purchases

    got = beta_mixture_expected_purchases(shape=[1.5, 40.5], tau=[50.0, 0.01], a=1e12, b=[3e12, 3e12])
    p = 0.25
    np.testing.assert_allclose(got, [(1 - (1 + p * 50.0) ** -1.5) / p, (1 - (1 + p * 0.01) ** -40.5) / p], rtol=1e-9)
