"""When a maximum-likelihood fit has converged."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import OptimizeResult, minimize

from .errors import FIT_NO_STANDARD_ERRORS, FIT_POORLY_IDENTIFIED, Message

FloatArray = NDArray[np.float64]

# L-BFGS-B can stop with ABNORMAL (no further decrease along its line search) at a point that is
# already stationary to float precision; such a point is accepted when its gradient (of the mean
# negative log-likelihood per customer, in log parameters) is below this.
STATIONARY_GTOL = 1e-5


def is_stationary(result: OptimizeResult) -> bool:
    """The optimiser reached a finite minimum: it says so, or the gradient there is ~0."""
    if not (np.isfinite(result.fun) and result.fun < 1e299):
        return False
    return bool(result.success) or float(np.max(np.abs(result.jac))) <= STATIONARY_GTOL


def minimize_from_starts(
    fun: Callable[..., tuple[float, FloatArray]], starts: Sequence[FloatArray], *, args: tuple[Any, ...], n_params: int,
    log_bound: float,
) -> OptimizeResult:
    """L-BFGS-B (fun returns the value and its gradient) on log parameters bounded by +-log_bound,
    from each start in turn until one converges; otherwise the last attempt, for its message."""
    result: OptimizeResult | None = None
    for start in starts:
        result = minimize(
            fun, start, args=args, jac=True, method="L-BFGS-B", bounds=[(-log_bound, log_bound)] * n_params,
            options={"maxiter": 2000, "ftol": 1e-14, "gtol": 1e-9},
        )
        if is_stationary(result):
            break
    assert result is not None, "at least one start is needed"
    return result


def parameter_at_bound(names: Sequence[str], log_values: FloatArray, *, limit: float) -> tuple[str, float] | None:
    """The first parameter whose log value ended beyond +-limit (the fit cannot identify it)."""
    for name, value in zip(names, log_values, strict=True):
        if abs(value) > limit:
            return name, float(np.exp(value))
    return None


# Steps of the numerical Hessian in log parameters: central differences of an analytic gradient
# (error ~ step^2), or of the function's values (error ~ step^2 + rounding / step^2).
GRADIENT_STEP = 1e-5
FORWARD_GRADIENT_STEP = 1e-6
VALUE_STEP = 1e-4
# A log parameter whose standard error exceeds this (a 95% interval wider than a factor e^4 ~ 55)
# is reported as poorly determined.
POORLY_DETERMINED_LOG_SE = 1.0


def hessian_from_gradient(gradient: Callable[[FloatArray], FloatArray], at: FloatArray, *,
                          gradient_at: FloatArray | None = None) -> FloatArray:
    """Hessian of a function whose gradient is known, by central differences, symmetrised; with
    the gradient at the point itself given (`gradient_at`), by forward differences (error ~ the
    step, 1e-6 relative: plenty for standard errors) at half the gradients' cost."""
    n = at.size
    hessian = np.empty((n, n))
    for j in range(n):
        step = np.zeros(n)
        if gradient_at is None:
            step[j] = GRADIENT_STEP
            hessian[:, j] = (gradient(at + step) - gradient(at - step)) / (2.0 * GRADIENT_STEP)
        else:
            step[j] = FORWARD_GRADIENT_STEP
            hessian[:, j] = (gradient(at + step) - gradient_at) / FORWARD_GRADIENT_STEP
    return (hessian + hessian.T) / 2.0


def hessian_from_values(fun: Callable[[FloatArray], float], at: FloatArray) -> FloatArray:
    """Hessian of a function from its values: the four-point central formula for each pair."""
    n = at.size
    h = VALUE_STEP
    hessian = np.empty((n, n))
    centre = fun(at)
    unit = np.eye(n) * h
    for i in range(n):
        hessian[i, i] = (fun(at + unit[i]) - 2.0 * centre + fun(at - unit[i])) / h**2
        for j in range(i):
            value = (fun(at + unit[i] + unit[j]) - fun(at + unit[i] - unit[j])
                     - fun(at - unit[i] + unit[j]) + fun(at - unit[i] - unit[j])) / (4.0 * h**2)
            hessian[i, j] = hessian[j, i] = value
    return hessian


def log_covariance(hessian: FloatArray) -> FloatArray | None:
    """The inverse of the Hessian of minus the total log-likelihood in log parameters (the
    asymptotic covariance of the log estimates), or None when it is not positive definite (a flat
    or saddle direction: the data do not identify every parameter)."""
    if not np.isfinite(hessian).all():
        return None
    try:
        chol = np.linalg.cholesky(hessian)
    except np.linalg.LinAlgError:
        return None
    inverse = np.linalg.inv(chol)
    covariance = inverse.T @ inverse
    return covariance if np.isfinite(covariance).all() else None


def natural_standard_errors(params: Sequence[float], covariance: FloatArray) -> tuple[float, ...]:
    """Standard errors of the parameters themselves: at a maximum the delta method from the log
    scale is exact for the observed information, se(theta) = theta se(log theta)."""
    return tuple(float(p * np.sqrt(v)) for p, v in zip(params, np.diag(covariance), strict=True))


def fit_warnings(model: str, names: Sequence[str], params: Sequence[float], covariance: FloatArray | None, *,
                 skip: Sequence[str] = (), singular_expected: bool = False) -> tuple[Message, ...]:
    """The warnings a successful fit carries: no standard errors at all, or each parameter (but
    those in `skip`, explained otherwise) whose log standard error exceeds POORLY_DETERMINED_LOG_SE."""
    if covariance is None:
        return () if singular_expected else (Message(FIT_NO_STANDARD_ERRORS, {"model": model}),)
    warnings = []
    for name, value, variance in zip(names, params, np.diag(covariance), strict=True):
        if name not in skip and np.sqrt(variance) > POORLY_DETERMINED_LOG_SE:
            warnings.append(Message(FIT_POORLY_IDENTIFIED, {
                "model": model, "name": name, "value": float(value), "se": float(value * np.sqrt(variance))}))
    return tuple(warnings)
