"""How uncertain each customer's predicted CLV is, given how well the data pin down the parameters.

A parametric bootstrap of the parameters: draws of log(r, alpha, a, b) and log(p, q, gamma) from
the normal distributions the fits' Hessians give (maximum-likelihood theory; in logs, so every draw
is positive), the CLV of every customer under each draw, and per customer the quantiles of those
CLVs. Vectorised:

1. the discounted expected purchases of each distinct (x, T) under every draw (maths/clv.py
   `bgnbd_horizon_sums_draws`, maths/mbgnbd.py `mbgnbd_horizon_sums_draws` for MBG/NBD: per purchase
   count, every draw's quadrature rule and interpolants over the ages built at once as arrays,
   maths/betamix.py; at the coarse quadrature: ~1e-7, far below the spread being measured), so the
   cost grows little with the distinct ages and counts (about 10 ms per count for 200 draws);
2. per block of customers, P(alive), expected spend and CLV for all draws at once as
   (customers x draws) arrays of at most a million values, and their quantiles; memory stays
   bounded by the block. Customers alike in (x, t_x, T, spend, margin) have the same interval,
   so the blocks run over the distinct ones only (few in replicated or coarse data; every
   customer in the worst case, which costs about 10 s per million customers).

Gamma-Gamma draws with q <= 1 + checks.GG_Q_MARGIN have no finite mean spend; they are drawn
again (the interval is conditional on a finite mean, which the fit itself requires).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from . import checks
from .betamix import COARSE
from .bgnbd import BgNbdParams, distinct_rows
from .clv import bgnbd_horizon_sums_draws, clv_score, horizon_coefficients
from .errors import INPUT_SHARE, ModelInputError
from .gammagamma import GammaGammaParams
from .mbgnbd import MbgNbdParams, mbgnbd_horizon_sums_draws
from .paretonbd import ParetoNbdParams, paretonbd_horizon_draws, paretonbd_p_alive_draws
from .purchase_models import PARAM_NAMES, FittedModel, PurchaseModel, model_params

FloatArray = NDArray[np.float64]
DEFAULT_DRAWS = 200
LOG_CLIP = 30.0
_BLOCK_CELLS = 1_000_000
_MAX_REDRAWS = 50
# The bootstrap of any model (clv_intervals_any_model) scores every draw with clv_score over all the
# distinct customers: beyond this many distinct (x, T) it would take minutes (Pareto/NBD's E[Y(t)] is
# evaluated month by month for each of them). The fit service uses it for Pareto/NBD only: BG/NBD and
# MBG/NBD have their own bootstrap (clv_intervals, mbgnbd_clv_intervals), which has no such limit.
MAX_DISTINCT_ANY_MODEL = {"mbgnbd": 50_000, "pareto_nbd": 50_000, "bgnbd": 50_000}


class TooManyHistories(ValueError):
    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count:,} distinct customer histories, more than the {limit:,} this model's bootstrap "
                         "scores in seconds")
        self.count, self.limit = count, limit


@dataclass(frozen=True)
class ClvIntervals:
    low: FloatArray
    high: FloatArray
    level: float
    draws: int


def parameter_draws(log_estimate: FloatArray, covariance: FloatArray, *, draws: int,
                    rng: np.random.Generator) -> FloatArray:
    """(draws x k) parameters, log-normal around the estimate with the given log covariance. Log
    values are kept within +-LOG_CLIP: a weakly determined parameter (a and b of a homogeneous
    drop-out, log standard errors of 10 or more) would otherwise draw values that overflow."""
    logs = rng.multivariate_normal(np.asarray(log_estimate, dtype=float), covariance, size=draws, method="cholesky")
    return np.exp(np.clip(logs, -LOG_CLIP, LOG_CLIP))


def _spend_draws(gamma_gamma: GammaGammaParams, log_covariance: FloatArray, *, draws: int,
                 rng: np.random.Generator) -> FloatArray:
    """(at most draws x 3) Gamma-Gamma draws (p, q, gamma) with a finite mean spend (q > 1 with
    the margin of checks.GG_Q_MARGIN), the others drawn again."""
    estimate = np.log([gamma_gamma.p, gamma_gamma.q, gamma_gamma.gamma])
    gg = parameter_draws(estimate, log_covariance, draws=draws, rng=rng)
    for _ in range(_MAX_REDRAWS):
        bad = gg[:, 1] <= 1.0 + checks.GG_Q_MARGIN
        if not bad.any():
            break
        gg[bad] = parameter_draws(estimate, log_covariance, draws=int(bad.sum()), rng=rng)
    return gg[gg[:, 1] > 1.0 + checks.GG_Q_MARGIN]


def _distinct_customers(
    *, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike, monetary_value: ArrayLike, margin_rate: ArrayLike,
    horizon_months: int, monthly_discount: float, level: float,
) -> tuple[tuple[FloatArray, ...], NDArray[np.intp]]:
    """A bootstrap's inputs checked (as clv_score's, and the level a share), and its customers
    reduced to the distinct (x, t_x, T, spend, margin) with, for each customer, its row among them:
    customers alike in everything their CLV depends on share their interval."""
    checks.horizon(horizon_months)
    checks.discount(monthly_discount)
    if not (0.0 < level < 1.0):
        raise ModelInputError(INPUT_SHARE, name="level", value=float(level))
    x, t_x, big_t = checks.customers(frequency, recency, age)
    spend_in = np.maximum(checks.column("spend", monetary_value), 0.0)
    margin = checks.column("margin rate", margin_rate)
    checks.same_length(frequency=x, spend=spend_in, margin_rate=margin)
    columns, customer_row, _ = distinct_rows(x, t_x, big_t, spend_in, margin)
    return columns, customer_row


def _spend(p: FloatArray, q: FloatArray, gamma: FloatArray, x: FloatArray, spend: FloatArray) -> FloatArray:
    """Gamma-Gamma's expected spend per purchase under each draw of (p, q, gamma): (customers x draws)."""
    return np.asarray(p * (gamma + x * spend) / (p * x + q - 1.0), dtype=float)


