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
or overflows for heavy buyers or long histories. When beta < alpha the roles swap (v = log(beta + u),
exponents s + 1 and r + x), which keeps the integrand's branch point off the real axis.

P(alive) is the share of the first term in L; E[Y(t) | x, t_x, T] follows in closed form.

The fit maximises the weighted log-likelihood of the distinct (x, t_x, T) over
log(r, alpha, s, beta) with L-BFGS-B and the exact gradient of the quadrature above
(`_neg_ll_and_grad`): with nodes v_k = c + h n_k (c, h the centre and half-width of
[ln(alpha + t_x), ln(alpha + T)]), e^v_k = alpha + u_k, q_k = beta + u_k and pi_k the share of node k
in the sum for I,

    d ln I / dr    = -sum pi_k v_k,        d ln I / ds = -sum pi_k ln q_k,
    d ln I / dbeta = -(s + 1) sum pi_k / q_k,
    d ln I / dalpha = h' / h + sum pi_k [(1 - r - x - (s + 1) (1 - (beta - alpha) / q_k)) (c' + n_k h') + (s + 1) / q_k],

c' and h' the derivatives of c and h in alpha (1 / (alpha + t_x) and 1 / (alpha + T) halved, summed
or differenced); with the roles swapped (beta < alpha) the same formulas give the derivatives in
beta, s, alpha and r. The alive and dropped-out terms then combine by their shares of L.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, gammaln, logsumexp

from . import checks
from .bgnbd import MIN_CUSTOMERS, _as_inputs, distinct_rows, fit_rows
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
# Rows per block of the quadrature: a block's (rows x nodes) arrays stay at a few MB whatever the
# number of customers.
BLOCK_ROWS = 8192


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
    t_x = T: nobody can have dropped out between their last purchase and T), in blocks of
    BLOCK_ROWS rows so that memory stays bounded."""
    r, alpha, s, beta = params
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    alive = s * np.log(beta) - (r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
    dropped = np.empty(x.shape)
    for start in range(0, x.size, BLOCK_ROWS):
        rows = slice(start, start + BLOCK_ROWS)
        dropped[rows] = _log_dropped(params, x[rows], t_x[rows], big_t[rows])
    return common, alive, dropped


def _log_dropped(params: tuple[float, float, float, float], x: FloatArray, t_x: FloatArray,
                 big_t: FloatArray) -> FloatArray:
    _r, _alpha, s, beta = params
    lower, slope, upper, big_q = _integral_roles(params, x)
    v0 = np.log(lower + t_x)
    v1 = np.log(lower + big_t)
    half = (v1 - v0) / 2.0
    # Nodes of [v0, v1] for every customer: shape (customers, nodes).
    v = (v0 + v1)[:, None] / 2.0 + half[:, None] * _NODES[None, :]
    log_integrand = v * slope[:, None] - big_q[:, None] * np.log(upper - lower + np.exp(v))
    with np.errstate(divide="ignore"):
        log_i = logsumexp(log_integrand, axis=1, b=_WEIGHTS[None, :]) + np.log(half)
    return np.asarray(np.where(half > 0, np.log(s) + s * np.log(beta) + log_i, -np.inf), dtype=float)


def _integral_roles(params: tuple[float, float, float, float], x: FloatArray) -> tuple[float, FloatArray, float,
                                                                                         FloatArray]:
    """I = integral of (p + u)^-P (q + u)^-Q du with p the smaller of alpha and beta: (p, 1 - P, q, Q).
    The quadrature runs in v = log(p + u), where the integrand's branch point u = -q sits at
    v = log(q - p) + i pi, a distance pi off the real axis; in log(alpha + u) with alpha > beta it
    would sit on the real axis just below the interval (slow convergence for a recent last purchase)."""
    r, alpha, s, beta = params
    if alpha <= beta:
        return alpha, 1.0 - r - x, beta, np.full(x.shape, s + 1.0)
    return beta, np.full(x.shape, -s), alpha, r + x


def paretonbd_log_likelihood_terms(params: ParetoNbdParams, frequency: ArrayLike, recency: ArrayLike,
                                   age: ArrayLike) -> FloatArray:
    """Each customer's log-likelihood."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    common, alive, dropped = _log_terms(params.as_tuple(), x, t_x, big_t)
    return np.asarray(common + np.logaddexp(alive, dropped), dtype=float)


def paretonbd_log_likelihood(params: ParetoNbdParams, frequency: ArrayLike, recency: ArrayLike,
                             age: ArrayLike) -> float:
    return float(paretonbd_log_likelihood_terms(params, frequency, recency, age).sum())


