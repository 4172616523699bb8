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
precision, and log I comes from a log-sum-exp, so neither term under- or overflows for heavy
buyers or long histories. When beta < alpha the roles swap (v = log(beta + u), exponents s + 1
and r + x), which keeps the integrand's branch point off the real axis.

How many nodes a row needs grows with the half-width h of [v0, v1] and with how far the
integrand's exponential part e^((1 - P - Q) v) falls over it, B = (P + Q - 1) h (P = r + x,
Q = s + 1, or swapped): measured against composite references over h up to 12 and B up to 1,280
(peaks of the log-concave integrand anywhere in the interval), 1e-13 needs about
max(4.1 sqrt(B), 4 h) + 4 nodes; each row gets 1.25 (3 + 4.1 sqrt(B) + 4 h), rounded up to one of
RULE_SIZES (8 to 512; a row beyond the largest gets the largest). A CDNOW row needs 8 to 24, a
heavy buyer who stopped long ago a hundred or more (a fixed 48-node rule was off by 5e-4 there).
Rows are grouped by rule (`_blocks`), small groups joining the next larger rule, and computed as
(nodes x rows) arrays of at most BLOCK_CELLS values.

P(alive) is the share of the first term in L; E[Y(t) | x, t_x, T] follows in closed form.

The fit maximises the weighted log-likelihood of the distinct (x, t_x, T) over the log shapes and
log means (log r, log r / alpha, log s, log s / beta) with L-BFGS-B and the exact gradient of the
quadrature above, and takes the standard errors from forward differences of that gradient
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

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, gammaln

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
# Gauss-Legendre rules the quadrature picks from, per row (`rule_sizes`), and the (nodes x rows)
# cells per block: a block's arrays stay within the processor's cache (about 130 kB each) whatever
# the number of customers.
RULE_SIZES = np.array([8, 12, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 128, 160, 192, 256, 320, 384, 512])
_RULES = {int(n): np.polynomial.legendre.leggauss(int(n)) for n in RULE_SIZES}
BLOCK_CELLS = 16_384
MERGE_CELLS = 2_048


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
    lower, slope, upper, big_q = _integral_roles(params, x)
    log_i = _log_integral(lower, slope, upper, big_q, t_x, big_t)
    dropped = np.where(np.isfinite(log_i), np.log(s) + s * np.log(beta) + log_i, -np.inf)
    return common, alive, np.asarray(dropped, dtype=float)


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
    log(r, alpha, s, beta) (module docstring), both divided by `scale`."""
    params = np.exp(log_params)
    total, grad = _ll_and_grad(params, x, t_x, big_t, weights)
    grad *= params
    if not np.isfinite(total) or not np.isfinite(grad).all():
        # L-BFGS-B backs off from a step that gives inf; a NaN never leaves this function.
        return 1e300, np.zeros(4)
    return -total / scale, -grad / scale


# log(r, alpha, s, beta) = _FROM_MEANS @ (log r, log(r / alpha), log s, log(s / beta)).
_FROM_MEANS = np.array([[1.0, 0.0, 0.0, 0.0], [1.0, -1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 1.0, -1.0]])
_TO_MEANS = np.linalg.inv(_FROM_MEANS)


def _neg_ll_and_grad_means(coordinates: FloatArray, *args: Any) -> tuple[float, FloatArray]:
    """`_neg_ll_and_grad` in the optimiser's coordinates (log shapes and log means, `paretonbd_fit`)."""
    value, grad = _neg_ll_and_grad(_FROM_MEANS @ coordinates, *args)
    return value, _FROM_MEANS.T @ grad


def rule_sizes(half: FloatArray, decay: FloatArray) -> NDArray[np.uint8]:
    """The index in RULE_SIZES of the Gauss-Legendre rule each row's integral gets (module
    docstring): `half` the half-width of [v0, v1], `decay` = (P + Q - 1) half, by how much the
    integrand's exponential part e^((1 - P - Q) v) falls across half the interval. Rows that need
    more than the largest rule get the largest."""
    with np.errstate(invalid="ignore"):
        need = 1.25 * (3.0 + 4.1 * np.sqrt(np.maximum(decay, 0.0)) + 4.0 * half)
    return np.minimum(np.searchsorted(RULE_SIZES, need), RULE_SIZES.size - 1).astype(np.uint8)