def clv_intervals(
    *, bgnbd: BgNbdParams, bgnbd_log_covariance: FloatArray, gamma_gamma: GammaGammaParams,
    gamma_gamma_log_covariance: FloatArray, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike,
    monetary_value: ArrayLike, margin_rate: ArrayLike, horizon_months: int, monthly_discount: float,
    level: float = 0.90, draws: int = DEFAULT_DRAWS, seed: int = 0,
) -> ClvIntervals:
    """The central `level` interval of each customer's predicted CLV over `draws` parameter draws
    (module docstring). Inputs as clv_score's; the covariances are the fits' `log_covariance`."""
    return _beta_mixture_intervals(
        PurchaseModel.BGNBD, bgnbd.as_tuple(), bgnbd_log_covariance, gamma_gamma=gamma_gamma,
        gamma_gamma_log_covariance=gamma_gamma_log_covariance, frequency=frequency, recency=recency, age=age,
        monetary_value=monetary_value, margin_rate=margin_rate, horizon_months=horizon_months,
        monthly_discount=monthly_discount, level=level, draws=draws, seed=seed)


def mbgnbd_clv_intervals(
    *, mbgnbd: MbgNbdParams, mbgnbd_log_covariance: FloatArray, gamma_gamma: GammaGammaParams,
    gamma_gamma_log_covariance: FloatArray, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike,
    monetary_value: ArrayLike, margin_rate: ArrayLike, horizon_months: int, monthly_discount: float,
    level: float = 0.90, draws: int = DEFAULT_DRAWS, seed: int = 0,
) -> ClvIntervals:
    """As clv_intervals, for MBG/NBD: the same draws as clv_intervals_any_model makes for the model
    (same seed, same order), each draw's horizon sums per purchase count (mbgnbd_horizon_sums at the
    coarse quadrature) instead of clv_score month by month, so that it runs in seconds whatever the
    number of distinct (x, T)."""
    return _beta_mixture_intervals(
        PurchaseModel.MBGNBD, mbgnbd.as_tuple(), mbgnbd_log_covariance, gamma_gamma=gamma_gamma,
        gamma_gamma_log_covariance=gamma_gamma_log_covariance, frequency=frequency, recency=recency, age=age,
        monetary_value=monetary_value, margin_rate=margin_rate, horizon_months=horizon_months,
        monthly_discount=monthly_discount, level=level, draws=draws, seed=seed)


