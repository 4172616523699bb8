"""The Pareto/NBD model of repeat purchases (Schmittlein, Morrison & Colombo 1987), pure.

While alive a customer buys at rate lambda ~ Gamma(r, alpha) and drops out at rate
mu ~ Gamma(s, beta), at an unseen time. The likelihood of (x, t_x, T) (Fader, Hardie & Lee 2005,
"A Note on Deriving the Pareto/NBD Model and Related Expressions") is

    L = Gamma(r + x) alpha^r / Gamma(r) * [ beta^s / ((alpha + T)^(r + x) (beta + T)^s)
        + s beta^s * I ],   I = integral from t_x to T of (alpha + u)^-(r + x) (beta + u)^-(s + 1) du,

the first term for a customer still alive at T, the second for one who dropped out at u in
(t_x, T]. The usual closed form writes I with Gauss hypergeometric functions whose difference
cancels catastrophically (and whose series diverge for some parameters); here I is integrated
numerically instead, in log space: with v = log(alpha + u) the integrand is a smooth, analytic
exp(v (1 - r - x) - (s + 1) log(beta - alpha + e^v)), which Gauss-Legendre integrates to full
precision with a few dozen nodes, and log I comes from a log-sum-exp, so neither term under-
or overflows for heavy buyers or long histories.

P(alive) is the share of the first term in L; E[Y(t) | x, t_x, T] follows in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import gammaln, logsumexp

from . import checks
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

PARETO_NOT_CONVERGED = gettext_noop("The Pareto/NBD fit did not converge: {reason}")
PARETO_AT_BOUND = gettext_noop(
    "The Pareto/NBD fit pushed {name} to the edge of its range ({value:.3g}): the data cannot identify the model."
)
PARETO_TOO_FEW_CUSTOMERS = gettext_noop("The Pareto/NBD fit needs at least {minimum} customers; the data has {count}.")
PARETO_NO_REPEAT_BUYERS = gettext_noop("The Pareto/NBD fit needs customers with repeat purchases; the data has none.")

PARAM_NAMES = ("r", "alpha", "s", "beta")
# Log parameters are kept within +-LOG_BOUND (e^-16 .. e^16); a fit that ends near the edge is refused.
LOG_BOUND = 16.0
BOUND_MARGIN = 0.5
GAUSS_NODES = 48
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(GAUSS_NODES)


@dataclass(frozen=True)
class ParetoNbdParams:
    r: float
    alpha: float
    s: float
    beta: float

    def __post_init__(self) -> None:
        checks.parameters("Pareto/NBD", PARAM_NAMES, self.as_tuple())

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.r, self.alpha, self.s, self.beta)


@dataclass(frozen=True)
class ParetoNbdFit:
    params: ParetoNbdParams
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


def _log_terms(params: tuple[float, float, float, float], x: FloatArray, t_x: FloatArray,
               big_t: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray]:
    """log of the common factor, of the alive term and of the dropped-out term (-inf where
    t_x = T: nobody can have dropped out between their last purchase and T)."""
    r, alpha, s, beta = params
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = s * np.log(beta) - (r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
    v0 = np.log(alpha + t_x)
    v1 = np.log(alpha + big_t)
    half = (v1 - v0) / 2.0
    # Nodes of [v0, v1] for every customer: shape (customers, nodes).
    v = (v0 + v1)[:, None] / 2.0 + half[:, None] * _NODES[None, :]
    log_integrand = v * (1.0 - r - x)[:, None] - (s + 1.0) * np.log(beta - alpha + np.exp(v))
    with np.errstate(divide="ignore"):
        log_i = logsumexp(log_integrand, axis=1, b=_WEIGHTS[None, :]) + np.log(half)
    dropped = np.where(half > 0, np.log(s) + s * np.log(beta) + log_i, -np.inf)
    return common, alive, dropped


def paretonbd_log_likelihood_terms(params: ParetoNbdParams, frequency: ArrayLike, recency: ArrayLike,
                                   age: ArrayLike) -> FloatArray:
    """Each customer's log-likelihood."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    common, alive, dropped = _log_terms(params.as_tuple(), x, t_x, big_t)
    return np.asarray(common + np.logaddexp(alive, dropped), dtype=float)


