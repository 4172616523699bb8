"""The MBG/NBD model of repeat purchases (Batislam, Denizel & Filiztekin 2007), pure.

As BG/NBD, but a customer may also drop out right after the first purchase, so a customer who
bought once long ago is no longer "certainly alive". Per customer (x, t_x, T):

    log L = log Gamma(r + x) - log Gamma(r) + r log alpha
          + log B(a, b + x + 1) - log B(a, b)
          - (r + x) log(alpha + T) + log(1 + a / (b + x) ((alpha + T) / (alpha + t_x))^(r + x)),

    P(alive) = 1 / (1 + a / (b + x) ((alpha + T) / (alpha + t_x))^(r + x)),

    E[Y(t) | x, t_x, T] = (a + b + x) / (a - 1) [1 - ((alpha + T) / (alpha + T + t))^(r + x)
        2F1(r + x, b + x + 1; a + b + x; t / (alpha + T + t))] P(alive),

computed, as BG/NBD's, as the mean of (1 - (1 + p t / (alpha + T))^-(r + x)) / p over
p ~ Beta(a, b + x + 1) (maths/betamix.py), finite for every a, b. Summed over a horizon of months
(`mbgnbd_horizon_sums`: the discounted CLV sum and the 12-month total), it is done per purchase
count with one quadrature rule for all its ages and months and an interpolant over the ages
(betamix.beta_mixture_horizon_sums), as BG/NBD's; the bootstrap of the CLV intervals computes them
for all its parameter draws at once (`mbgnbd_horizon_sums_draws`, betamix.beta_mixture_horizon_sums_draws).

The fit maximises the log-likelihood over log(r, alpha, a, b) with L-BFGS-B and its analytic
gradient (`_neg_ll_and_grad`), on the distinct (x, t_x, T) weighted by their counts; with
sigma = 1 - P(alive) the share of the drop-out term,

    d/dr     = psi(r + x) - psi(r) + ln alpha - ln(alpha + T) + sigma (ln(alpha + T) - ln(alpha + t_x)),
    d/dalpha = r / alpha - (r + x) / (alpha + T) + sigma (r + x) (1 / (alpha + T) - 1 / (alpha + t_x)),
    d/da     = psi(a + b) - psi(a + b + x + 1) + sigma / a,
    d/db     = psi(a + b) - psi(a + b + x + 1) + psi(b + x + 1) - psi(b) - sigma / (b + x).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, digamma, gammaln

from . import checks
from .betamix import (
    PRECISE,
    Precision,
    beta_mixture_expected_purchases,
    beta_mixture_horizon_sums,
    beta_mixture_horizon_sums_by_count,
    rows_by_value,
)
from .bgnbd import MIN_CUSTOMERS, _as_inputs, fit_rows
from .errors import Message, ModelFitError, gettext_noop
from .optimize import (
    fit_warnings,
    hessian_from_gradient,
    is_stationary,
    log_covariance,
    minimize_from_starts,
    natural_standard_errors,
    parameter_at_bound,
)

FloatArray = NDArray[np.float64]

MBG_NOT_CONVERGED = gettext_noop("The MBG/NBD fit did not converge: {reason}")
MBG_AT_BOUND = gettext_noop(
    "The MBG/NBD fit pushed {name} to the edge of its range ({value:.3g}): the data cannot identify the model."
)
MBG_TOO_FEW_CUSTOMERS = gettext_noop("The MBG/NBD fit needs at least {minimum} customers; the data has {count}.")
MBG_NO_REPEAT_BUYERS = gettext_noop("The MBG/NBD fit needs customers with repeat purchases; the data has none.")

PARAM_NAMES = ("r", "alpha", "a", "b")
LOG_BOUND = 16.0
_MAX_SUMMED_LEVEL = 1e5
BOUND_MARGIN = 0.5


@dataclass(frozen=True)
class MbgNbdParams:
    r: float
    alpha: float
    a: float
    b: float

    def __post_init__(self) -> None:
        checks.parameters("MBG/NBD", PARAM_NAMES, self.as_tuple())

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.a, self.b)


@dataclass(frozen=True)
class MbgNbdFit:
    params: MbgNbdParams
    log_likelihood: float
    n_customers: int
    n_repeat_customers: int
    n_distinct: int
    iterations: int
    function_evaluations: int
    # From the Hessian of the log-likelihood at the estimate (None when it is singular).
    standard_errors: tuple[float, float, float, float] | None = None
    log_covariance: FloatArray | None = None
    warnings: tuple[Message, ...] = ()


def _log_odds_dead(params: tuple[float, float, float, float], x: FloatArray, t_x: FloatArray,
                   big_t: FloatArray) -> FloatArray:
    """log(a / (b + x) ((alpha + T) / (alpha + t_x))^(r + x)): the odds of having dropped out."""
    r, alpha, a, b = params
    return np.asarray(np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + big_t) - np.log(alpha + t_x)), dtype=float)


def _log_likelihood_terms(params: tuple[float, float, float, float], x: FloatArray, t_x: FloatArray,
                          big_t: FloatArray) -> FloatArray:
    r, alpha, a, b = params
    return np.asarray(
        gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x + 1.0) - betaln(a, b)
        - (r + x) * np.log(alpha + big_t) + np.logaddexp(0.0, _log_odds_dead(params, x, t_x, big_t)),
        dtype=float,
    )


def mbgnbd_log_likelihood(params: MbgNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> float:
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    return float(_log_likelihood_terms(params.as_tuple(), x, t_x, big_t).sum())


@dataclass(frozen=True)
class _Data:
    """The distinct (x, t_x, T) with their weights, and the distinct values of x (few: the special
    functions run once per value, not once per row)."""

    x: FloatArray
    t_x: FloatArray
    big_t: FloatArray
    weights: FloatArray
    levels: FloatArray
    level_index: NDArray[np.intp]
    level_weights: FloatArray
    # Whether every x is a whole number (below _MAX_SUMMED_LEVEL): then the Beta-function terms are sums.
    whole_levels: bool
    whole_levels_index: NDArray[np.intp]

    @classmethod
    def make(cls, x: FloatArray, t_x: FloatArray, big_t: FloatArray, weights: FloatArray) -> _Data:
        levels, index = np.unique(x, return_inverse=True)
        level_weights = np.bincount(index.ravel(), weights=weights, minlength=levels.size).astype(float)
        whole = bool(levels.size and np.all(levels == np.round(levels)) and levels[-1] < _MAX_SUMMED_LEVEL)
        return cls(x, t_x, big_t, weights, levels, index.ravel(), level_weights, whole,
                   levels.astype(np.intp) if whole else np.zeros(0, dtype=np.intp))


def _beta_ratio_terms(a: float, b: float, d: _Data) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Per level of x: ln B(a, b + x + 1) - ln B(a, b) and its derivatives in a and b,
    psi(a + b) - psi(a + b + x + 1) and that plus psi(b + x + 1) - psi(b).

    For whole x (purchase counts) as the finite sums they are, sum_{j=0..x} of -ln(1 + a / (b + j)),
    -1 / (a + b + j) and 1 / (b + j) - 1 / (a + b + j): differences of lnGamma and digamma at large
    a and b cancel (at a ~ 1e6 the likelihood's value is then noisy at 1e-10, enough to stall the
    line search of a fit heading for a homogeneous drop-out)."""
    lv = d.levels
    if d.whole_levels:
        j = np.arange(int(lv[-1]) + 1, dtype=float)
        ratio = np.cumsum(-np.log1p(a / (b + j)))[d.whole_levels_index]
        inverse_ab = np.cumsum(1.0 / (a + b + j))[d.whole_levels_index]
        inverse_b = np.cumsum(1.0 / (b + j))[d.whole_levels_index]
        return ratio, -inverse_ab, inverse_b - inverse_ab
    d_a = digamma(a + b) - digamma(a + b + lv + 1.0)
    return betaln(a, b + lv + 1.0) - betaln(a, b), d_a, d_a + digamma(b + lv + 1.0) - digamma(b)


