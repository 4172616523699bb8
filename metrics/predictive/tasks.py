from __future__ import annotations

from celery import shared_task


@shared_task(name="metrics.predictive.tasks.fit_clv_models")
def fit_clv_models(*, trigger: str = "manual") -> int | None:
    """Fit BG/NBD and Gamma-Gamma and store per-customer predictions (being built)."""
    return None
