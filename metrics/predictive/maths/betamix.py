"""Expected purchases of a customer who is alive, under BG/NBD-type drop-out, finite for every a, b.

While alive a customer buys at rate lambda ~ Gamma(r', alpha') and drops out after each purchase
with probability p ~ Beta(a, b') (for BG/NBD after x repeat purchases by T: r' = r + x,
alpha' = alpha + T, b' = b + x; MBG/NBD has b' = b + x + 1). Given lambda and p the expected
purchases in the next t are (1 - exp(-lambda p t)) / p; over lambda,

    E[Y(t) | alive] = E_p[ g(p) ],   g(p) = (1 - (1 + p tau)^-r') / p,   tau = t / alpha'.

That is the textbook (a + b' - 1) / (a - 1) [1 - (1 - z)^r' 2F1(r', b'; a + b' - 1; z)], z = tau / (1 + tau),
without its two weak points: the factor 1 / (a - 1) (a pole at a = 1 that the hypergeometric
term cancels) and the Gauss series, which overflows or loses every digit when a or b' is large
or z is near 1. g is bounded (0 < g <= r' tau) and smooth, so the expectation is a well-conditioned
integral of positive terms, computed as follows for each distinct (r', a, b'):

1. In u = logit(p) the Beta density is log-concave and analytic in the strip |Im u| < pi, and so
   is g; composite Gauss-Legendre over the part of the line that carries the mass converges
   fast. Panels are 2 wide, or as narrow as the density's spread when a and b' are large.
2. The far tails (the density decays only like p^a or (1 - p)^b', slowly for a small a or b')
   are integrated in closed form: there g is replaced by its first-order Taylor term at 0 or 1,
   exact to ~1e-16, and the tail's mass and mean come from the incomplete beta function.

Its relative error is below ~1e-12 over a, b' in [1e-3, 1e6] and horizons to 600 months
(tests/metrics/predictive/test_maths_stability.py checks it against mpmath at 50 digits).

The bootstrap of the CLV intervals needs the horizon sums of one purchase count under hundreds of
parameter draws (`beta_mixture_horizon_sums_draws`, per count `beta_mixture_horizon_sums_by_count`).
There the work is done for all draws at once, as arrays with a row per draw:

1. each draw's rule (steps 1-2 above) is built as in `_rule`, the bisections and tails as arrays;
   each row keeps its own panels (padded with zero weights to the longest row), and rows are applied
   in blocks of like node counts, of at most _DRAW_BLOCK_CELLS values;
2. each draw's E(tau) is interpolated in w = log tau (log E, Chebyshev, analytic in |Im w| < pi)
   over every t / scale the sums need, from a few dozen quadratures per draw instead of one per
   (age node, month), and checked against the quadrature at the ends and between its nodes;
3. the sums at the nodes of one interpolant in log(scale) spanning every draw's ages, and at check
   ages, follow from step 2: the points are the same for all draws, so they are one matrix product;
   each draw's interpolant is then checked there and evaluated at its own ages.
Both interpolants aim e^-8 beyond `digits` and must pass their checks to a tenth of `check`; a
draw that fails any check, and every draw of a count with at most _DIRECT_AGES ages, is summed
directly. The sums agree with `beta_mixture_horizon_sums` draw by draw to ~4e-8 at the coarse
precision (1e-12 at the precise one), where each is ~1e-7 from the exact value.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import betainc, betaln, polygamma

FloatArray = NDArray[np.float64]



@dataclass(frozen=True)
class Precision:
    """How a rule is built: Gauss-Legendre nodes per panel (panels at most 2 wide in u), where the
    interior is cut (the log-density, with g's largest growth, this far below its peak) and where
    the tails start (p tau r' below `taylor`, where g's first-order Taylor term is exact to ~taylor^2);
    `check`: how closely an interpolant over the ages must agree with the direct sums to be used,
    `digits`: the interpolant's aim, e^-digits of relative error, which sets its degree."""

    nodes: int
    log_drop: float
    taylor: float
    check: float
    digits: float


# Full double precision (~1e-14), for the stored predictions.
PRECISE = Precision(nodes=12, log_drop=46.0, taylor=1e-8, check=1e-11, digits=36.0)
# ~1e-7, for the thousands of evaluations of a parametric bootstrap.
COARSE = Precision(nodes=6, log_drop=24.0, taylor=1e-5, check=1e-6, digits=18.0)
_PANEL_WIDTH = 2.0
# At most this many panels per rule, whatever the parameters (memory and time stay bounded).
_MAX_PANELS = 256
_SPIKE_SPREAD = 0.1


@dataclass(frozen=True)
class _Rule:
    """Quadrature of E_p[g(p)] for p ~ Beta(a, b') over the interior, and the two tails'
    mass and first moment (in p for the left, in 1 - p for the right)."""

    p: FloatArray  # interior nodes
    weights: FloatArray  # density x quadrature weight
    left_mass: float
    left_p: float  # E[p; p < eps]
    right_mass: float
    right_q: float  # E[1 - p; 1 - p < delta]


def _log_density_u(u: float, a: float, b: float, log_beta: float) -> float:
    """log of the Beta(a, b) density of u = logit(p): a u - (a + b) log(1 + e^u) - ln B(a, b)
    (scalar, in plain floats: the bisection below calls it thousands of times)."""
    softplus = max(u, 0.0) + math.log1p(math.exp(-abs(u)))
    return a * u - (a + b) * softplus - log_beta


def _edge(a: float, b: float, log_beta: float, peak: float, level: float, side: float) -> float:
    """The point beyond the mode on `side` (-1 left, +1 right) where the log-density falls to
    `level` (concave, so bisection on a bracket found by doubling; to 1e-9 of the bracket)."""
    step = 1.0
    while _log_density_u(peak + side * step, a, b, log_beta) > level and step < 1e9:
        step *= 2.0
    lo, hi = 0.0, step
    for _ in range(32):
        mid = (lo + hi) / 2.0
        if _log_density_u(peak + side * mid, a, b, log_beta) > level:
            lo = mid
        else:
            hi = mid
    return float(peak + side * hi)


@functools.lru_cache(maxsize=8)
def _gauss_legendre(nodes: int) -> tuple[FloatArray, FloatArray]:
    x, w = np.polynomial.legendre.leggauss(nodes)
    return x, w


def _rule(r: float, a: float, b: float, tau_max: float, precision: Precision = PRECISE) -> _Rule:
    log_beta = float(betaln(a, b))
    mode = float(np.log(a) - np.log(b))
    top = float(_log_density_u(mode, a, b, log_beta))
    # On the left g grows towards g(0) = r' tau: the cut allows for that growth.
    growth = float(np.log1p(r * tau_max))
    lo = _edge(a, b, log_beta, mode, top - precision.log_drop - growth, -1.0)
    hi = _edge(a, b, log_beta, mode, top - precision.log_drop, 1.0)
    eps = precision.taylor / (tau_max * (r + 2.0) + 1.0)
    delta = precision.taylor / (r + 2.0)
    u_left = float(np.log(eps) - np.log1p(-eps))
    u_right = float(np.log1p(-delta) - np.log(delta))
    left_mass = left_p = right_mass = right_q = 0.0
    if lo < u_left:
        lo = u_left
        left_mass = float(betainc(a, b, eps))
        left_p = float(a / (a + b) * betainc(a + 1.0, b, eps))
    if hi > u_right:
        hi = u_right
        right_mass = float(betainc(b, a, delta))
        right_q = float(b / (a + b) * betainc(b + 1.0, a, delta))
    spread = float(np.sqrt(polygamma(1, a) + polygamma(1, b)))
    if spread < _SPIKE_SPREAD:
        # A spike (a and b both above ~100): nearly normal in u, so nothing lies beyond ~14 spreads
        # (e^-98, more than g's growth can make up); the cut found above can be wider than that by
        # rounding alone when a ~ 1e12.
        lo, hi = max(lo, mode - 14.0 * spread), min(hi, mode + 14.0 * spread)
    width = max(min(_PANEL_WIDTH, spread), (hi - lo) / _MAX_PANELS)
    panels = max(1, int(np.ceil((hi - lo) / width)))
    edges = np.linspace(lo, hi, panels + 1)
    half = (edges[1:] - edges[:-1]) / 2.0
    gl_x, gl_w = _gauss_legendre(precision.nodes)
    u = ((edges[1:] + edges[:-1]) / 2.0)[:, None] + half[:, None] * gl_x[None, :]
    w = half[:, None] * gl_w[None, :]
    u, w = u.ravel(), w.ravel()
    # The density relative to its mode, a (u - m) - (a + b) log(1 + p_m expm1(u - m)): no large terms
    # cancel, so it keeps its digits when a or b is 1e6 (the plain form loses ~1e-9). The interior's
    # mass is then set from the tails' (the total is 1), which removes the error of ln B(a, b).
    offset = u - mode
    p_mode = a / (a + b)
    relative = a * offset - (a + b) * np.log1p(p_mode * np.expm1(offset))
    weights = w * np.exp(relative - relative.max())
    weights *= (1.0 - left_mass - right_mass) / weights.sum()
    # p = 1 / (1 + e^-u), written so that neither side loses digits.
    p = np.exp(-np.logaddexp(0.0, -u))
    keep = weights > 0
    return _Rule(p[keep], weights[keep], left_mass, left_p, right_mass, right_q)


def _g(p: FloatArray, r: float, tau: FloatArray) -> FloatArray:
    """(1 - (1 + p tau)^-r) / p, with every digit for small p tau."""
    return np.asarray(-np.expm1(-r * np.log1p(p * tau)) / p, dtype=float)


def _apply(rule: _Rule, r: float, tau: FloatArray) -> FloatArray:
    """E_p[g(p)] for each tau (1-d) under one rule."""
    values = np.empty(tau.size)
    # Row blocks keep the (rows x nodes) temporary small.
    block = max(1, 1_000_000 // max(rule.p.size, 1))
    for start in range(0, tau.size, block):
        t = tau[start:start + block]
        values[start:start + block] = _g(rule.p[None, :], r, t[:, None]) @ rule.weights
    if rule.left_mass > 0:
        # g(p) ~ r tau - r (r + 1) tau^2 p / 2 near 0.
        values += rule.left_mass * r * tau - rule.left_p * r * (r + 1.0) * tau**2 / 2.0
    if rule.right_mass > 0:
        # g(p) ~ g(1) - g'(1) (1 - p) near 1, g'(1) = r tau (1 + tau)^-(r + 1) - g(1).
        g1 = -np.expm1(-r * np.log1p(tau))
        slope = r * tau * np.exp(-(r + 1.0) * np.log1p(tau)) - g1
        values += rule.right_mass * g1 - rule.right_q * slope
    return values


def beta_mixture_expected_purchases(
    *, shape: ArrayLike, tau: ArrayLike, a: float, b: ArrayLike, precision: Precision = PRECISE
) -> FloatArray:
    """E_p[(1 - (1 + p tau)^-shape) / p] for p ~ Beta(a, b), element by element (module docstring).

    `shape` (r'), `tau` (t / alpha') and `b` (b') are arrays of one shape; the rule is built once
    per distinct (shape, b), so pass whole columns at once."""
    r_all, tau_all, b_all = np.broadcast_arrays(
        np.asarray(shape, dtype=float), np.asarray(tau, dtype=float), np.asarray(b, dtype=float))
    out = np.zeros(r_all.shape, dtype=float)
    flat_tau, flat_out = tau_all.ravel(), out.reshape(-1)
    distinct, index = np.unique(np.stack([r_all.ravel(), b_all.ravel()], axis=1), axis=0, return_inverse=True)
    index = index.ravel()
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(distinct.shape[0] + 1))
    for k, (r, bk) in enumerate(distinct):
        rows = order[bounds[k]:bounds[k + 1]]
        tau_k = flat_tau[rows]
        rule = _rule(float(r), float(a), float(bk), float(max(tau_k.max(), 1e-300)), precision)
        flat_out[rows] = _apply(rule, float(r), tau_k)
    return out


def beta_mixture_horizon_sums(
    *, shape: float, a: float, b: float, scale: ArrayLike, times: ArrayLike, coefficients: ArrayLike,
    precision: Precision = PRECISE,
) -> FloatArray:
    """S[i, j] = sum over k of coefficients[k, j] x E(times[k] / scale[i]), E the expectation of
    `beta_mixture_expected_purchases` with one (shape, a, b): for one purchase count x of BG/NBD,
    scale = alpha + T of each distinct age, times the month ends, and columns such as the
    discounted monthly increments (predicted CLV) or the 12-month total. Every S must be > 0.

    S is an analytic function of v = log(scale) in the strip |Im v| < pi (E is singular only
    where t / scale <= -1), so with many ages it is interpolated: a Chebyshev interpolant of
    log S in v, of a degree the strip's width calls for, is checked against the direct sum at
    ages spread over the data, and used only if it agrees there to `precision.check`; otherwise
    (and with few ages) every age is summed directly."""
    scale_arr = np.asarray(scale, dtype=float)
    t_arr = np.asarray(times, dtype=float)
    c = np.asarray(coefficients, dtype=float)
    rule = _rule(shape, a, b, float(t_arr.max() / scale_arr.min()), precision)

    def direct(s: FloatArray) -> FloatArray:
        tau = (t_arr[None, :] / s[:, None]).ravel()
        return np.asarray(_apply(rule, shape, tau).reshape(s.size, t_arr.size) @ c, dtype=float)

    v = np.log(scale_arr)
    lo, hi = float(v.min()), float(v.max())
    width = hi - lo
    ratio = 2.0 * np.pi / max(width, 1e-12)
    degree = int(np.ceil(precision.digits / np.log(ratio + np.sqrt(1.0 + ratio**2)))) + 4
    degree = min(max(degree, 8), _MAX_DEGREE)
    if scale_arr.size <= 3 * degree:
        return direct(scale_arr)
    nodes = np.cos(np.pi * (np.arange(degree) + 0.5) / degree)
    at_nodes = direct(np.exp(lo + (nodes + 1.0) * width / 2.0))
    if not (at_nodes > 0).all():
        return direct(scale_arr)
    coef = np.polynomial.chebyshev.chebfit(nodes, np.log(at_nodes), degree - 1)
    checks = np.quantile(scale_arr, np.linspace(0.03, 0.97, _CHECKS))
    reference = direct(checks)
    guess = np.exp(np.polynomial.chebyshev.chebval((2.0 * (np.log(checks) - lo) / width - 1.0), coef).T)
    if not (np.abs(guess - reference) <= precision.check * np.abs(reference)).all():
        return direct(scale_arr)
    return np.asarray(np.exp(np.polynomial.chebyshev.chebval(2.0 * (v - lo) / width - 1.0, coef).T), dtype=float)


# The interpolant is used only if it agrees with the direct sum within the precision's `check`
# at _CHECKS ages.
_MAX_DEGREE = 160
_CHECKS = 9


# Vectorised over parameter draws (the bootstrap of the CLV intervals): the same rules and
# interpolants as above, one per draw, built and applied as arrays with a row per draw.
# The (draws x points x nodes) temporaries are cut into blocks of at most this many values (16 MB).
_DRAW_BLOCK_CELLS = 2_000_000
# Up to this many ages the sums of every draw are direct (the interpolants' nodes would cost more).
_DIRECT_AGES = 4
# The two interpolants of the draws (of E in log tau, then of S in log scale) aim this much further
# than `digits` and must each pass their checks to this share of `check`: together they stay well
# within the single interpolant's error of beta_mixture_horizon_sums.
_EXTRA_DIGITS = 8.0
_CHECK_SHARE = 0.1


@dataclass(frozen=True)
class _Rules:
    """The rules of `_rule` for many (r', a, b') at once, row d draw d's: each draw keeps its own
    panels; rows with fewer panels than the longest are padded with zero-weight nodes at p = 1."""

    p: FloatArray  # (draws x nodes)
    weights_over_p: FloatArray  # density x quadrature weight / p
    nodes: NDArray[np.intp]  # (draws,) each row's own nodes, the first ones (the rest are padding)
    left_mass: FloatArray  # (draws,)
    left_p: FloatArray
    right_mass: FloatArray
    right_q: FloatArray


def _log_density_u_rows(u: FloatArray, a: FloatArray, b: FloatArray, log_beta: FloatArray) -> FloatArray:
    """`_log_density_u` element by element."""
    softplus = np.maximum(u, 0.0) + np.log1p(np.exp(-np.abs(u)))
    return np.asarray(a * u - (a + b) * softplus - log_beta, dtype=float)


def _edges(a: FloatArray, b: FloatArray, log_beta: FloatArray, peak: FloatArray, level: FloatArray,
           side: float) -> FloatArray:
    """`_edge` for every row at once (the same doubling and bisection steps)."""
    step = np.ones_like(a)
    growing = np.ones(a.shape, dtype=bool)
    while growing.any():
        growing &= (_log_density_u_rows(peak + side * step, a, b, log_beta) > level) & (step < 1e9)
        step = np.where(growing, step * 2.0, step)
    lo, hi = np.zeros_like(a), step
    for _ in range(32):
        mid = (lo + hi) / 2.0
        inside = _log_density_u_rows(peak + side * mid, a, b, log_beta) > level
        lo, hi = np.where(inside, mid, lo), np.where(inside, hi, mid)
    return np.asarray(peak + side * hi, dtype=float)


def _rules(r: FloatArray, a: FloatArray, b: FloatArray, tau_max: FloatArray, precision: Precision) -> _Rules:
    """`_rule` for each row of (r, a, b, tau_max), as arrays (see `_rule` for the reasons of each step)."""
    log_beta = np.asarray(betaln(a, b), dtype=float)
    mode = np.log(a) - np.log(b)
    top = _log_density_u_rows(mode, a, b, log_beta)
    growth = np.log1p(r * tau_max)
    lo = _edges(a, b, log_beta, mode, top - precision.log_drop - growth, -1.0)
    hi = _edges(a, b, log_beta, mode, top - precision.log_drop, 1.0)
    eps = precision.taylor / (tau_max * (r + 2.0) + 1.0)
    delta = precision.taylor / (r + 2.0)
    u_left = np.log(eps) - np.log1p(-eps)
    u_right = np.log1p(-delta) - np.log(delta)
    left, right = lo < u_left, hi > u_right
    lo, hi = np.where(left, u_left, lo), np.where(right, u_right, hi)
    left_mass = np.where(left, betainc(a, b, eps), 0.0)
    left_p = np.where(left, a / (a + b) * betainc(a + 1.0, b, eps), 0.0)
    right_mass = np.where(right, betainc(b, a, delta), 0.0)
    right_q = np.where(right, b / (a + b) * betainc(b + 1.0, a, delta), 0.0)
    spread = np.sqrt(polygamma(1, a) + polygamma(1, b))
    spike = spread < _SPIKE_SPREAD
    lo = np.where(spike, np.maximum(lo, mode - 14.0 * spread), lo)
    hi = np.where(spike, np.minimum(hi, mode + 14.0 * spread), hi)
    width = np.maximum(np.minimum(_PANEL_WIDTH, spread), (hi - lo) / _MAX_PANELS)
    panels = np.maximum(1, np.ceil((hi - lo) / width)).astype(int)
    index = np.arange(int(panels.max()), dtype=float)[None, :]
    step = ((hi - lo) / panels)[:, None]
    left_edge, right_edge = lo[:, None] + index * step, lo[:, None] + (index + 1.0) * step
    real = index < panels[:, None]
    half = (right_edge - left_edge) / 2.0
    gl_x, gl_w = _gauss_legendre(precision.nodes)
    u = (((left_edge + right_edge) / 2.0)[:, :, None] + half[:, :, None] * gl_x).reshape(a.size, -1)
    w = (half[:, :, None] * gl_w).reshape(a.size, -1)
    real = np.repeat(real, precision.nodes, axis=1)
    offset = u - mode[:, None]
    p_mode = (a / (a + b))[:, None]
    # Padding nodes (beyond a row's own panels) can land where log1p meets -1; they are masked next.
    with np.errstate(divide="ignore", invalid="ignore"):
        relative = (a[:, None] * offset - (a + b)[:, None] * np.log1p(p_mode * np.expm1(offset)))
    relative = np.where(real, relative, -np.inf)
    weights = w * np.exp(relative - relative.max(axis=1, keepdims=True))
    weights *= ((1.0 - left_mass - right_mass) / weights.sum(axis=1))[:, None]
    p = np.exp(-np.logaddexp(0.0, -u))
    # Nodes without weight (padding, or beyond the density's reach) sit at p = 1, where g is finite.
    empty = ~(weights > 0)
    p[empty], weights[empty] = 1.0, 0.0
    return _Rules(p, weights / p, panels * precision.nodes, left_mass, left_p, right_mass, right_q)


def _apply_rules(rules: _Rules, r: FloatArray, tau: FloatArray) -> FloatArray:
    """E_p[g(p)] for each row's tau (draws x points) under that row's rule: `_apply` for every row.
    Blocks of rows with like numbers of nodes, each cut to its longest row's (little padding)."""
    draws, points = tau.shape
    values = np.empty((draws, points))
    by_nodes = np.argsort(rules.nodes, kind="stable")
    sorted_nodes = rules.nodes[by_nodes]
    first = 0
    while first < draws:
        # As many rows as keep (rows x points x their most nodes) within the block.
        cells = np.arange(1, draws - first + 1) * points * sorted_nodes[first:]
        count = max(1, int(np.searchsorted(cells, _DRAW_BLOCK_CELLS, side="right")))
        rows = by_nodes[first:first + count]
        first += count
        nodes = int(sorted_nodes[first - 1])
        points_per_block = points if count > 1 else max(1, _DRAW_BLOCK_CELLS // max(nodes, 1))
        p, wp, rr = rules.p[rows, None, :nodes], rules.weights_over_p[rows, :nodes, None], r[rows, None, None]
        for start in range(0, points, points_per_block):
            cols = slice(start, start + points_per_block)
            # -expm1(-r log1p(p tau)) / p, the 1 / p taken into the weights; in place, one temporary.
            cell = p * tau[rows, cols, None]
            np.log1p(cell, out=cell)
            cell *= -rr
            np.expm1(cell, out=cell)
            values[rows, cols] = -(cell @ wp)[:, :, 0]
    r2 = r[:, None]
    left = rules.left_mass > 0
    if left.any():
        values[left] += (rules.left_mass[left, None] * r2[left] * tau[left]
                         - rules.left_p[left, None] * r2[left] * (r2[left] + 1.0) * tau[left] ** 2 / 2.0)
    right = rules.right_mass > 0
    if right.any():
        t, rr2 = tau[right], r2[right]
        g1 = -np.expm1(-rr2 * np.log1p(t))
        slope = rr2 * t * np.exp(-(rr2 + 1.0) * np.log1p(t)) - g1
        values[right] += rules.right_mass[right, None] * g1 - rules.right_q[right, None] * slope
    return values


def _chebval_rows(x: FloatArray, coef: FloatArray) -> FloatArray:
    """sum_k coef[k, d, j] T_k(x[d, i]) for each row d (Clenshaw): (draws x points x columns)."""
    x3 = x[:, :, None]
    b1 = np.zeros(x.shape + coef.shape[2:])
    b2 = np.zeros_like(b1)
    for k in range(coef.shape[0] - 1, 0, -1):
        b1, b2 = 2.0 * x3 * b1 - b2 + coef[k][:, None, :], b1
    return np.asarray(x3 * b1 - b2 + coef[0][:, None, :], dtype=float)


def beta_mixture_horizon_sums_draws(
    *, shape: ArrayLike, a: ArrayLike, b: ArrayLike, scale: ArrayLike, times: ArrayLike, coefficients: ArrayLike,
    precision: Precision = PRECISE,
) -> FloatArray:
    """`beta_mixture_horizon_sums` for many parameter sets at once: row d of `shape`, `a`, `b`
    (1-d, one per draw) with the ages of row d of `scale` (draws x ages), S[d, i, j] as
    beta_mixture_horizon_sums(shape=shape[d], a=a[d], b=b[d], scale=scale[d], ...)[i, j] gives it
    (the same rule, degree, checks and fallback per draw; to rounding). The rules are built as
    arrays, and the draws of one interpolant degree are fitted, checked and evaluated together;
    memory is bounded by blocks of _DRAW_BLOCK_CELLS values, whatever the draws and ages."""
    r_d, a_d, b_d = (np.asarray(v, dtype=float).ravel() for v in (shape, a, b))
    s_all = np.asarray(scale, dtype=float)
    t_arr = np.asarray(times, dtype=float)
    c = np.asarray(coefficients, dtype=float)
    draws, ages = s_all.shape
    rules = _rules(r_d, a_d, b_d, t_arr.max() / s_all.min(axis=1), precision)

    def direct(rows: NDArray[np.intp], s: FloatArray) -> FloatArray:
        """Every age of s (rows x ages) summed directly under its row's rule, a block of rows at a time."""
        sums = np.empty((rows.size, s.shape[1], c.shape[1]))
        per_block = max(1, _DRAW_BLOCK_CELLS // (s.shape[1] * t_arr.size))
        for first in range(0, rows.size, per_block):
            k = rows[first:first + per_block]
            sub = _Rules(rules.p[k], rules.weights_over_p[k], rules.nodes[k], rules.left_mass[k], rules.left_p[k],
                         rules.right_mass[k], rules.right_q[k])
            tau = (t_arr[None, None, :] / s[first:first + per_block, :, None]).reshape(k.size, -1)
            sums[first:first + per_block] = _apply_rules(sub, r_d[k], tau).reshape(k.size, s.shape[1], t_arr.size) @ c
        return sums

    v = np.log(s_all)
    lo, hi = float(v.min()), float(v.max())
    width = hi - lo
    degree = _degree(width, precision, extra=_EXTRA_DIGITS)
    if ages <= _DIRECT_AGES or width <= 1e-9:
        return direct(np.arange(draws), s_all)
    # 1. Each draw's E(tau) as an interpolant of log E in w = log tau over every tau the sums need
    #    (analytic in |Im w| < pi, as S in log scale), checked against the quadrature at ends and between nodes.
    w_lo, w_hi = float(np.log(t_arr.min())) - hi, float(np.log(t_arr.max())) - lo
    w_width = w_hi - w_lo
    f_degree = _degree(w_width, precision, extra=_EXTRA_DIGITS)
    f_nodes = _chebyshev_nodes(f_degree)
    at_f_nodes = _apply_rules(rules, r_d, np.broadcast_to(np.exp(w_lo + (f_nodes + 1.0) * w_width / 2.0),
                                                          (draws, f_degree)))
    usable = (at_f_nodes > 0).all(axis=1)
    f_coef = np.polynomial.chebyshev.chebfit(f_nodes, np.log(np.where(at_f_nodes > 0, at_f_nodes, 1.0)).T,
                                             f_degree - 1)
    f_checks = np.linspace(-1.0, 1.0, 2 * _CHECKS + 1)
    f_reference = _apply_rules(rules, r_d, np.broadcast_to(np.exp(w_lo + (f_checks + 1.0) * w_width / 2.0),
                                                           (draws, f_checks.size)))
    f_guess = np.exp(np.polynomial.chebyshev.chebvander(f_checks, f_degree - 1) @ f_coef).T
    usable &= (np.abs(f_guess - f_reference) <= _CHECK_SHARE * precision.check * np.abs(f_reference)).all(axis=1)
    # 2. The sums at the nodes of one interpolant in v = log(scale) for all draws (their ages span
    #    [lo, hi]) and at check ages, from step 1: the points are the same for every draw, so each
    #    month's log E is one matrix product.
    s_nodes = _chebyshev_nodes(degree)
    s_checks = np.quantile(v, np.linspace(0.03, 0.97, _CHECKS))
    log_s = np.concatenate([lo + (s_nodes + 1.0) * width / 2.0, s_checks])
    at_w = np.clip(2.0 * (np.log(t_arr)[None, :] - log_s[:, None] - w_lo) / w_width - 1.0, -1.0, 1.0)
    expected = np.exp(np.polynomial.chebyshev.chebvander(at_w.ravel(), f_degree - 1) @ f_coef)
    sums = np.einsum("mkd,kc->dmc", expected.reshape(log_s.size, t_arr.size, draws), c)
    at_nodes, reference = sums[:, :degree], sums[:, degree:]
    usable &= (at_nodes > 0).all(axis=(1, 2))
    logs = np.log(np.where(at_nodes > 0, at_nodes, 1.0))
    coef_fit = np.polynomial.chebyshev.chebfit(s_nodes, logs.transpose(1, 0, 2).reshape(degree, -1), degree - 1)
    coef: FloatArray = np.asarray(coef_fit, dtype=float).reshape(degree, draws, c.shape[1])
    check_x = 2.0 * (s_checks - lo) / width - 1.0
    guess = np.exp(np.einsum("mn,ndc->dmc", np.polynomial.chebyshev.chebvander(check_x, degree - 1), coef))
    usable &= (np.abs(guess - reference) <= _CHECK_SHARE * precision.check * np.abs(reference)).all(axis=(1, 2))
    out = np.empty((draws, ages, c.shape[1]))
    good = np.flatnonzero(usable)
    out[good] = np.exp(_chebval_rows(2.0 * (v[good] - lo) / width - 1.0, coef[:, good]))
    # 3. A draw whose interpolants fail their checks is summed directly at every age.
    rest = np.flatnonzero(~usable)
    if rest.size:
        out[rest] = direct(rest, s_all[rest])
    return out


def _degree(width: float, precision: Precision, extra: float = 0.0) -> int:
    """The degree of a Chebyshev interpolant over an interval `width` wide of a function analytic in
    the strip |Im| < pi around it, for a relative error of about e^-(precision.digits + extra)."""
    ratio = 2.0 * np.pi / max(width, 1e-12)
    degree = int(np.ceil((precision.digits + extra) / np.log(ratio + np.sqrt(1.0 + ratio**2)))) + 4
    return min(max(degree, 8), _MAX_DEGREE)


def _chebyshev_nodes(degree: int) -> FloatArray:
    return np.asarray(np.cos(np.pi * (np.arange(degree) + 0.5) / degree), dtype=float)

def rows_by_value(values: FloatArray) -> Iterator[tuple[float, NDArray[np.intp]]]:
    """Each distinct value (ascending) with the indices of the rows that hold it: the horizon sums
    are computed once per purchase count for all its ages."""
    levels, index = np.unique(values, return_inverse=True)
    index = index.ravel()
    order = np.argsort(index, kind="stable")
    bounds = np.searchsorted(index[order], np.arange(levels.size + 1))
    for k, level in enumerate(levels):
        yield float(level), order[bounds[k]:bounds[k + 1]]


def beta_mixture_horizon_sums_by_count(
    draws: FloatArray, frequency: FloatArray, age: FloatArray, *, times: ArrayLike, coefficients: ArrayLike,
    b_offset: float, precision: Precision,
) -> FloatArray:
    """S[i, d, j]: the horizon sums of each (x_i, T_i) under each draw d of (r, alpha, a, b) (rows of
    `draws`), with r' = r + x, b' = b + x + `b_offset` (BG/NBD 0, MBG/NBD 1) and scale alpha + T: per
    purchase count, one beta_mixture_horizon_sums_draws over all its ages and every draw."""
    r, alpha, a, b = (np.asarray(draws, dtype=float)[:, i] for i in range(4))
    c = np.asarray(coefficients, dtype=float)
    out = np.empty((frequency.size, r.size, c.shape[1]))
    for level, rows in rows_by_value(frequency):
        sums = beta_mixture_horizon_sums_draws(
            shape=r + float(level), a=a, b=b + float(level) + b_offset, scale=alpha[:, None] + age[rows][None, :],
            times=times, coefficients=c, precision=precision,
        )
        out[rows] = sums.transpose(1, 0, 2)
    return out