def _blocks(index: NDArray[np.uint8]) -> tuple[NDArray[np.intp], list[tuple[int, slice]]]:
    """The rows in the order of their rules, and for each block of that order its rule's size and
    its slice, at most BLOCK_CELLS // nodes rows. A group of rows whose rule is one size below the
    next group's joins that group when the extra nodes cost fewer than MERGE_CELLS cells: each
    block has a fixed cost (a few dozen array operations), and more nodes only add accuracy.
    Successive evaluations of a fit mostly give the rows the same rules, so the last few layouts
    are remembered (by the rules' bytes; the layout is a function of them alone) when there are
    few rows, as in a fit; a bootstrap's millions of (customer, draw) pairs are laid out afresh."""
    index = np.asarray(index, dtype=np.uint8)
    if index.size > _REMEMBERED_ROWS:
        order, blocks = _layout_of(index)
    else:
        order, blocks = _layout(index.tobytes())
    return order, list(blocks)


_REMEMBERED_ROWS = 65_536


@functools.lru_cache(maxsize=8)
def _layout(key: bytes) -> tuple[NDArray[np.intp], tuple[tuple[int, slice], ...]]:
    order, blocks = _layout_of(np.frombuffer(key, dtype=np.uint8))
    order.flags.writeable = False
    return order, blocks


