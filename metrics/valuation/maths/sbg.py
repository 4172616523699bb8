"""The shifted-beta-geometric (sBG) model of contractual retention (Fader & Hardie 2007, "How to
project customer retention", JIM 21(1)).

Each customer has a constant per-period churn probability theta, theta ~ Beta(alpha, beta) across
customers. The time T of churn (the period in which the customer is lost, T >= 1) then has
    P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta),
    S(t)     = P(T > t) = B(alpha, beta + t) / B(alpha, beta),
    r(t)     = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1),
so the retention of a cohort rises with tenure: the customers who churn easily go first.

The fit takes one or several cohorts, each as its survivor counts n_0 >= n_1 >= ... >= n_T
(n_0 = its size, T its last observed period; cohorts may have different T). Each customer lost in
period t contributes log P(T = t); the n_T still there contribute log S(T) (right-censored).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import betaln, expit, hyp2f1

FloatArray = NDArray[np.float64]

ERROR_NO_PERIODS = "The sBG fit needs at least one cohort with one observed period after period 0."
ERROR_NOT_DECREASING = "Survivor counts must be non-negative and never increase: cohort {index} has {counts}."
ERROR_NOT_CONVERGED = "The sBG fit did not converge: {reason}."
# Parameters are fitted as logs within +-LOG_BOUND (about 1e-9 .. 1e9).
LOG_BOUND = 20.0


@dataclass(frozen=True)
class SbgParams:
    alpha: float
    beta: float


@dataclass(frozen=True)
class SbgFit:
    alpha: float
    beta: float
    log_likelihood: float
    # Standard errors from the inverse of the observed information (the negative Hessian of the
    # log-likelihood at the estimate, in alpha and beta); None when it is not invertible.
    alpha_se: float | None
    beta_se: float | None
    customers: int
    periods: int

    @property
    def params(self) -> SbgParams:
        return SbgParams(self.alpha, self.beta)


def _check(cohorts: Sequence[Sequence[float]]) -> list[FloatArray]:
    arrays = []
    for index, counts in enumerate(cohorts):
        array = np.asarray(counts, dtype=np.float64)
        if array.ndim != 1 or np.any(array < 0) or np.any(np.diff(array) > 0):
            raise ValueError(ERROR_NOT_DECREASING.format(index=index, counts=list(counts)))
        arrays.append(array)
    if not any(len(a) >= 2 and a[0] > 0 for a in arrays):
        raise ValueError(ERROR_NO_PERIODS)
    return arrays


def _sufficient(arrays: list[FloatArray]) -> tuple[FloatArray, FloatArray]:
    """Lost customers per period t = 1..T_max, and censored survivors per last period T."""
    t_max = max(len(a) for a in arrays) - 1
    lost = np.zeros(t_max + 1)
    censored = np.zeros(t_max + 1)
    for a in arrays:
        t = len(a) - 1
        lost[1:t + 1] += a[:-1] - a[1:]
        censored[t] += a[-1]
    return lost, censored


def sbg_log_likelihood(params: SbgParams, cohorts: Sequence[Sequence[float]]) -> float:
    """The log-likelihood of the cohorts' survivor counts under sBG(alpha, beta)."""
    lost, censored = _sufficient(_check(cohorts))
    return _ll(params.alpha, params.beta, lost, censored)


def _log_survival(alpha: float, beta: float, periods: int) -> FloatArray:
    """log S(t) for t = 0..periods as the running sum of log((beta + i) / (alpha + beta + i)),
    i < t: exact for every size of alpha and beta (a difference of two betaln loses its digits
    once alpha + beta is large, just where customers hardly differ)."""
    i = np.arange(periods, dtype=np.float64)
    return np.concatenate([[0.0], np.cumsum(np.log1p(-alpha / (alpha + beta + i)))])


