"""The horizon sums of every parameter draw at once (betamix.beta_mixture_horizon_sums_draws, through
clv.bgnbd_horizon_sums_draws and mbgnbd.mbgnbd_horizon_sums_draws) against the same sums one draw at a
time (bgnbd_horizon_sums, mbgnbd_horizon_sums), the bootstraps built on them against a draw-by-draw
bootstrap, and the blocks that bound their memory."""

from __future__ import annotations

import itertools
import tracemalloc
from typing import Any

import numpy as np
import pytest

from metrics.predictive.maths import betamix
from metrics.predictive.maths.betamix import COARSE, PRECISE, Precision
from metrics.predictive.maths.bgnbd import BgNbdParams
from metrics.predictive.maths.clv import bgnbd_horizon_sums, bgnbd_horizon_sums_draws, clv_score, horizon_coefficients
from metrics.predictive.maths.gammagamma import GammaGammaParams
from metrics.predictive.maths.mbgnbd import MbgNbdParams, mbgnbd_horizon_sums, mbgnbd_horizon_sums_draws
from metrics.predictive.maths.purchase_models import FittedModel, PurchaseModel
from metrics.predictive.maths.uncertainty import clv_intervals, mbgnbd_clv_intervals, parameter_draws

TIMES, WEIGHTS = horizon_coefficients(horizon_months=36, monthly_discount=0.008)
EDGES = [1e-3, 1.0, 1e6]