def _layout_of(index: NDArray[np.uint8]) -> tuple[NDArray[np.intp], tuple[tuple[int, slice], ...]]:
    order = np.argsort(index, kind="stable")  # a radix sort for one-byte keys
    sizes = RULE_SIZES[index[order]]
    starts = np.flatnonzero(np.diff(sizes)) + 1
    firsts, ends = np.concatenate(([0], starts)), np.concatenate((starts, [order.size]))
    groups: list[tuple[int, int, int]] = []  # (first row, end, nodes)
    carried = 0  # rows of the groups below carried into this one
    for g, (first, end) in enumerate(zip(firsts, ends, strict=True)):
        rows = int(end - first) + carried
        nodes = int(sizes[first])
        if g + 1 < firsts.size and rows * (int(sizes[firsts[g + 1]]) - nodes) < MERGE_CELLS:
            carried = rows
            continue
        groups.append((int(end) - rows, int(end), nodes))
        carried = 0
    blocks: list[tuple[int, slice]] = []
    for first, end, nodes in groups:
        step = max(1, BLOCK_CELLS // nodes)
        blocks.extend((nodes, slice(start, min(start + step, end))) for start in range(first, end, step))
    return order, tuple(blocks)


def _quadrature(centre: FloatArray, half: FloatArray, slope: FloatArray, big_q: FloatArray,
                gap: float | FloatArray, moments: bool) -> tuple[FloatArray, ...]:
    """log of sum_k w_k f(v_k) over the rows' nodes v_k = centre + half n_k (the integrand
    f = exp(slope v - Q log(gap + e^v)), `gap` = q - p, one for all rows or one per row), each row
    with the rule `rule_sizes` gives it; with `moments`, also the means of n_k, log q_k, 1 / q_k
    and n_k / q_k (q_k = gap + e^v_k) over the shares pi_k = w_k f(v_k) / sum_j w_j f(v_j), which
    the derivatives need."""
    order, blocks = _blocks(rule_sizes(half, (big_q - slope) * half))
    centre, half, slope, big_q = centre[order], half[order], slope[order], big_q[order]
    gaps = np.asarray(gap, dtype=float)
    per_row = gaps.ndim > 0
    if per_row:
        gaps = gaps[order]
    out = np.empty((5 if moments else 1, centre.size))
    for size, rows in blocks:
        # (nodes x rows) arrays: the reductions over the nodes run along the long axis.
        nodes, weights = _RULES[size]
        v = np.multiply.outer(nodes, half[rows])
        v += centre[rows]
        q = np.exp(v)
        q += gaps[rows] if per_row else gaps
        log_q = np.log(q)
        log_f = v * slope[rows]
        log_f -= big_q[rows] * log_q
        peak = log_f.max(axis=0)
        log_f -= peak
        f = np.exp(log_f)
        mass = weights @ f
        out[0, rows] = np.log(mass) + peak
        if moments:
            weighted_nodes = weights * nodes
            out[1, rows] = (weighted_nodes @ f) / mass
            log_q *= f
            out[2, rows] = (weights @ log_q) / mass
            f /= q
            out[3, rows] = (weights @ f) / mass
            out[4, rows] = (weighted_nodes @ f) / mass
    result = np.empty_like(out)
    result[:, order] = out
    return tuple(result)


def _log_integral(lower: float | FloatArray, slope: FloatArray, upper: float | FloatArray, big_q: FloatArray,
                  t0: FloatArray, t1: FloatArray) -> FloatArray:
    """log I, I = integral from t0 to t1 of (p + u)^-P (q + u)^-Q du (p = lower, q = upper, one for
    all rows or one per row; `slope` is 1 - P), by Gauss-Legendre in v = log(p + u); -inf where
    t0 = t1."""
    v0, v1 = np.log(lower + t0), np.log(lower + t1)
    half = (v1 - v0) / 2.0
    some = half > 0
    log_i = np.full(t0.shape, -np.inf)
    if some.any():
        gap = np.asarray(upper - lower, dtype=float)
        (log_mass,) = _quadrature(((v0 + v1) / 2.0)[some], half[some], slope[some], big_q[some],
                                  gap[some] if gap.ndim else gap, moments=False)
        log_i[some] = log_mass + np.log(half[some])
    return log_i


def _log_integral_and_grad(lower: float, slope: FloatArray, upper: float, big_q: FloatArray, t0: FloatArray,
                           t1: FloatArray) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
    """log I (as `_log_integral`) and its exact derivatives in p, P, q and Q (module docstring,
    there with p = alpha, P = r + x, q = beta, Q = s + 1). Rows with t0 = t1 give -inf and 0."""
    e0, e1 = lower + t0, lower + t1
    v0, v1 = np.log(e0), np.log(e1)
    centre, half = (v0 + v1) / 2.0, (v1 - v0) / 2.0
    log_i = np.full(t0.shape, -np.inf)
    d_p, d_big_p, d_q, d_big_q = (np.zeros(t0.shape) for _ in range(4))
    dropping = half > 0
    if not dropping.any():
        return log_i, d_p, d_big_p, d_q, d_big_q
    some: NDArray[np.bool_] | slice = dropping
    if dropping.all():  # the usual case: no copies
        some = slice(None)
    else:
        centre, half, e0, e1 = centre[some], half[some], e0[some], e1[some]
    slope_s, q_s = slope[some], big_q[some]
    log_mass, mean_n, mean_log_q, mean_inv_q, mean_n_inv_q = _quadrature(centre, half, slope_s, q_s, upper - lower,
                                                                          moments=True)
    log_i[some] = log_mass + np.log(half)
    # d centre / d p and d half / d p.
    d_centre = (1.0 / e0 + 1.0 / e1) / 2.0
    d_half = (1.0 / e1 - 1.0 / e0) / 2.0
    k = slope_s - q_s
    d_p[some] = (d_half / half + k * (d_centre + d_half * mean_n)
                 + q_s * (upper - lower) * (d_centre * mean_inv_q + d_half * mean_n_inv_q) + q_s * mean_inv_q)
    d_big_p[some] = -(centre + half * mean_n)
    d_q[some] = -q_s * mean_inv_q
    d_big_q[some] = -mean_log_q
    return log_i, d_p, d_big_p, d_q, d_big_q


def _ll_and_grad(params: FloatArray, x: FloatArray, t_x: FloatArray, big_t: FloatArray,
                 w: FloatArray) -> tuple[float, FloatArray]:
    """The weighted log-likelihood of the rows and its gradient in (r, alpha, s, beta)."""
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
    mean_age = max(float(np.average(t_u, weights=weights)), 1e-3)
    # First from the observed purchase rate (repeat purchases per unit of age) and a lifetime of
    # about the mean age: on day-level data this saves a third of the evaluations.
    rate = float(np.average(x_u, weights=weights)) / mean_age
    starts = [np.log([1.0, 1.0 / rate, 1.0, mean_age]), np.log([1.0, mean_age, 1.0, mean_age]),
              np.log([0.5, 1.0, 0.5, 1.0])]
    # The optimiser works on each Gamma's log shape and log mean (r / alpha, s / beta): the data pin
    # the means down far better than the shapes, and in these coordinates the ridge of the
    # likelihood along s ~ beta (and r ~ alpha) lies along an axis, which L-BFGS-B follows in
    # fewer steps (25 evaluations on CDNOW became 20). Twice the bound on the means' coordinates
    # lets every (r, alpha, s, beta) within +-LOG_BOUND be reached; the edge check is on the
    # parameters themselves.
    result = minimize_from_starts(_neg_ll_and_grad_means, [_TO_MEANS @ v for v in starts],
                                  args=(*args, rows.total), n_params=4, log_bound=2.0 * LOG_BOUND)
    if not is_stationary(result):
        raise ModelFitError(PARETO_NOT_CONVERGED, reason=str(result.message))
    log_params = _FROM_MEANS @ np.asarray(result.x, dtype=float)
    edge = parameter_at_bound(PARAM_NAMES, log_params, limit=LOG_BOUND - BOUND_MARGIN)
    if edge is not None:
        raise ModelFitError(PARETO_AT_BOUND, name=edge[0], value=edge[1])
    params = ParetoNbdParams(*(float(v) for v in np.exp(log_params)))
    # The optimiser's last gradient is the one at the estimate (in its coordinates, per customer).
    gradient_at = np.linalg.solve(_FROM_MEANS.T, np.asarray(result.jac, dtype=float)) * rows.total
    hessian = hessian_from_gradient(lambda v: _neg_ll_and_grad(v, *args, 1.0)[1], log_params,
                                    gradient_at=gradient_at)
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


def paretonbd_p_alive_draws(draws: FloatArray, frequency: FloatArray, recency: FloatArray,
                            age: FloatArray) -> FloatArray:
    """P(alive at T) of each customer (rows) under each of a bootstrap's parameter draws (columns;
    `draws` is (k x 4): r, alpha, s, beta), as `paretonbd_p_alive` gives for one draw: one
    quadrature over every (customer, draw) pair with its own parameters (the roles of the integral
    swapped where a draw has alpha > beta). Inputs as checked by the caller; the caller blocks the
    customers so that customers x draws stays at a million or so."""
    r, alpha, s, beta = (np.asarray(draws[:, i], dtype=float)[None, :] for i in range(4))
    x, t_x, big_t = frequency[:, None], recency[:, None], age[:, None]
    shape = (frequency.size, draws.shape[0])
    swap = np.broadcast_to(alpha > beta, shape)
    lower = np.where(swap, beta, alpha)
    upper = np.where(swap, alpha, beta)
    slope = np.where(swap, -s, 1.0 - r - x)
    big_q = np.where(swap, r + x, s + 1.0)
    log_i = _log_integral(lower.ravel(), slope.ravel(), upper.ravel(), big_q.ravel(),
                          np.broadcast_to(t_x, shape).ravel(), np.broadcast_to(big_t, shape).ravel()).reshape(shape)
    log_beta = np.log(beta)
    alive = s * log_beta - (r + x) * np.log(alpha + big_t) - s * np.log(beta + big_t)
    with np.errstate(divide="ignore"):
        dropped = np.log(s) + s * log_beta + log_i
    return np.asarray(np.exp(alive - np.logaddexp(alive, dropped)), dtype=float)


def paretonbd_horizon_draws(draws: FloatArray, age: FloatArray, *, times: FloatArray,
                            coefficients: FloatArray) -> FloatArray:
    """For each age T (rows) and parameter draw (columns; `draws` (k x 4) as above):
    sum_m c_m (beta + T) g(t_m), g(t) = [1 - ((beta + T) / (beta + T + t))^(s - 1)] / (s - 1) (its limit
    log(1 + t / (beta + T)) at s = 1), the coefficients c_m of the months t_m (clv.horizon_coefficients).
    A customer's discounted expected purchases if alive are (r + x) / (alpha + T) times it
    (`paretonbd_conditional_expected_purchases`), so one sum per age serves every purchase count."""
    s, beta = draws[:, 2][None, :], draws[:, 3][None, :]
    k = s - 1.0
    near_one = np.abs(k) < 1e-12
    safe_k = np.where(near_one, 1.0, k)
    scale = beta + age[:, None]
    total = np.zeros((age.size, draws.shape[0]))
    for t, c in zip(times, coefficients, strict=True):
        if c == 0.0:
            continue
        log_ratio = np.log1p(t / scale)
        total += c * np.where(near_one, log_ratio, -np.expm1(-safe_k * log_ratio) / safe_k)
    return np.asarray(total * scale, dtype=float)


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