def _ll(alpha: float, beta: float, lost: FloatArray, censored: FloatArray) -> float:
    """Lost in period t: log P(T = t) = log(alpha / (alpha + beta + t - 1)) + log S(t - 1);
    still there after T: log S(T)."""
    periods = len(lost) - 1
    log_s = _log_survival(alpha, beta, periods)
    t = np.arange(1, periods + 1, dtype=np.float64)
    log_p = np.log(alpha) - np.log(alpha + beta + t - 1.0) + log_s[:-1]
    return float(np.sum(lost[1:] * log_p) + np.sum(censored * log_s))


def _ll_gradient(alpha: float, beta: float, lost: FloatArray, censored: FloatArray) -> FloatArray:
    """d(log-likelihood)/d(alpha, beta) of the same terms: d log S(t)/d alpha = -sum 1 / (alpha +
    beta + i), d log S(t)/d beta = sum alpha / ((beta + i)(alpha + beta + i)), i < t."""
    periods = len(lost) - 1
    i = np.arange(periods, dtype=np.float64)
    both = alpha + beta + i
    ds_alpha = np.concatenate([[0.0], np.cumsum(-1.0 / both)])
    ds_beta = np.concatenate([[0.0], np.cumsum(alpha / ((beta + i) * both))])
    # Lost in period t = i + 1: log alpha - log(alpha + beta + i) + log S(i).
    d_alpha = np.sum(lost[1:] * (1.0 / alpha - 1.0 / both + ds_alpha[:-1])) + np.sum(censored * ds_alpha)
    d_beta = np.sum(lost[1:] * (-1.0 / both + ds_beta[:-1])) + np.sum(censored * ds_beta)
    return np.array([d_alpha, d_beta])


def _hessian(alpha: float, beta: float, lost: FloatArray, censored: FloatArray) -> FloatArray:
    """Central second differences of the log-likelihood in (alpha, beta)."""
    x = np.array([alpha, beta])
    h = 1e-4 * np.maximum(x, 1e-3)
    hess = np.zeros((2, 2))

    def f(v: FloatArray) -> float:
        return _ll(float(v[0]), float(v[1]), lost, censored)

    for i in range(2):
        for j in range(2):
            ei = np.zeros(2)
            ej = np.zeros(2)
            ei[i] = h[i]
            ej[j] = h[j]
            hess[i, j] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h[i] * h[j])
    return hess