def _neg_ll_and_grad(log_params: FloatArray, d: _Data, scale: float) -> tuple[float, FloatArray]:
    """Minus the weighted log-likelihood (as `_log_likelihood_terms`) and its gradient in
    log(r, alpha, a, b) (module docstring), both divided by `scale`."""
    params = np.exp(log_params)
    r, alpha, a, b = params
    lv, lw, w = d.levels, d.level_weights, d.weights
    beta_ratio_lv, d_a_lv, d_b_lv = _beta_ratio_terms(a, b, d)
    constant_lv = gammaln(r + lv) - gammaln(r) + r * np.log(alpha) + beta_ratio_lv
    log_t = np.log(alpha + d.big_t)
    log_tx = np.log(alpha + d.t_x)
    rx = r + d.x
    # The log odds of having dropped out, L; ln L = constant - (r + x) ln(alpha + T) + ln(1 + e^L).
    log_odds = (np.log(a) - np.log(b + lv))[d.level_index] + rx * (log_t - log_tx)
    log_sum = np.logaddexp(0.0, log_odds)
    total = float(lw @ constant_lv) + float(w @ (log_sum - rx * log_t))
    sigma = np.exp(log_odds - log_sum)  # 1 - P(alive)
    ws = w * sigma
    g_r = (float(lw @ (digamma(r + lv) - digamma(r) + np.log(alpha))) - float(w @ log_t)
           + float(ws @ (log_t - log_tx)))
    inv_t = 1.0 / (alpha + d.big_t)
    g_alpha = float(lw.sum()) * r / alpha - float(w @ (rx * inv_t)) + float(ws @ (rx * (inv_t - 1.0 / (alpha + d.t_x))))
    ws_per_level = np.bincount(d.level_index, weights=ws, minlength=lv.size)
    g_a = float(lw @ d_a_lv) + float(ws.sum()) / a
    g_b = float(lw @ d_b_lv) - float(ws_per_level @ (1.0 / (b + lv)))
    grad = np.array([g_r, g_alpha, g_a, g_b]) * params
    if not np.isfinite(total) or not np.isfinite(grad).all():
        # L-BFGS-B backs off from a step that gives inf; a NaN never leaves this function.
        return 1e300, np.zeros(4)
    return -total / scale, -grad / scale


