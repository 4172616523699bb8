"""The Pareto/NBD log-likelihood in closed form at 50 digits, the reference of the quadrature's tests."""

from __future__ import annotations

from typing import Any

import mpmath

from metrics.predictive.maths.paretonbd import ParetoNbdParams


def closed_form_log_likelihood(p: ParetoNbdParams, x: int, t_x: float, big_t: float) -> float:
    """Fader, Hardie & Lee (2005), eq. (22) with its two 2F1 branches, at 50 digits."""
    mpmath.mp.dps = 50
    r, alpha, s, beta = (mpmath.mpf(v) for v in p.as_tuple())
    x_, tx, t = mpmath.mpf(x), mpmath.mpf(t_x), mpmath.mpf(big_t)
    big_a = r + s + x_
    if alpha >= beta:
        def f(u: Any) -> Any:
            return mpmath.hyp2f1(big_a, s + 1, big_a + 1, (alpha - beta) / (alpha + u)) / (alpha + u) ** big_a
    else:
        def f(u: Any) -> Any:
            return mpmath.hyp2f1(big_a, r + x_, big_a + 1, (beta - alpha) / (beta + u)) / (beta + u) ** big_a
    a0 = f(tx) - f(t)
    value = (mpmath.gamma(r + x_) * alpha**r * beta**s / mpmath.gamma(r)
             * (1 / ((alpha + t) ** (r + x_) * (beta + t) ** s) + s / big_a * a0))
    return float(mpmath.log(value))