def _beta_mixture_intervals(
    model: PurchaseModel, estimate: tuple[float, ...], log_covariance: FloatArray, *, gamma_gamma: GammaGammaParams,
    gamma_gamma_log_covariance: FloatArray, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike,
    monetary_value: ArrayLike, margin_rate: ArrayLike, horizon_months: int, monthly_discount: float,
    level: float, draws: int, seed: int,
) -> ClvIntervals:
    """The bootstrap of BG/NBD or MBG/NBD (module docstring): the two differ only in the posterior
    drop-out chance of the horizon sums (Beta(a, b + x) and Beta(a, b + x + 1)) and in P(alive)."""
    # Customers alike in everything their CLV depends on share its distribution over the draws:
    # the work below is done once per distinct (x, t_x, T, spend, margin) and spread back.
    (xc, txc, tc, spend_c, margin_c), customer_row = _distinct_customers(
        frequency=frequency, recency=recency, age=age, monetary_value=monetary_value, margin_rate=margin_rate,
        horizon_months=horizon_months, monthly_discount=monthly_discount, level=level)
    rng = np.random.default_rng(seed)
    drawn = parameter_draws(np.log(estimate), log_covariance, draws=draws, rng=rng)
    gg = _spend_draws(gamma_gamma, gamma_gamma_log_covariance, draws=draws, rng=rng)
    (xu, tu), inverse, _ = distinct_rows(xc, tc)
    # Only the discounted sum is needed: its months and weights (column 0, zero beyond the horizon);
    # every draw's at once, per purchase count.
    times, weights = horizon_coefficients(horizon_months=horizon_months, monthly_discount=monthly_discount)
    times, weights = times[:horizon_months], weights[:horizon_months, :1]
    horizon_sums = bgnbd_horizon_sums_draws if model is PurchaseModel.BGNBD else mbgnbd_horizon_sums_draws
    discounted = horizon_sums(drawn, xu, tu, times=times, coefficients=weights, precision=COARSE)[:, :, 0]
    gg_rows = np.resize(np.arange(gg.shape[0]), draws)  # re-use the valid Gamma-Gamma draws if some were dropped
    r, alpha, a, b = (drawn[:, i][None, :] for i in range(4))
    p, q, gamma = (gg[gg_rows, i][None, :] for i in range(3))
    low, high = np.empty(xc.size), np.empty(xc.size)
    tails = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    # Blocks of (rows x draws) arrays of _BLOCK_CELLS values (8 MB each), whatever the draws.
    block = max(1, _BLOCK_CELLS // draws)
    for start in range(0, xc.size, block):
        rows = slice(start, start + block)
        xb, txb, tb = xc[rows, None], txc[rows, None], tc[rows, None]
        growth = (r + xb) * (np.log(alpha + tb) - np.log(alpha + txb))
        if model is PurchaseModel.BGNBD:
            repeat = xb > 0
            log_odds = np.log(a) - np.log(np.where(repeat, b + xb - 1.0, 1.0)) + growth
            alive = np.where(repeat, np.exp(-np.logaddexp(0.0, log_odds)), 1.0)
        else:
            # MBG/NBD: a customer may drop out at the first purchase too, so x = 0 has odds a / b.
            alive = np.exp(-np.logaddexp(0.0, np.log(a) - np.log(b + xb) + growth))
        spend = _spend(p, q, gamma, xb, spend_c[rows, None])
        clv = discounted[inverse[rows]] * alive * spend * margin_c[rows, None]
        low[rows], high[rows] = np.quantile(clv, tails, axis=1)
    return ClvIntervals(low=low[customer_row], high=high[customer_row], level=level, draws=draws)


def clv_intervals_of_fit(
    *, purchase_model: FittedModel, gamma_gamma: GammaGammaParams, gamma_gamma_log_covariance: FloatArray,
    frequency: ArrayLike, recency: ArrayLike, age: ArrayLike, monetary_value: ArrayLike, margin_rate: ArrayLike,
    horizon_months: int, monthly_discount: float, level: float = 0.90, draws: int = DEFAULT_DRAWS, seed: int = 0,
) -> ClvIntervals:
    """The intervals of a fitted purchase model by the fastest bootstrap it has: the Beta-mixture
    one for BG/NBD and MBG/NBD (clv_intervals, mbgnbd_clv_intervals), Pareto/NBD's own
    (paretonbd_clv_intervals, which may raise TooManyHistories beyond MAX_PARETO_HISTORIES)."""
    if purchase_model.log_covariance is None:
        raise ValueError("The purchase model has no covariance to draw from.")
    inputs: dict[str, Any] = {
        "gamma_gamma": gamma_gamma, "gamma_gamma_log_covariance": gamma_gamma_log_covariance,
        "frequency": frequency, "recency": recency, "age": age, "monetary_value": monetary_value,
        "margin_rate": margin_rate, "horizon_months": horizon_months, "monthly_discount": monthly_discount,
        "level": level, "draws": draws, "seed": seed,
    }
    if purchase_model.model in (PurchaseModel.BGNBD, PurchaseModel.MBGNBD):
        return _beta_mixture_intervals(purchase_model.model, purchase_model.params.as_tuple(),
                                       purchase_model.log_covariance, **inputs)
    if isinstance(purchase_model.params, ParetoNbdParams):
        return paretonbd_clv_intervals(paretonbd=purchase_model.params,
                                       paretonbd_log_covariance=purchase_model.log_covariance, **inputs)
    return clv_intervals_any_model(purchase_model=purchase_model, **inputs)


def clv_intervals_any_model(
    *, purchase_model: FittedModel, gamma_gamma: GammaGammaParams, gamma_gamma_log_covariance: FloatArray,
    frequency: ArrayLike, recency: ArrayLike, age: ArrayLike, monetary_value: ArrayLike, margin_rate: ArrayLike,
    horizon_months: int, monthly_discount: float, level: float = 0.90, draws: int = DEFAULT_DRAWS, seed: int = 0,
    max_distinct: int | None = None,
) -> ClvIntervals:
    """The same bootstrap for any purchase model (Pareto/NBD; BG/NBD and MBG/NBD give what
    clv_intervals and mbgnbd_clv_intervals give, within their coarse quadrature): each draw of the model's parameters and of
    Gamma-Gamma's scores the distinct customers with clv_score, and each customer's interval is the
    quantiles of their CLVs. It refuses more distinct (x, T) than MAX_DISTINCT_ANY_MODEL gives for the
    model (or `max_distinct`), raising TooManyHistories, rather than run for minutes."""
    if purchase_model.log_covariance is None:
        raise ValueError("The purchase model has no covariance to draw from.")
    (xc, txc, tc, spend_c, margin_c), customer_row = _distinct_customers(
        frequency=frequency, recency=recency, age=age, monetary_value=monetary_value, margin_rate=margin_rate,
        horizon_months=horizon_months, monthly_discount=monthly_discount, level=level)
    limit = MAX_DISTINCT_ANY_MODEL[purchase_model.model.value] if max_distinct is None else max_distinct
    histories = distinct_rows(xc, tc)[0][0].size
    if histories > limit:
        raise TooManyHistories(histories, limit)
    rng = np.random.default_rng(seed)
    names = PARAM_NAMES[purchase_model.model]
    drawn = parameter_draws(np.log(purchase_model.params.as_tuple()), purchase_model.log_covariance, draws=draws,
                            rng=rng)
    gg = _spend_draws(gamma_gamma, gamma_gamma_log_covariance, draws=draws, rng=rng)
    gg_rows = np.resize(np.arange(gg.shape[0]), draws)
    clv = np.empty((xc.size, draws))
    for k in range(draws):
        model = model_params(purchase_model.model, dict(zip(names, (float(v) for v in drawn[k]), strict=True)))
        p, q, gamma = (float(v) for v in gg[gg_rows[k]])
        clv[:, k] = clv_score(purchase_model=model, gamma_gamma=GammaGammaParams(p, q, gamma), frequency=xc,
                              recency=txc, age=tc, monetary_value=spend_c, margin_rate=margin_c,
                              horizon_months=horizon_months, monthly_discount=monthly_discount).predicted_clv
    low, high = np.quantile(clv, [(1.0 - level) / 2.0, (1.0 + level) / 2.0], axis=1)
    return ClvIntervals(low=low[customer_row], high=high[customer_row], level=level, draws=draws)


# Pareto/NBD's bootstrap costs a quadrature per distinct (x, t_x, T) and draw, about 30 us per
# history for 200 draws on this 2-core machine: beyond this many it would take more than a minute.
MAX_PARETO_HISTORIES = 2_000_000


def paretonbd_clv_intervals(
    *, paretonbd: ParetoNbdParams, paretonbd_log_covariance: FloatArray, gamma_gamma: GammaGammaParams,
    gamma_gamma_log_covariance: FloatArray, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike,
    monetary_value: ArrayLike, margin_rate: ArrayLike, horizon_months: int, monthly_discount: float,
    level: float = 0.90, draws: int = DEFAULT_DRAWS, seed: int = 0,
) -> ClvIntervals:
    """As clv_intervals, for Pareto/NBD: the same draws as clv_intervals_any_model makes for the
    model (same seed, same order) and the same numbers, without scoring each draw month by month.
    A customer's discounted purchases if alive are (r + x) / (alpha + T) times a sum that depends
    on T alone (paretonbd_horizon_draws: once per distinct age and draw), and P(alive) is one
    quadrature over every (distinct history, draw) pair (paretonbd_p_alive_draws), in blocks of
    about a million pairs. More than MAX_PARETO_HISTORIES distinct (x, t_x, T) raise TooManyHistories."""
    (xc, txc, tc, spend_c, margin_c), customer_row = _distinct_customers(
        frequency=frequency, recency=recency, age=age, monetary_value=monetary_value, margin_rate=margin_rate,
        horizon_months=horizon_months, monthly_discount=monthly_discount, level=level)
    (xh, txh, th), history, _ = distinct_rows(xc, txc, tc)
    if xh.size > MAX_PARETO_HISTORIES:
        raise TooManyHistories(int(xh.size), MAX_PARETO_HISTORIES)
    rng = np.random.default_rng(seed)
    drawn = parameter_draws(np.log(paretonbd.as_tuple()), paretonbd_log_covariance, draws=draws, rng=rng)
    gg = _spend_draws(gamma_gamma, gamma_gamma_log_covariance, draws=draws, rng=rng)
    gg_rows = np.resize(np.arange(gg.shape[0]), draws)
    times, weights = horizon_coefficients(horizon_months=horizon_months, monthly_discount=monthly_discount)
    (ages,), age_of_history, _ = distinct_rows(th)
    horizon = paretonbd_horizon_draws(drawn, ages, times=times, coefficients=weights[:, 0])
    r, alpha = drawn[:, 0][None, :], drawn[:, 1][None, :]
    p, q, gamma = (gg[gg_rows, i][None, :] for i in range(3))
    # The customers (distinct in everything their CLV depends on) in the order of their histories,
    # so that a block of histories serves a contiguous run of them.
    by_history = np.argsort(history, kind="stable")
    starts = np.searchsorted(history[by_history], np.arange(xh.size + 1))
    low, high = np.empty(xc.size), np.empty(xc.size)
    tails = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    block = max(1, _BLOCK_CELLS // draws)
    for first in range(0, xh.size, block):
        last = min(first + block, xh.size)
        alive = paretonbd_p_alive_draws(drawn, xh[first:last], txh[first:last], th[first:last])
        discounted = alive * (r + xh[first:last, None]) / (alpha + th[first:last, None])
        discounted *= horizon[age_of_history[first:last]]
        customers = by_history[starts[first]:starts[last]]
        for start in range(0, customers.size, block):
            rows = customers[start:start + block]
            xb = xc[rows, None]
            spend = _spend(p, q, gamma, xb, spend_c[rows, None])
            clv = discounted[history[rows] - first] * spend * margin_c[rows, None]
            low[rows], high[rows] = np.quantile(clv, tails, axis=1)
    return ClvIntervals(low=low[customer_row], high=high[customer_row], level=level, draws=draws)