def _histories(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Purchase counts 0 to 120, from a single age (summed directly) to hundreds of day-level ages
    (interpolated over the ages), in weeks."""
    rng = np.random.default_rng(seed)
    x, big_t = [], []
    for count, ages in zip([0, 1, 2, 5, 17, 40, 80, 120], [400, 150, 1, 3, 5, 60, 9, 250], strict=True):
        days = np.unique(rng.integers(1, 3 * 365 + 1, ages))
        x.append(np.full(days.size, float(count)))
        big_t.append(days / 7.0)
    return np.concatenate(x), np.concatenate(big_t)


def _draws(base: tuple[float, ...], count: int, seed: int, spread: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.exp(np.log(base) + rng.normal(0.0, spread, (count, 4)))


def _one_at_a_time(model: PurchaseModel, draws: np.ndarray, x: np.ndarray, big_t: np.ndarray,
                   precision: Precision) -> np.ndarray:
    if model is PurchaseModel.BGNBD:
        sums = [bgnbd_horizon_sums(BgNbdParams(*d), x, big_t, horizon_months=36, monthly_discount=0.008,
                                   precision=precision) for d in draws]
    else:
        sums = [mbgnbd_horizon_sums(MbgNbdParams(*d), x, big_t, times=TIMES, coefficients=WEIGHTS,
                                    precision=precision) for d in draws]
    return np.stack(sums, axis=1)


def _at_once(model: PurchaseModel, draws: np.ndarray, x: np.ndarray, big_t: np.ndarray,
             precision: Precision) -> np.ndarray:
    fn = bgnbd_horizon_sums_draws if model is PurchaseModel.BGNBD else mbgnbd_horizon_sums_draws
    return np.asarray(fn(draws, x, big_t, times=TIMES, coefficients=WEIGHTS, precision=precision))


@pytest.mark.parametrize("model", [PurchaseModel.BGNBD, PurchaseModel.MBGNBD])
@pytest.mark.parametrize(("a", "b"), list(itertools.product(EDGES, EDGES)))
def test_every_draw_at_once_gives_each_draw_s_horizon_sums(model: PurchaseModel, a: float, b: float) -> None:
    x, big_t = _histories(3)
    draws = _draws((0.4, 6.0, a, b), 12, seed=int(a * 7 + b) % 1000)
    expected = _one_at_a_time(model, draws, x, big_t, COARSE)
    got = _at_once(model, draws, x, big_t, COARSE)
    assert got.shape == (x.size, draws.shape[0], 2)
    # The coarse quadrature is good to ~1e-7: the two paths agree well within it.
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=0)


@pytest.mark.parametrize("model", [PurchaseModel.BGNBD, PurchaseModel.MBGNBD])
def test_every_draw_at_once_keeps_full_precision_when_asked(model: PurchaseModel) -> None:
    x, big_t = _histories(4)
    draws = _draws((0.243, 4.414, 0.793, 2.426), 6, seed=5, spread=1.0)
    np.testing.assert_allclose(_at_once(model, draws, x, big_t, PRECISE),
                               _one_at_a_time(model, draws, x, big_t, PRECISE), rtol=1e-11, atol=0)


def test_widely_spread_draws_and_heavy_buyers_agree_with_the_precise_sums() -> None:
    # log standard errors of 1.5: the draws' ages span a wide range of scales, and a and b run from
    # ~1e-2 to ~1e2 around each edge; each draw falls back to direct sums where an interpolant fails.
    x, big_t = _histories(6)
    for base in [(0.5, 3.0, 1e6, 1e6), (0.3, 2.0, 1e6, 1e-3), (1.0, 10.0, 1e-3, 1e-3)]:
        draws = _draws(base, 8, seed=11, spread=1.5)
        precise = _one_at_a_time(PurchaseModel.BGNBD, draws, x, big_t, PRECISE)
        np.testing.assert_allclose(_at_once(PurchaseModel.BGNBD, draws, x, big_t, COARSE), precise, rtol=1e-6)


def test_small_blocks_give_the_same_sums(monkeypatch: pytest.MonkeyPatch) -> None:
    x, big_t = _histories(7)
    draws = _draws((0.4, 6.0, 0.8, 2.5), 20, seed=8)
    whole = _at_once(PurchaseModel.MBGNBD, draws, x, big_t, COARSE)
    monkeypatch.setattr(betamix, "_DRAW_BLOCK_CELLS", 500)
    np.testing.assert_allclose(_at_once(PurchaseModel.MBGNBD, draws, x, big_t, COARSE), whole, rtol=1e-13)


def test_memory_is_bounded_by_the_blocks_whatever_the_draws_and_ages(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every draw summed directly at 1,500 ages (36 months, ~80 nodes): 4 million values per draw,
    # 100 draws; with blocks of 200,000 values the temporaries stay a few blocks.
    monkeypatch.setattr(betamix, "_DRAW_BLOCK_CELLS", 200_000)
    monkeypatch.setattr(betamix, "_DIRECT_AGES", 10_000)
    draws = _draws((0.4, 6.0, 0.8, 2.5), 100, seed=9)
    ages = np.arange(1, 1501) / 7.0
    tracemalloc.start()
    try:
        got = betamix.beta_mixture_horizon_sums_draws(
            shape=draws[:, 0] + 3.0, a=draws[:, 2], b=draws[:, 3] + 3.0, scale=draws[:, 1, None] + ages[None, :],
            times=TIMES[:36], coefficients=WEIGHTS[:36, :1], precision=COARSE)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    inputs_and_output = 2 * 100 * 1500 * 8
    assert peak < inputs_and_output + 12 * 200_000 * 8
    assert np.isfinite(got).all() and (got > 0).all()



def _customers() -> dict[str, Any]:
    """Day-level customers: many purchase counts, many ages per count, spends and margins."""
    rng = np.random.default_rng(12)
    n = 400
    big_t = rng.integers(1, 3 * 365 + 1, n) / 7.0
    x = np.minimum(rng.negative_binomial(0.6, 0.05, n), 120).astype(float)
    t_x = np.where(x > 0, np.maximum(np.floor(rng.uniform(0, 1, n) * big_t * 7.0), 1.0) / 7.0, 0.0)
    return {"frequency": x, "recency": t_x, "age": big_t, "monetary_value": np.round(rng.gamma(2.0, 20.0, n), 2),
            "margin_rate": rng.choice([0.2, 0.3], n), "horizon_months": 36, "monthly_discount": 0.008}


@pytest.mark.parametrize("model", [PurchaseModel.BGNBD, PurchaseModel.MBGNBD])
def test_the_bootstrap_equals_scoring_each_draw_with_many_counts_and_ages(model: PurchaseModel) -> None:
    customers = _customers()
    params = (0.243, 4.414, 0.793, 2.426)
    cov, gg_cov = np.diag([0.05, 0.08, 0.2, 0.25]) ** 2, np.diag([0.03, 0.02, 0.04]) ** 2
    gg = GammaGammaParams(6.25, 3.74, 15.44)
    if model is PurchaseModel.BGNBD:
        got = clv_intervals(bgnbd=BgNbdParams(*params), bgnbd_log_covariance=cov, gamma_gamma=gg,
                            gamma_gamma_log_covariance=gg_cov, draws=40, seed=3, **customers)
    else:
        got = mbgnbd_clv_intervals(mbgnbd=MbgNbdParams(*params), mbgnbd_log_covariance=cov, gamma_gamma=gg,
                                   gamma_gamma_log_covariance=gg_cov, draws=40, seed=3, **customers)
    rng = np.random.default_rng(3)
    drawn = parameter_draws(np.log(params), cov, draws=40, rng=rng)
    spend = parameter_draws(np.log([gg.p, gg.q, gg.gamma]), gg_cov, draws=40, rng=rng)
    kind = BgNbdParams if model is PurchaseModel.BGNBD else MbgNbdParams
    clv = np.array([clv_score(purchase_model=FittedModel(model, kind(*d)), gamma_gamma=GammaGammaParams(*g),
                              **customers).predicted_clv for d, g in zip(drawn, spend, strict=True)])
    low, high = np.quantile(clv, [0.05, 0.95], axis=0)
    # clv_score sums the horizon at full precision; the bootstrap at the coarse quadrature (~1e-7).
    np.testing.assert_allclose(got.low, low, rtol=1e-6)
    np.testing.assert_allclose(got.high, high, rtol=1e-6)
