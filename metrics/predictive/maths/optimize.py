"""When a maximum-likelihood fit has converged."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import OptimizeResult, minimize

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


def minimize_value_from_starts(
    fun: Callable[[FloatArray], float], starts: Sequence[FloatArray], *, log_bound: float,
) -> OptimizeResult:
    """L-BFGS-B on log parameters bounded by +-log_bound, for an objective without a gradient
    (SciPy differences it, centrally: a forward difference stopped the flat Pareto/NBD
    likelihood up to 6e-4 short in beta, depending on the machine's floating point); from each
    start until one converges, else the last attempt."""
    result: OptimizeResult | None = None
    for start in starts:
        result = minimize(fun, start, jac="3-point", method="L-BFGS-B", bounds=[(-log_bound, log_bound)] * len(start),
                          options={"maxiter": 3000, "ftol": 1e-15, "gtol": 1e-10})
        if result.success and np.isfinite(result.fun) and result.fun < 1e299:
            break
    assert result is not None, "at least one start is needed"
    return result


def parameter_at_bound(names: Sequence[str], log_values: FloatArray, *, limit: float) -> tuple[str, float] | None:
    """The first parameter whose log value ended beyond +-limit (the fit cannot identify it)."""
    for name, value in zip(names, log_values, strict=True):
        if abs(value) > limit:
            return name, float(np.exp(value))
    return None