def _neg_ll_and_grad(log_params: FloatArray, x: FloatArray, t_x: FloatArray, big_t: FloatArray, weights: FloatArray,
                     scale: float) -> tuple[float, FloatArray]:
    """Minus the weighted log-likelihood (the quadrature of `_log_terms`) and its exact gradient in
    log(r, alpha, s, beta) (module docstring), both divided by `scale`; in blocks of BLOCK_ROWS."""
    params = np.exp(log_params)
    total = 0.0
    grad = np.zeros(4)
    for start in range(0, x.size, BLOCK_ROWS):
        rows = slice(start, start + BLOCK_ROWS)
        value, block_grad = _ll_and_grad_block(params, x[rows], t_x[rows], big_t[rows], weights[rows])
        total += value
        grad += block_grad
    grad *= params
    if not np.isfinite(total) or not np.isfinite(grad).all():
        # L-BFGS-B backs off from a step that gives inf; a NaN never leaves this function.
        return 1e300, np.zeros(4)
    return -total / scale, -grad / scale


def _log_integral_and_grad(lower: float, slope: FloatArray, upper: float, big_q: FloatArray, t0: FloatArray,
                           t1: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """log I, I = integral from t0 to t1 of (p + u)^-P (q + u)^-Q du (p = lower, q = upper), by
    Gauss-Legendre in v = log(p + u), and its exact derivatives in p, P, q and Q (module docstring,
    there with p = alpha, P = r + x, q = beta, Q = s + 1); `slope` is 1 - P. Rows with t0 = t1 give
    -inf and 0."""
    e0, e1 = lower + t0, lower + t1
    v0, v1 = np.log(e0), np.log(e1)
    centre, half = (v0 + v1) / 2.0, (v1 - v0) / 2.0
    some = half > 0
    # d centre / d p and d half / d p.
    d_centre = (1.0 / e0 + 1.0 / e1) / 2.0
    d_half = (1.0 / e1 - 1.0 / e0) / 2.0
    v = centre[:, None] + half[:, None] * _NODES[None, :]
    q = np.exp(v)
    q += upper - lower  # q + u_k
    log_q = np.log(q)
    log_f = v * slope[:, None]
    log_f -= big_q[:, None] * log_q
    peak = log_f.max(axis=1)
    pi = np.exp(log_f - peak[:, None])
    pi *= _WEIGHTS[None, :]
    mass = pi.sum(axis=1)
    with np.errstate(divide="ignore"):
        log_i = np.log(mass) + peak + np.log(half)
    pi /= mass[:, None]  # the shares pi_k
    mean_n = pi @ _NODES
    mean_log_q = np.einsum("ij,ij->i", pi, log_q)
    pi /= q
    mean_inv_q = pi.sum(axis=1)
    mean_n_inv_q = pi @ _NODES
    safe_half = np.where(some, half, 1.0)
    k = slope - big_q
    d_p = (d_half / safe_half + k * (d_centre + d_half * mean_n)
           + big_q * (upper - lower) * (d_centre * mean_inv_q + d_half * mean_n_inv_q) + big_q * mean_inv_q)
    d_big_p = -(centre + half * mean_n)
    d_q = -big_q * mean_inv_q
    d_big_q = -mean_log_q
    zero = ~some
    for d in (d_p, d_big_p, d_q, d_big_q):
        d[zero] = 0.0
    return np.where(some, log_i, -np.inf), d_p, d_big_p, d_q, d_big_q


def _ll_and_grad_block(params: FloatArray, x: FloatArray, t_x: FloatArray, big_t: FloatArray,
                       w: FloatArray) -> tuple[float, FloatArray]:
    """The weighted log-likelihood of some rows and its gradient in (r, alpha, s, beta)."""
    r, alpha, s, beta = (float(v) for v in params)
    rx = r + x
    lower, slope, upper, big_q = _integral_roles((r, alpha, s, beta), x)
    log_i, d_lower, d_big_p, d_upper, d_big_q = _log_integral_and_grad(lower, slope, upper, big_q, t_x, big_t)
    if alpha <= beta:
        di_r, di_alpha, di_s, di_beta = d_big_p, d_lower, d_big_q, d_upper
    else:
        di_r, di_alpha, di_s, di_beta = d_big_q, d_upper, d_big_p, d_lower
    dropping = np.isfinite(log_i)
    log_beta, log_s = np.log(beta), np.log(s)
    log_alpha_t = np.log(alpha + big_t)
    common = gammaln(rx) - gammaln(r) + r * np.log(alpha)
    alive = s * log_beta - rx * log_alpha_t - s * np.log(beta + big_t)
    dropped = np.where(dropping, log_s + s * log_beta + log_i, -np.inf)
    log_sum = np.logaddexp(alive, dropped)
    total = float(w @ (common + log_sum))
    wa = w * np.exp(alive - log_sum)
    wd = np.where(dropping, w * np.exp(dropped - log_sum), 0.0)
    g_r = float(w @ (digamma(rx) - digamma(r) + np.log(alpha))) - float(wa @ log_alpha_t) + float(wd @ di_r)
    g_alpha = float(w.sum()) * r / alpha - float(wa @ (rx / (alpha + big_t))) + float(wd @ di_alpha)
    g_s = float(wa @ (log_beta - np.log(beta + big_t))) + float(wd @ (1.0 / s + log_beta + di_s))
    g_beta = float(wa @ (s / beta - s / (beta + big_t))) + float(wd @ (s / beta + di_beta))
    return total, np.array([g_r, g_alpha, g_s, g_beta])


def paretonbd_gradient(params: ParetoNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> FloatArray:
    """Gradient of the total log-likelihood with respect to (r, alpha, s, beta) (for checks)."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    values = np.array(params.as_tuple())
    _, grad_log = _neg_ll_and_grad(np.log(values), x, t_x, big_t, np.ones_like(x), 1.0)
    return np.asarray(-grad_log / values, dtype=float)


def paretonbd_fit(frequency: ArrayLike, recency: ArrayLike, age: ArrayLike, *,
                  weights: ArrayLike | None = None) -> ParetoNbdFit:
    """Maximum-likelihood fit over the distinct (x, t_x, T), weighted by how many customers each
    stands for; raises ModelFitError when the data cannot identify the model.
    `weights`: the rows are already distinct customers' histories, each standing for that many."""
    rows = fit_rows(frequency, recency, age, weights=weights)
    n, n_repeat = rows.n_customers, rows.n_repeat
    if n < MIN_CUSTOMERS:
        raise ModelFitError(PARETO_TOO_FEW_CUSTOMERS, minimum=MIN_CUSTOMERS, count=n)
    if n_repeat == 0:
        raise ModelFitError(PARETO_NO_REPEAT_BUYERS)
    x_u, tx_u, t_u, weights = rows.x, rows.t_x, rows.big_t, rows.weights
    args = (x_u, tx_u, t_u, weights)
    mean_age = float(np.average(t_u, weights=weights))
    starts = [np.log([1.0, max(mean_age, 1e-3), 1.0, max(mean_age, 1e-3)]), np.log([0.5, 1.0, 0.5, 1.0])]
    result = minimize_from_starts(_neg_ll_and_grad, starts, args=(*args, rows.total), n_params=4, log_bound=LOG_BOUND)
    if not is_stationary(result):
        raise ModelFitError(PARETO_NOT_CONVERGED, reason=str(result.message))
    edge = parameter_at_bound(PARAM_NAMES, result.x, limit=LOG_BOUND - BOUND_MARGIN)
    if edge is not None:
        raise ModelFitError(PARETO_AT_BOUND, name=edge[0], value=edge[1])
    params = ParetoNbdParams(*(float(v) for v in np.exp(result.x)))
    hessian = hessian_from_gradient(lambda v: _neg_ll_and_grad(v, *args, 1.0)[1], np.asarray(result.x, dtype=float))
    covariance = log_covariance(hessian)
    return ParetoNbdFit(
        params=params,
        log_likelihood=-float(result.fun) * rows.total, n_customers=n, n_repeat_customers=n_repeat,
        n_distinct=int(x_u.size), iterations=int(result.nit), function_evaluations=int(result.nfev),
        standard_errors=None if covariance is None else natural_standard_errors(params.as_tuple(), covariance),  # type: ignore[arg-type]
        log_covariance=covariance,
        warnings=fit_warnings("Pareto/NBD", PARAM_NAMES, params.as_tuple(), covariance),
    )


def paretonbd_p_alive(params: ParetoNbdParams, frequency: ArrayLike, recency: ArrayLike, age: ArrayLike) -> FloatArray:
    """P(alive at T | x, t_x, T): the alive term's share of the likelihood. Computed once per
    distinct (x, t_x, T) and spread back to the customers (the quadrature is the cost)."""
    x, t_x, big_t = _as_inputs(frequency, recency, age)
    (x_u, tx_u, t_u), inverse, _ = distinct_rows(x, t_x, big_t)
    _common, alive, dropped = _log_terms(params.as_tuple(), x_u, tx_u, t_u)
    return np.asarray(np.exp(alive - np.logaddexp(alive, dropped)), dtype=float)[inverse]


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