def mbgnbd_gradient(params: MbgNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> FloatArray:
    """Gradient of the total log-likelihood with respect to (r, alpha, a, b) (for checks)."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    values = np.array(params.as_tuple())
    _, grad_log = _neg_ll_and_grad(np.log(values), _Data.make(x, t_x, big_t, np.ones_like(x)), 1.0)
    return np.asarray(-grad_log / values, dtype=float)


def mbgnbd_fit(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike, *,
               weights: ArrayLike | None = None) -> MbgNbdFit:
    """Maximum-likelihood fit over the distinct (x, t_x, T), weighted; raises ModelFitError when
    the data cannot identify the model.
    `weights`: the rows are already distinct customers' histories, each standing for that many."""
    rows = fit_rows(frequency, recency, age, weights=weights)
    n, n_repeat = rows.n_customers, rows.n_repeat
    if n < MIN_CUSTOMERS:
        raise ModelFitError(MBG_TOO_FEW_CUSTOMERS, minimum=MIN_CUSTOMERS, count=n)
    if n_repeat == 0:
        raise ModelFitError(MBG_NO_REPEAT_BUYERS)
    x_u, tx_u, t_u, weights = rows.x, rows.t_x, rows.big_t, rows.weights
    data = _Data.make(x_u, tx_u, t_u, weights)
    mean_age = float(np.average(t_u, weights=weights))
    starts = [np.log([1.0, max(mean_age, 1e-3), 1.0, 1.0]), np.log([0.5, 1.0, 0.5, 2.0])]
    result = minimize_from_starts(_neg_ll_and_grad, starts, args=(data, rows.total), n_params=4, log_bound=LOG_BOUND)
    if not is_stationary(result):
        raise ModelFitError(MBG_NOT_CONVERGED, reason=str(result.message))
    edge = parameter_at_bound(PARAM_NAMES, result.x, limit=LOG_BOUND - BOUND_MARGIN)
    if edge is not None:
        raise ModelFitError(MBG_AT_BOUND, name=edge[0], value=edge[1])
    params = MbgNbdParams(*(float(v) for v in np.exp(result.x)))
    hessian = hessian_from_gradient(lambda v: _neg_ll_and_grad(v, data, 1.0)[1], np.asarray(result.x, dtype=float))
    covariance = log_covariance(hessian)
    return MbgNbdFit(
        params=params,
        log_likelihood=-float(result.fun) * rows.total, n_customers=n, n_repeat_customers=n_repeat,
        n_distinct=int(x_u.size), iterations=int(result.nit), function_evaluations=int(result.nfev),
        standard_errors=None if covariance is None else natural_standard_errors(params.as_tuple(), covariance),  # type: ignore[arg-type]
        log_covariance=covariance,
        warnings=fit_warnings("MBG/NBD", PARAM_NAMES, params.as_tuple(), covariance),
    )


def mbgnbd_p_alive(params: MbgNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> FloatArray:
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    return np.asarray(np.exp(-np.logaddexp(0.0, _log_odds_dead(params.as_tuple(), x, t_x, big_t))), dtype=float)


def mbgnbd_conditional_expected_purchases(
    params: MbgNbdParams, t: float | ArrayLike, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T] (module docstring)."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    r, alpha, a, b = params.as_tuple()
    t_arr = checks.times(t)
    x_b, big_t_b, t_b = np.broadcast_arrays(x, big_t, t_arr)
    if_alive = beta_mixture_expected_purchases(shape=r + x_b, tau=t_b / (alpha + big_t_b), a=a, b=b + 1.0 + x_b)
    return np.asarray(if_alive * mbgnbd_p_alive(params, x, t_x, big_t), dtype=float)


def mbgnbd_horizon_sums(
    params: MbgNbdParams, frequency: ArrayLike, age: ArrayLike, *, times: ArrayLike, coefficients: ArrayLike,
    precision: Precision = PRECISE,
) -> FloatArray:
    """S[i, j] = sum over k of coefficients[k, j] x E[Y(times[k]) | alive, x_i, T_i]: for each (x, T),
    weighted sums of the expected purchases if alive at the month ends `times` (clv.horizon_coefficients
    gives the discounted CLV sum and the 12-month total as the two columns). Per distinct x, one
    betamix.beta_mixture_horizon_sums over all its ages, with r' = r + x, b' = b + x + 1 and
    scale alpha + T; the same as summing `mbgnbd_conditional_expected_purchases` / P(alive) month by
    month, to the precision's ~1e-12 (PRECISE) or ~1e-7 (COARSE, for the bootstrap's draws)."""
    x = checks.column("frequency", frequency, non_negative=True)
    big_t = checks.column("T", age, non_negative=True)
    checks.same_length(frequency=x, T=big_t)
    t_arr = np.asarray(times, dtype=float)
    c = np.asarray(coefficients, dtype=float)
    r, alpha, a, b = params.as_tuple()
    out = np.empty((x.size, c.shape[1]))
    for level, rows in rows_by_value(x):
        out[rows] = beta_mixture_horizon_sums(
            shape=r + float(level), a=a, b=b + float(level) + 1.0, scale=alpha + big_t[rows], times=t_arr,
            coefficients=c, precision=precision,
        )
    return out


def mbgnbd_horizon_sums_draws(
    draws: FloatArray, frequency: ArrayLike, age: ArrayLike, *, times: ArrayLike, coefficients: ArrayLike,
    precision: Precision = PRECISE,
) -> FloatArray:
    """`mbgnbd_horizon_sums` for many parameter draws at once: `draws` is (draws x 4) of (r, alpha, a, b)
    and S[i, d, j] is what mbgnbd_horizon_sums gives for draw d (to rounding). Per purchase count, one
    betamix.beta_mixture_horizon_sums_draws over all its ages and every draw (the bootstrap's path)."""
    x = checks.column("frequency", frequency, non_negative=True)
    big_t = checks.column("T", age, non_negative=True)
    checks.same_length(frequency=x, T=big_t)
    return beta_mixture_horizon_sums_by_count(np.asarray(draws, dtype=float), x, big_t, times=times,
                                              coefficients=coefficients, b_offset=1.0, precision=precision)