def paretonbd_log_likelihood(params: ParetoNbdParams, frequency: ArrayLike, recency: ArrayLike,
                             age: ArrayLike) -> float:
    return float(paretonbd_log_likelihood_terms(params, frequency, recency, age).sum())


def paretonbd_fit(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> ParetoNbdFit:
    """Maximum-likelihood fit over the distinct (x, t_x, T), weighted by how many customers each
    stands for; raises ModelFitError when the data cannot identify the model."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    n = x.size
    if n < MIN_CUSTOMERS:
        raise ModelFitError(PARETO_TOO_FEW_CUSTOMERS, minimum=MIN_CUSTOMERS, count=n)
    n_repeat = int((x > 0).sum())
    if n_repeat == 0:
        raise ModelFitError(PARETO_NO_REPEAT_BUYERS)
    (x_u, tx_u, t_u), _, weights = distinct_rows(x, t_x, big_t)

    def objective(log_params: FloatArray) -> float:
        common, alive, dropped = _log_terms(tuple(np.exp(log_params)), x_u, tx_u, t_u)  # type: ignore[arg-type]
        value = -float(np.dot(weights, common + np.logaddexp(alive, dropped))) / n
        return value if np.isfinite(value) else 1e300

    mean_age = float(np.average(t_u, weights=weights))
    starts = [np.log([1.0, max(mean_age, 1e-3), 1.0, max(mean_age, 1e-3)]), np.log([0.5, 1.0, 0.5, 1.0])]
    result = minimize_value_from_starts(objective, starts, log_bound=LOG_BOUND)
    if not (np.isfinite(result.fun) and result.fun < 1e299):
        raise ModelFitError(PARETO_NOT_CONVERGED, reason=str(result.message))
    edge = parameter_at_bound(PARAM_NAMES, result.x, limit=LOG_BOUND - BOUND_MARGIN)
    if edge is not None:
        raise ModelFitError(PARETO_AT_BOUND, name=edge[0], value=edge[1])
    params = ParetoNbdParams(*(float(v) for v in np.exp(result.x)))
    hessian = hessian_from_values(lambda v: objective(v) * n, np.asarray(result.x, dtype=float))
    covariance = log_covariance(hessian)
    return ParetoNbdFit(
        params=params,
        log_likelihood=-float(result.fun) * n, n_customers=n, n_repeat_customers=n_repeat,
        n_distinct=int(x_u.size), iterations=int(result.nit), function_evaluations=int(result.nfev),
        standard_errors=None if covariance is None else natural_standard_errors(params.as_tuple(), covariance),  # type: ignore[arg-type]
        log_covariance=covariance,
        warnings=fit_warnings("Pareto/NBD", PARAM_NAMES, params.as_tuple(), covariance),
    )


def paretonbd_p_alive(params: ParetoNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> FloatArray:
    """P(alive at T | x, t_x, T): the alive term's share of the likelihood."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    _common, alive, dropped = _log_terms(params.as_tuple(), x, t_x, big_t)
    return np.asarray(np.exp(alive - np.logaddexp(alive, dropped)), dtype=float)


def paretonbd_conditional_expected_purchases(
    params: ParetoNbdParams, t: float | ArrayLike, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike
) -> FloatArray:
    """E[Y(t) | x, t_x, T] = P(alive) (r + x) / (alpha + T) * (beta + T) / (s - 1)
    * [1 - ((beta + T) / (beta + T + t))^(s - 1)], with its limit (beta + T) log(1 + t / (beta + T))
    at s = 1 (written with expm1 and log1p, so s near 1 loses nothing)."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    r, alpha, s, beta = params.as_tuple()
    t_arr = checks.times(t)
    log_ratio = np.log1p(t_arr / (beta + big_t))
    k = s - 1.0
    horizon = log_ratio if abs(k) < 1e-12 else -np.expm1(-k * log_ratio) / k
    rate = (r + x) / (alpha + big_t) * (beta + big_t) * horizon
    return np.asarray(rate * paretonbd_p_alive(params, x, t_x, big_t), dtype=float)
