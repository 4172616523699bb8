"""The sweep behind the periodic task and the worker start (clv_dashboard.celery)."""

from __future__ import annotations

import logging

from customers.services.recovery import imports_sweep
from metrics.recovery import recompute_runs_sweep

logger = logging.getLogger(__name__)


def background_sweep() -> dict[str, dict[str, int]]:
    result = {"imports": imports_sweep().as_dict(), "recomputes": recompute_runs_sweep().as_dict()}
    if any(n for counts in result.values() for n in counts.values()):
        logger.warning("sweep: %s", result)
    return result
