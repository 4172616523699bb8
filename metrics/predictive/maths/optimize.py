"""When a maximum-likelihood fit has converged."""

from __future__ import annotations

import numpy as np
from scipy.optimize import OptimizeResult

# L-BFGS-B can stop with ABNORMAL (no further decrease along its line search) at a point that is
# already stationary to float precision; such a point is accepted when its gradient (of the mean
# negative log-likelihood per customer, in log parameters) is below this.
STATIONARY_GTOL = 1e-5


def is_stationary(result: OptimizeResult) -> bool:
    """The optimiser reached a finite minimum: it says so, or the gradient there is ~0."""
    if not (np.isfinite(result.fun) and result.fun < 1e299):
        return False
    return bool(result.success) or float(np.max(np.abs(result.jac))) <= STATIONARY_GTOL
