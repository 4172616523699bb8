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
p ~ Beta(a, b + x + 1) (maths/betamix.py), finite for every a, b.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betaln, gammaln

from . import checks
from .betamix import beta_mixture_expected_purchases
from .bgnbd import MIN_CUSTOMERS, _as_inputs, distinct_rows
from .errors import Message, ModelFitError, gettext_noop
from .optimize import (
    fit_warnings,
    hessian_from_values,
    log_covariance,
    minimize_value_from_starts,
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


def mbgnbd_fit(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> MbgNbdFit:
    """Maximum-likelihood fit over the distinct (x, t_x, T), weighted; raises ModelFitError when
    the data cannot identify the model."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    n = x.size
    if n < MIN_CUSTOMERS:
        raise ModelFitError(MBG_TOO_FEW_CUSTOMERS, minimum=MIN_CUSTOMERS, count=n)
    n_repeat = int((x > 0).sum())
    if n_repeat == 0:
        raise ModelFitError(MBG_NO_REPEAT_BUYERS)
    (x_u, tx_u, t_u), _, weights = distinct_rows(x, t_x, big_t)

    def objective(log_params: FloatArray) -> float:
        terms = _log_likelihood_terms(tuple(np.exp(log_params)), x_u, tx_u, t_u)  # type: ignore[arg-type]
        value = -float(np.dot(weights, terms)) / n
        return value if np.isfinite(value) else 1e300

    mean_age = float(np.average(t_u, weights=weights))
    starts = [np.log([1.0, max(mean_age, 1e-3), 1.0, 1.0]), np.log([0.5, 1.0, 0.5, 2.0])]
    result = minimize_value_from_starts(objective, starts, log_bound=LOG_BOUND)
    if not (np.isfinite(result.fun) and result.fun < 1e299):
        raise ModelFitError(MBG_NOT_CONVERGED, reason=str(result.message))
    edge = parameter_at_bound(PARAM_NAMES, result.x, limit=LOG_BOUND - BOUND_MARGIN)
    if edge is not None:
        raise ModelFitError(MBG_AT_BOUND, name=edge[0], value=edge[1])
    params = MbgNbdParams(*(float(v) for v in np.exp(result.x)))
    hessian = hessian_from_values(lambda v: objective(v) * n, np.asarray(result.x, dtype=float))
    covariance = log_covariance(hessian)
    return MbgNbdFit(
        params=params,
        log_likelihood=-float(result.fun) * n, n_customers=n, n_repeat_customers=n_repeat,
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
