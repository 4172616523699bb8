"""The BG/NBD model (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive, a customer buys at Poisson rate lambda ~ Gamma(r, alpha); after each purchase
they drop out with probability p ~ Beta(a, b). Inputs per customer: x = repeat purchases,
t_x = time of the last purchase, T = age, all measured from the first purchase in one time unit.

The fit maximises the log-likelihood over log(r, alpha, a, b) with L-BFGS-B and the analytic
gradient. Customers with the same (x, t_x, T) share one likelihood term, so the fit works on
the distinct triples with counts as weights: exact, and far fewer terms than customers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.special import betainc, betaln, digamma, gammaln

from . import checks
from .betamix import beta_mixture_expected_purchases
from .errors import (
    BGNBD_AT_BOUND,
    BGNBD_HOMOGENEOUS_DROPOUT,
    BGNBD_NO_REPEAT_BUYERS,
    BGNBD_NOT_CONVERGED,
    BGNBD_TOO_FEW_CUSTOMERS,
    BGNBD_TOO_FEW_REPEAT_BUYERS,
    INPUT_NOT_ARRAY,
    Message,
    ModelFitError,
    ModelInputError,
)
from .optimize import (
    fit_warnings,
    hessian_from_gradient,
    is_stationary,
    log_covariance,
    minimize_from_starts,
    natural_standard_errors,
)

FloatArray = NDArray[np.float64]
PARAM_NAMES = ("r", "alpha", "a", "b")
# Bounds of the log-parameters: exp(-12) ~ 6e-6 to exp(12) ~ 1.6e5. An optimum within
# BOUND_MARGIN of a bound (beyond ~6e4 or below ~1.7e-5) means the data do not identify that
# parameter: the likelihood keeps improving towards a degenerate model.
LOG_BOUND = 12.0
BOUND_MARGIN = 1.0
# a and b both above this: the Beta distribution of drop-out is a spike at a / (a + b), i.e. every
# customer drops out with the same probability. The likelihood is flat along a / (a + b) fixed, so
# a and b themselves are not identified, but every prediction (which uses a / (b + x - 1)) is.
HOMOGENEOUS_DROPOUT = 1e3
MIN_CUSTOMERS = 2
# Fewer customers with a repeat purchase than this cannot pin down the four parameters: with one
# repeat buyer among 500 the drop-out parameters run off (a ~ 2e4, b ~ 5e-5) and every prediction
# rests on that one customer.
MIN_REPEAT_CUSTOMERS = 10
# Stands for ln(0) of the absent second likelihood term of a customer without repeat purchases.
_LOG_ZERO = -1.0e4


@dataclass(frozen=True)
class BgNbdParams:
    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        checks.parameters("BG/NBD", PARAM_NAMES, self.as_tuple())

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)


@dataclass(frozen=True)
class BgNbdFit:
    params: BgNbdParams
    log_likelihood: float
    n_customers: int
    n_repeat_customers: int
    n_distinct: int
    iterations: int
    function_evaluations: int
    # Set when the data show no heterogeneity in drop-out (see HOMOGENEOUS_DROPOUT).
    note: Message | None = None
    # From the Hessian of the log-likelihood at the estimate (None when it is singular).
    standard_errors: tuple[float, float, float, float] | None = None
    log_covariance: FloatArray | None = None
    # What the page says beside the numbers: poorly determined parameters, no standard errors.
    warnings: tuple[Message, ...] = ()


def _as_inputs(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> tuple[FloatArray, FloatArray, FloatArray]:
    return checks.customers(frequency, recency, age)


def distinct_rows(*columns: FloatArray) -> tuple[tuple[FloatArray, ...], NDArray[np.intp], FloatArray]:
    """The distinct rows of the given columns (in order of first appearance), the index of each
    input row's distinct row, and how many rows each distinct row stands for.

    Hash-based, about one pass per column: each column is factorised (pandas' hash table), the
    codes are combined into one integer key per row (compressed again before the product could
    overflow int64) and that key is factorised. A third faster than pandas' groupby on three
    columns, which does the same with more bookkeeping."""
    n = len(columns[0]) if columns else 0
    codes = np.zeros(n, dtype=np.int64)
    bound = 1
    for column in columns:
        column_codes, uniques = pd.factorize(np.asarray(column), sort=False, use_na_sentinel=False)
        size = max(len(uniques), 1)
        if bound * size >= 2**62:
            codes, first_keys = pd.factorize(codes, sort=False)
            bound = max(len(first_keys), 1)
        codes = codes * size + column_codes
        bound *= size
    inverse, keys = pd.factorize(codes, sort=False)
    inverse = inverse.astype(np.intp, copy=False)
    groups = len(keys)
    first = np.empty(groups, dtype=np.intp)
    # Assigning in reverse order leaves each group's first row as the last write.
    first[inverse[::-1]] = np.arange(inverse.size - 1, -1, -1, dtype=np.intp)
    counts = np.bincount(inverse, minlength=groups).astype(float)
    return tuple(np.asarray(c, dtype=float)[first] for c in columns), inverse, counts


@dataclass(frozen=True)
class FitRows:
    """What a fit works on: the distinct (x, t_x, T) with how many customers each stands for, and
    the number of customers and of repeat buyers they stand for."""

    x: FloatArray
    t_x: FloatArray
    big_t: FloatArray
    weights: FloatArray
    n_customers: int
    n_repeat: int

    @property
    def total(self) -> float:
        """The weights' sum (the customers, as a float: the likelihood's scale)."""
        return float(self.weights.sum())


def fit_rows(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike, *, weights: ArrayLike | None = None,
             deduplicate: bool = True) -> FitRows:
    """The customers compressed into weighted distinct rows (or as given, with `deduplicate`
    off); with `weights`, rows already compressed (each row's count of customers)."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    if weights is not None:
        w = checks.column("weights", weights, non_negative=True)
        checks.same_length(frequency=x, weights=w)
        keep = w > 0
        x, t_x, big_t, w = x[keep], t_x[keep], big_t[keep], w[keep]
        n, n_repeat = round(float(w.sum())), round(float(w[x > 0].sum()))
        return FitRows(x, t_x, big_t, w, n, n_repeat)
    n, n_repeat = x.size, int(np.count_nonzero(x))
    if deduplicate:
        (x, t_x, big_t), _, w = distinct_rows(x, t_x, big_t)
    else:
        w = np.ones_like(x)
    return FitRows(x, t_x, big_t, w, n, n_repeat)


@dataclass(frozen=True)
class _Data:
    """The fit's inputs with what does not change between iterations: the distinct values of x
    (few: purchase counts) so that the special functions run once per value, not once per row,
    and work arrays that every evaluation reuses (a million-row temporary costs more in page
    faults than the arithmetic done in it)."""

    x: FloatArray
    t_x: FloatArray
    big_t: FloatArray
    weights: FloatArray
    levels: FloatArray
    level_index: NDArray[np.intp]
    level_weights: FloatArray
    repeat: FloatArray  # 1.0 where x > 0
    work: tuple[FloatArray, ...]
    mask: NDArray[np.bool_]

    @classmethod
    def make(cls, x: FloatArray, t_x: FloatArray, big_t: FloatArray, weights: FloatArray) -> _Data:
        levels, index = np.unique(x, return_inverse=True)
        level_weights = np.bincount(index, weights=weights, minlength=levels.size).astype(float)
        work = tuple(np.empty(x.size) for _ in range(8))
        return cls(x, t_x, big_t, weights, levels, index.ravel(), level_weights, (x > 0).astype(float), work,
                   np.empty(x.size, dtype=bool))


def _wsum(weights: FloatArray, values: FloatArray) -> float:
    # einsum's own loop: no BLAS threads to contend for on a busy worker.
    return float(np.einsum("i,i->", weights, values))


def _terms(params: tuple[float, float, float, float], d: _Data) -> FloatArray:
    """Per-row log-likelihood, written plainly (the reference `_neg_ll_and_grad` is tested against):
    ln L = A1 + A2 + ln(exp(A3) + [x > 0] exp(A4)) with
    A1 = lnG(r + x) - lnG(r) + r ln(alpha), A2 = lnB(a, b + x) - lnB(a, b),
    A3 = -(r + x) ln(alpha + T), A4 = ln(a / (b + x - 1)) - (r + x) ln(alpha + t_x)."""
    r, alpha, a, b = params
    lv = d.levels
    repeat_lv = lv > 0
    constant_lv = (
        gammaln(r + lv) - gammaln(r) + r * np.log(alpha)
        + gammaln(a + b) + gammaln(b + lv) - gammaln(b) - gammaln(a + b + lv)
    )
    # For x = 0 the second term is absent: a finite sentinel far below A3 stands for ln 0 (it keeps
    # the arithmetic off the slow paths of inf).
    a4_constant_lv = np.where(repeat_lv, np.log(a) - np.log(np.where(repeat_lv, b + lv - 1.0, 1.0)), _LOG_ZERO)
    rx = r + d.x
    log_alpha_t = np.log(alpha + d.big_t)
    log_alpha_tx = np.log(alpha + d.t_x)
    a3 = -rx * log_alpha_t
    a4 = a4_constant_lv[d.level_index] - rx * log_alpha_tx
    # ln(e^A3 + e^A4) = max + ln(1 + e^-|A3 - A4|). The gap is capped at 700 so that exp never
    # underflows into subnormal numbers (slow on most CPUs); e^-700 is far below rounding anyway.
    small = np.exp(-np.minimum(np.abs(a4 - a3), 700.0))
    log_sum = np.maximum(a3, a4) + np.log1p(small)
    return constant_lv[d.level_index] + log_sum


def _neg_ll_and_grad(log_params: FloatArray, d: _Data, scale: float) -> tuple[float, FloatArray]:
    """Minus the log-likelihood (the same as `_terms`) and its gradient in log(r, alpha, a, b),
    divided by `scale`. Row-wise work is done in place in the work arrays of `d`."""
    params = np.exp(log_params)
    r, alpha, a, b = params
    lv, lw, w = d.levels, d.level_weights, d.weights
    repeat_lv = lv > 0
    bx1_lv = np.where(repeat_lv, b + lv - 1.0, 1.0)
    constant_lv = (
        gammaln(r + lv) - gammaln(r) + r * np.log(alpha)
        + gammaln(a + b) + gammaln(b + lv) - gammaln(b) - gammaln(a + b + lv)
    )
    a4_constant_lv = np.where(repeat_lv, np.log(a) - np.log(bx1_lv), _LOG_ZERO)
    inverse_bx1_lv = np.where(repeat_lv, 1.0 / bx1_lv, 0.0)

    rt, log_t, rtx, log_tx, rx, a3, a4, small = d.work
    np.add(d.big_t, alpha, out=rt)
    np.log(rt, out=log_t)
    np.add(d.t_x, alpha, out=rtx)
    np.log(rtx, out=log_tx)
    np.add(d.x, r, out=rx)
    np.divide(rx, rt, out=rt)  # (r + x) / (alpha + T)
    np.divide(rx, rtx, out=rtx)  # (r + x) / (alpha + t_x)
    np.multiply(rx, log_t, out=a3)
    np.negative(a3, out=a3)  # A3
    np.take(a4_constant_lv, d.level_index, out=a4)
    np.multiply(rx, log_tx, out=small)
    np.subtract(a4, small, out=a4)  # A4
    # ln(e^A3 + e^A4) = max + ln(1 + e^-|A3 - A4|), the gap capped as in `_terms`.
    np.subtract(a4, a3, out=small)
    np.greater_equal(small, 0.0, out=d.mask)
    np.abs(small, out=small)
    np.minimum(small, 700.0, out=small)
    np.negative(small, out=small)
    np.exp(small, out=small)
    np.maximum(a3, a4, out=a3)
    np.log1p(small, out=a4)
    np.add(a3, a4, out=a3)  # ln of the sum
    total = float(lw @ constant_lv) + _wsum(w, a3)
    # Weighted share of the second term: w x w4 (0 for x = 0).
    ww4 = a4
    np.copyto(ww4, small)
    np.putmask(ww4, d.mask, 1.0)
    np.add(small, 1.0, out=small)
    np.divide(ww4, small, out=ww4)
    np.multiply(ww4, d.repeat, out=ww4)
    np.multiply(ww4, w, out=ww4)

    # Terms that depend on x alone are summed per distinct x with the summed weights; w3 = 1 - w4.
    g_r = (
        float(lw @ (digamma(r + lv) - digamma(r) + np.log(alpha)))
        - (_wsum(w, log_t) - _wsum(ww4, log_t)) - _wsum(ww4, log_tx)
    )
    g_alpha = float(lw.sum()) * r / alpha - (_wsum(w, rt) - _wsum(ww4, rt)) - _wsum(ww4, rtx)
    common_ab_lv = digamma(a + b) - digamma(a + b + lv)
    g_a = float(lw @ common_ab_lv) + float(ww4.sum()) / a
    ww4_per_level = np.bincount(d.level_index, weights=ww4, minlength=lv.size)
    g_b = float(lw @ (common_ab_lv + digamma(b + lv) - digamma(b))) - float(ww4_per_level @ inverse_bx1_lv)
    grad = np.array([g_r, g_alpha, g_a, g_b]) * params
    if not np.isfinite(total) or not np.isfinite(grad).all():
        # L-BFGS-B backs off from a step that gives inf; a NaN never leaves this function.
        return 1e300, np.zeros(4)
    return -total / scale, -grad / scale


def bgnbd_log_likelihood(
    params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> float:
    """Total log-likelihood of the data under the given parameters."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    ll = _terms(params.as_tuple(), _Data.make(x, t_x, big_t, np.ones_like(x)))
    return float(ll.sum())


def bgnbd_gradient(params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> FloatArray:
    """Gradient of the total log-likelihood with respect to (r, alpha, a, b) (for checks)."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    log_params = np.log(np.array(params.as_tuple()))
    _, grad_log = _neg_ll_and_grad(log_params, _Data.make(x, t_x, big_t, np.ones_like(x)), 1.0)
    return -grad_log / np.array(params.as_tuple())


def bgnbd_fit(
    frequency: ArrayLike, recency: ArrayLike, age: ArrayLike, *, deduplicate: bool = True,
    weights: ArrayLike | None = None,
) -> BgNbdFit:
    """Maximum-likelihood fit; raises ModelFitError when the data cannot identify the model.
    `weights`: the rows are already distinct customers' histories, each standing for that many."""
    rows = fit_rows(frequency, recency, age, weights=weights, deduplicate=deduplicate)
    n, n_repeat = rows.n_customers, rows.n_repeat
    if n < MIN_CUSTOMERS:
        raise ModelFitError(BGNBD_TOO_FEW_CUSTOMERS, minimum=MIN_CUSTOMERS, count=n)
    if n_repeat == 0:
        raise ModelFitError(BGNBD_NO_REPEAT_BUYERS)
    if n_repeat < MIN_REPEAT_CUSTOMERS:
        raise ModelFitError(BGNBD_TOO_FEW_REPEAT_BUYERS, minimum=MIN_REPEAT_CUSTOMERS, count=n_repeat, total=n)
    x_u, tx_u, t_u, weights = rows.x, rows.t_x, rows.big_t, rows.weights
    data = _Data.make(x_u, tx_u, t_u, weights)
    mean_age = float(np.average(t_u, weights=weights))
    # Start: a purchase rate of about one per unit of mean age and an even drop-out chance.
    starts = [np.log([1.0, max(mean_age, 1e-3), 1.0, 1.0]), np.log([0.5, 1.0, 0.5, 2.0])]
    result = minimize_from_starts(_neg_ll_and_grad, starts, args=(data, rows.total), n_params=4, log_bound=LOG_BOUND)
    if not is_stationary(result):
        raise ModelFitError(BGNBD_NOT_CONVERGED, reason=str(result.message))
    homogeneous = bool(np.exp(result.x[2]) > HOMOGENEOUS_DROPOUT and np.exp(result.x[3]) > HOMOGENEOUS_DROPOUT)
    for name, value in zip(PARAM_NAMES, result.x, strict=True):
        if abs(value) > LOG_BOUND - BOUND_MARGIN and not (homogeneous and name in ("a", "b")):
            raise ModelFitError(BGNBD_AT_BOUND, name=name, value=float(np.exp(value)))
    params = BgNbdParams(*(float(v) for v in np.exp(result.x)))
    hessian = hessian_from_gradient(lambda v: _neg_ll_and_grad(v, data, 1.0)[1], np.asarray(result.x, dtype=float))
    covariance = log_covariance(hessian)
    skip = ("a", "b") if homogeneous else ()
    return BgNbdFit(
        params=params,
        log_likelihood=-float(result.fun) * rows.total,
        n_customers=n,
        n_repeat_customers=n_repeat,
        n_distinct=int(x_u.size),
        iterations=int(result.nit),
        function_evaluations=int(result.nfev),
        note=Message(BGNBD_HOMOGENEOUS_DROPOUT, {"p": params.a / (params.a + params.b)}) if homogeneous else None,
        standard_errors=None if covariance is None else natural_standard_errors(params.as_tuple(), covariance),  # type: ignore[arg-type]
        log_covariance=covariance,
        warnings=fit_warnings("BG/NBD", PARAM_NAMES, params.as_tuple(), covariance, skip=skip,
                              singular_expected=homogeneous),
    )


def bgnbd_p_alive(params: BgNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> FloatArray:
    """P(alive | x, t_x, T) = 1 / (1 + [x > 0] a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    r, alpha, a, b = params.as_tuple()
    repeat = x > 0
    log_odds = (
        np.log(a) - np.log(np.where(repeat, b + x - 1.0, 1.0))
        + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x))
    )
    # 1 / (1 + exp(log_odds)) without overflow: the logistic of -log_odds.
    p = np.where(repeat, np.exp(-np.logaddexp(0.0, log_odds)), 1.0)
    return p


def bgnbd_conditional_expected_purchases(
    params: BgNbdParams, t: float | ArrayLike, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected repeat purchases in the next t time units.

    E = (a + b + x - 1) / (a - 1) * [1 - ((alpha + T) / (alpha + T + t))^(r + x)
        * 2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))] / (1 + [x > 0] a / (b + x - 1) (...)^(r + x)).
    The Gauss hypergeometric term is evaluated after Euler's transformation,
    (1 - z)^(r + x) 2F1(r + x, b + x; c; z) = (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; c; z),
    whose parameters do not grow with x, so the series stays well conditioned for heavy buyers."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    return bgnbd_expected_purchases_if_alive(params, t, x, big_t) * bgnbd_p_alive(params, x, t_x, big_t)


def bgnbd_expected_purchases_if_alive(
    params: BgNbdParams, t: float | ArrayLike, frequency: ArrayLike, age: ArrayLike
) -> FloatArray:
    """The first factor of E[Y(t) | x, t_x, T]: the expected purchases of a customer still alive
    at T. It depends on x and T only (not t_x), so scoring evaluates it once per distinct (x, T).

    Computed as E_p[(1 - (1 + p t / (alpha + T))^-(r + x)) / p] over the posterior drop-out chance
    p ~ Beta(a, b + x) (maths/betamix.py), finite and accurate for every a, b > 0, a = 1 included."""
    x = checks.column("frequency", frequency, non_negative=True)
    big_t = checks.column("T", age, non_negative=True)
    checks.same_length(frequency=x, T=big_t)
    t_arr = checks.times(t)
    if t_arr.ndim:
        checks.same_length(frequency=x, t=t_arr.reshape(-1))
        t_arr = t_arr.reshape(-1)
    r, alpha, a, b = params.as_tuple()
    x, big_t, t_arr = np.broadcast_arrays(x, big_t, t_arr)
    return beta_mixture_expected_purchases(shape=r + x, tau=t_arr / (alpha + big_t), a=a, b=b + x)


def bgnbd_p_alive_path(
    params: BgNbdParams, purchase_times: ArrayLike, evaluation_times: ArrayLike
) -> FloatArray:
    """P(alive) of one customer at each evaluation time, from their purchase times up to then.

    Times are in the model's unit from any common origin; evaluation times before the first
    purchase give NaN (the customer did not exist yet)."""
    times = np.sort(checks.column("purchase times", purchase_times))
    at = checks.column("evaluation times", evaluation_times)
    if times.size == 0:
        return np.full(at.shape, np.nan)
    first = times[0]
    seen = np.searchsorted(times, at, side="right")  # purchases up to and including each time
    valid = seen > 0
    x = np.where(valid, seen - 1, 0).astype(float)
    last = times[np.maximum(seen - 1, 0)]
    t_x = np.where(valid, last - first, 0.0)
    big_t = np.where(valid, at - first, 0.0)
    p = bgnbd_p_alive(params, x, t_x, big_t)
    return np.where(valid, p, np.nan)


def bgnbd_unconditional_expected_purchases(params: BgNbdParams, t: float | ArrayLike) -> FloatArray:
    """E[X(t)] for a new customer, (a + b - 1) / (a - 1) [1 - (alpha / (alpha + t))^r 2F1(r, b; a + b - 1; t / (alpha + t))]:
    the expected purchases if alive of a customer with x = 0 at T = 0 (no pole at a = 1)."""
    t_arr = checks.times(t)
    flat = t_arr.reshape(-1)
    zeros = np.zeros_like(flat)
    return bgnbd_expected_purchases_if_alive(params, flat, zeros, zeros).reshape(t_arr.shape)


def bgnbd_probability_of_n_purchases(params: BgNbdParams, t: float, n_max: int) -> FloatArray:
    """P(X(t) = n) for n = 0..n_max: the chance that a new customer makes n repeat purchases in
    (0, t] (Fader, Hardie & Lee 2005, eq. 8, as lifetimes' probability_of_n_purchases_up_to_time):

        P(X(t) = n) = B(a, b + n) / B(a, b) Gamma(r + n) / (Gamma(r) n!) (alpha / (alpha + t))^r (t / (alpha + t))^n
                      + [n > 0] B(a + 1, b + n - 1) / B(a, b) [1 - sum_{j < n} NBD(j)],

    NBD(j) the negative binomial probabilities of the first term. The bracket, the NBD's upper
    tail P(N >= n), is the regularised incomplete beta I_z(n, r) with z = t / (alpha + t), which
    keeps every digit where 1 minus the sum would cancel; the rest is in logs."""
    r, alpha, a, b = params.as_tuple()
    t_arr = checks.times(t)
    if t_arr.ndim or not (isinstance(n_max, (int, np.integer)) and n_max >= 0):
        raise ModelInputError(INPUT_NOT_ARRAY, name="t and n_max", shape="t a number >= 0, n_max a whole number >= 0")
    n = np.arange(n_max + 1, dtype=float)
    log_z = np.log(t_arr) - np.log(alpha + t_arr) if t_arr > 0 else -np.inf
    log_q = np.log(alpha) - np.log(alpha + t_arr)
    with np.errstate(invalid="ignore"):
        log_nbd = gammaln(r + n) - gammaln(r) - gammaln(n + 1.0) + r * log_q + np.where(n > 0, n * log_z, 0.0)
    first = np.exp(betaln(a, b + n) - betaln(a, b) + log_nbd)
    upper = betainc(np.maximum(n, 1.0), r, float(np.exp(log_z)))
    second = np.where(n > 0, np.exp(betaln(a + 1.0, np.maximum(b + n - 1.0, 1e-300)) - betaln(a, b)) * upper, 0.0)
    return np.asarray(first + second, dtype=float)
