"""The Gamma-Gamma model of spend per purchase (Fader, Hardie & Lee 2005, "RFM and CLV").

A customer's purchase values are Gamma(p, nu) around their own mean p / nu, with
nu ~ Gamma(q, gamma) across customers. Fitted on the repeat buyers' number of repeat purchases x
and mean repeat spend m (customers with a positive mean only), by maximum likelihood over
log(p, q, gamma) with the analytic gradient.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, gammaln

from . import checks
from .bgnbd import BOUND_MARGIN, LOG_BOUND, distinct_rows
from .errors import (
    GG_AT_BOUND,
    GG_NO_FINITE_MEAN,
    GG_NO_SPENDERS,
    GG_NOT_CONVERGED,
    GG_Q_TOO_CLOSE_TO_ONE,
    Message,
    ModelFitError,
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
PARAM_NAMES = ("p", "q", "gamma")
MIN_SPENDERS = 2


@dataclass(frozen=True)
class GammaGammaParams:
    p: float
    q: float
    gamma: float

    def __post_init__(self) -> None:
        checks.parameters("Gamma-Gamma", PARAM_NAMES, (self.p, self.q, self.gamma))


@dataclass(frozen=True)
class GammaGammaFit:
    params: GammaGammaParams
    log_likelihood: float
    n_customers: int
    iterations: int
    # From the Hessian of the log-likelihood at the estimate (None when it is singular).
    standard_errors: tuple[float, float, float] | None = None
    log_covariance: FloatArray | None = None
    warnings: tuple[Message, ...] = ()


@dataclass(frozen=True)
class _Data:
    """Inputs with their fixed logs, and the distinct values of x so that the special functions
    of p x + q run once per value rather than once per customer."""

    x: FloatArray
    m: FloatArray
    log_m: FloatArray
    log_x: FloatArray
    weights: FloatArray
    levels: FloatArray
    level_index: NDArray[np.intp]
    level_weights: FloatArray

    @classmethod
    def make(cls, x: FloatArray, m: FloatArray, weights: FloatArray) -> _Data:
        levels, index = np.unique(x, return_inverse=True)
        level_weights = np.bincount(index, weights=weights, minlength=levels.size).astype(float)
        return cls(x, m, np.log(m), np.log(x), weights, levels, index.ravel(), level_weights)


def _neg_ll_and_grad(log_params: FloatArray, d: _Data, scale: float) -> tuple[float, FloatArray]:
    """ln f(m | x) = lnG(p x + q) - lnG(p x) - lnG(q) + q ln(gamma) + (p x - 1) ln(m) + p x ln(x)
    - (p x + q) ln(gamma + x m), and its gradient in log(p, q, gamma)."""
    p, q, g = np.exp(log_params)
    lv, lw, w = d.levels, d.level_weights, d.weights
    pl = p * lv
    log_gxm = np.log(g + d.x * d.m)
    px = p * d.x
    constant_lv = gammaln(pl + q) - gammaln(pl) - gammaln(q) + q * np.log(g)
    ll_sum = (
        float(lw @ constant_lv)
        + float(np.einsum("i,i->", w, (px - 1.0) * d.log_m + px * d.log_x - (px + q) * log_gxm))
    )
    psi_lv = digamma(pl + q)
    d_p = float(lw @ (lv * (psi_lv - digamma(pl)))) + float(
        np.einsum("i,i->", w, d.x * (d.log_m + d.log_x - log_gxm))
    )
    d_q = float(lw @ (psi_lv - digamma(q) + np.log(g))) - float(np.einsum("i,i->", w, log_gxm))
    d_g = float(lw.sum()) * q / g - float(np.einsum("i,i->", w, (px + q) / (g + d.x * d.m)))
    grad = np.array([d_p * p, d_q * q, d_g * g])
    if not np.isfinite(ll_sum) or not np.isfinite(grad).all():
        return 1e300, np.zeros(3)
    return -ll_sum / scale, -grad / scale


def gamma_gamma_log_likelihood(params: GammaGammaParams, frequency: ArrayLike, monetary_value: ArrayLike) -> float:
    x = np.asarray(frequency, dtype=float)
    m = np.asarray(monetary_value, dtype=float)
    value, _ = _neg_ll_and_grad(np.log([params.p, params.q, params.gamma]), _Data.make(x, m, np.ones_like(x)), 1.0)
    return -value


def gamma_gamma_fit(frequency: ArrayLike, monetary_value: ArrayLike) -> GammaGammaFit:
    """Fit on the customers with x > 0 and a positive mean spend (the others are skipped)."""
    x_all = checks.column("frequency", frequency, non_negative=True)
    m_all = checks.column("spend", monetary_value)
    checks.same_length(frequency=x_all, spend=m_all)
    keep = (x_all > 0) & (m_all > 0)
    n = int(keep.sum())
    if n < MIN_SPENDERS:
        raise ModelFitError(GG_NO_SPENDERS, count=n, minimum=MIN_SPENDERS)
    (x, m_raw), _, weights = distinct_rows(x_all[keep], m_all[keep])
    if float(np.ptp(m_raw)) == 0.0:
        # Every repeat buyer spends the same: the likelihood rises without end as p and q grow
        # together, so the fit would stop wherever the optimiser's tolerance (and the machine's
        # rounding) left it. Said at once instead, with the edge it runs to.
        raise ModelFitError(GG_AT_BOUND, name="p", value=float(np.exp(LOG_BOUND)))
    # Spend is fitted in units of its mean, so the bounds fit any currency; gamma scales back.
    scale = float(np.average(m_raw, weights=weights))
    m = m_raw / scale
    starts = [np.log([1.0, 2.0, 1.0]), np.log([5.0, 5.0, 4.0])]
    data = _Data.make(x, m, weights)
    result = minimize_from_starts(_neg_ll_and_grad, starts, args=(data, float(n)), n_params=3, log_bound=LOG_BOUND)
    if not is_stationary(result):
        raise ModelFitError(GG_NOT_CONVERGED, reason=str(result.message))
    for name, value in zip(PARAM_NAMES, result.x, strict=True):
        if abs(value) > LOG_BOUND - BOUND_MARGIN:
            shown = float(np.exp(value)) * (scale if name == "gamma" else 1.0)
            raise ModelFitError(GG_AT_BOUND, name=name, value=shown)
    p, q, gamma_scaled = (float(v) for v in np.exp(result.x))
    if q <= 1.0:
        raise ModelFitError(GG_NO_FINITE_MEAN, q=q)
    if q <= 1.0 + checks.GG_Q_MARGIN:
        raise ModelFitError(GG_Q_TOO_CLOSE_TO_ONE, q=q, margin=checks.GG_Q_MARGIN)
    params = GammaGammaParams(p=p, q=q, gamma=gamma_scaled * scale)
    # The density of m in the original unit is the scaled density divided by the scale.
    log_likelihood = -float(result.fun) * n - n * float(np.log(scale))
    # In log parameters the scaling of gamma is a shift, so the covariance holds in any currency unit.
    hessian = hessian_from_gradient(lambda v: _neg_ll_and_grad(v, data, 1.0)[1], np.asarray(result.x, dtype=float))
    covariance = log_covariance(hessian)
    values = (params.p, params.q, params.gamma)
    return GammaGammaFit(
        params=params, log_likelihood=log_likelihood, n_customers=n, iterations=int(result.nit),
        standard_errors=None if covariance is None else natural_standard_errors(values, covariance),  # type: ignore[arg-type]
        log_covariance=covariance,
        warnings=fit_warnings("Gamma-Gamma", PARAM_NAMES, values, covariance),
    )


def gamma_gamma_expected_spend(
    params: GammaGammaParams, frequency: ArrayLike, monetary_value: ArrayLike
) -> FloatArray:
    """E[M | p, q, gamma, x, m] = p (gamma + x m) / (p x + q - 1): the customer's own mean pulled
    towards the population mean p gamma / (q - 1), the more so the fewer purchases they made.
    A negative mean (refunds above purchases) counts as 0; q must exceed 1 by checks.GG_Q_MARGIN."""
    x = checks.column("frequency", frequency, non_negative=True)
    m = np.maximum(checks.column("spend", monetary_value), 0.0)
    checks.same_length(frequency=x, spend=m)
    checks.gamma_gamma_q(params.q)
    p, q, g = params.p, params.q, params.gamma
    return p * (g + x * m) / (p * x + q - 1.0)
