from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="metrics.predictive.validation.tasks.model_check_compute",
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3,
)
def model_check_compute(*, calibration_end: str, holdout_end: str) -> None:
    """Compute the Model check of one split into the cache (services.model_check_get queues it)."""
    from .services import Split
    from .services import model_check_compute as compute

    compute(split=Split(calibration_end=dt.date.fromisoformat(calibration_end),
                        holdout_end=dt.date.fromisoformat(holdout_end)))
