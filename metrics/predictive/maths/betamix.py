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
"""

from __future__ import annotations

import functools
import math
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
