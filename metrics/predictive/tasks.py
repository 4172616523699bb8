from __future__ import annotations

from celery import shared_task
from django.db import OperationalError


@shared_task(
    name="metrics.predictive.tasks.fit_clv_models",
    autoretry_for=(OperationalError,), retry_backoff=True, max_retries=3,
)
def fit_clv_models(*, trigger: str = "manual") -> int | None:
    """Fit BG/NBD and Gamma-Gamma and store per-customer predictions; returns the fit's id.

    A fit the data cannot support ends as a failed PredictiveFit with its reason (no retry:
    the same data would fail the same way); a database outage is retried."""
    from .services import clv_models_fit

    return clv_models_fit(trigger=trigger).pk