def sbg_fit(cohorts: Sequence[Sequence[float]]) -> SbgFit:
    """Maximum-likelihood alpha and beta from one or several cohorts' survivor counts."""
    arrays = _check(cohorts)
    lost, censored = _sufficient(arrays)
    total = float(sum(a[0] for a in arrays))

    def objective(log_params: FloatArray) -> float:
        value = -_ll(float(np.exp(log_params[0])), float(np.exp(log_params[1])), lost, censored) / total
        return value if np.isfinite(value) else 1e300

    def gradient(log_params: FloatArray) -> FloatArray:
        alpha, beta = float(np.exp(log_params[0])), float(np.exp(log_params[1]))
        return -_ll_gradient(alpha, beta, lost, censored) * np.array([alpha, beta]) / total

    # Two BFGS searches with the analytic gradient from alpha = beta = 1: in (log alpha, log beta),
    # and in (logit theta, log kappa) with theta = alpha / (alpha + beta), the mean churn, and
    # kappa = alpha + beta (kept within the bounds). When customers hardly differ, the likelihood rises along a ridge
    # towards kappa -> infinity (the geometric limit): theta stays sharp there while alpha and beta
    # do not, and the second form walks the ridge to its bound without losing theta (a search in
    # alpha and beta alone can stop at a bound with theta far off). Nelder-Mead, restarted from its
    # own result, polishes only when neither search ends on a flat point.
    def log_params_of(y: FloatArray) -> FloatArray:
        theta = float(expit(y[0]))
        return np.array([np.log(theta) + y[1], np.log1p(-theta) + y[1]])

    def objective_tk(y: FloatArray) -> float:
        return objective(log_params_of(y))

    def gradient_tk(y: FloatArray) -> FloatArray:
        g = gradient(log_params_of(y))
        theta = float(expit(y[0]))
        return np.array([g[0] * (1.0 - theta) - g[1] * theta, g[0] + g[1]])

    x = np.array([0.0, 0.0])
    fun = objective(x)
    kappa_bound = LOG_BOUND - 1.0
    with np.errstate(all="ignore"):
        quick = minimize(objective, x, jac=gradient, method="BFGS", options={"gtol": 1e-10, "maxiter": 500})
        ridge = minimize(objective_tk, np.array([0.0, np.log(2.0)]), jac=gradient_tk, method="BFGS",
                         options={"gtol": 1e-10, "maxiter": 500})
        y = np.array([np.clip(ridge.x[0], -15.0, 15.0), np.clip(ridge.x[1], -kappa_bound, kappa_bound)])
        g = gradient_tk(y)
        # (objective, log parameters, largest gradient component; at the kappa bound, theta's only)
        found = [(float(quick.fun), np.asarray(quick.x, dtype=np.float64), float(np.max(np.abs(gradient(quick.x))))),
                 (objective_tk(y), log_params_of(y),
                  float(abs(g[0]) if y[1] >= kappa_bound else np.max(np.abs(g))))]
    found = [f for f in found if np.isfinite(f[0]) and f[0] <= fun and np.all(np.abs(f[1]) <= LOG_BOUND)
             and np.isfinite(f[2])]
    flat = False
    if found:
        # Of the searches that reached the best value (within rounding), the one ending flattest.
        best = min(f[0] for f in found)
        fun, x, steepest = min((f for f in found if f[0] <= best + 1e-12), key=lambda f: f[2])
        flat = steepest < 2e-7
    for _attempt in range(0 if flat else 3):
        result = minimize(objective, x, method="Nelder-Mead",
                          options={"xatol": 1e-9, "fatol": 1e-14, "maxiter": 4000})
        improved = fun - result.fun
        x, fun = np.clip(result.x, -LOG_BOUND, LOG_BOUND), float(result.fun)
        if improved < 1e-13:
            break
    if not np.isfinite(fun) or fun >= 1e299:
        raise ValueError(ERROR_NOT_CONVERGED.format(reason="no finite likelihood"))
    alpha, beta = float(np.exp(x[0])), float(np.exp(x[1]))
    alpha_se = beta_se = None
    try:
        covariance = np.linalg.inv(-_hessian(alpha, beta, lost, censored))
        if covariance[0, 0] > 0 and covariance[1, 1] > 0:
            alpha_se, beta_se = float(np.sqrt(covariance[0, 0])), float(np.sqrt(covariance[1, 1]))
    except np.linalg.LinAlgError:
        pass
    return SbgFit(alpha=alpha, beta=beta, log_likelihood=_ll(alpha, beta, lost, censored), alpha_se=alpha_se,
                  beta_se=beta_se, customers=int(total), periods=len(lost) - 1)


def sbg_survival(params: SbgParams, periods: int) -> FloatArray:
    """S(0) = 1, S(1), ..., S(periods)."""
    t = np.arange(periods + 1, dtype=np.float64)
    return np.exp(betaln(params.alpha, params.beta + t) - betaln(params.alpha, params.beta))


def sbg_retention(params: SbgParams, periods: int) -> FloatArray:
    """r(1), ..., r(periods): r(t) = (beta + t - 1) / (alpha + beta + t - 1)."""
    t = np.arange(1, periods + 1, dtype=np.float64)
    return (params.beta + t - 1.0) / (params.alpha + params.beta + t - 1.0)


def sbg_discounted_expected_lifetime(params: SbgParams, rate: float) -> float:
    """DEL = sum over t >= 0 of S(t) / (1 + rate)^t = 2F1(1, beta; alpha + beta; 1 / (1 + rate))
    (Fader & Hardie 2010): the expected number of periods a new customer stays, discounted, the
    period of acquisition counted once. Infinite for rate = 0 and alpha <= 1."""
    if rate <= 0:
        if params.alpha <= 1:
            return float("inf")
        return 1.0 + params.beta / (params.alpha - 1.0)
    return float(hyp2f1(1.0, params.beta, params.alpha + params.beta, 1.0 / (1.0 + rate)))
