"""The Celery app. Configuration comes from Django settings (CELERY_*); the periodic schedule
is declared here, in one place."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery
from celery.schedules import crontab
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clv_dashboard.settings.local")

app = Celery("clv_dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task modules inside app packages are not found by the default discovery (<app>.tasks only).
app.autodiscover_tasks(["metrics.predictive", "metrics.predictive.validation", "metrics.partitions"])

app.conf.beat_schedule = {
    # Monthly close: recompute every snapshot on the first day of each month.
    "recompute-snapshots-monthly": {
        "task": "metrics.tasks.recompute_snapshots",
        "schedule": crontab(minute=30, hour=2, day_of_month=1),
        "kwargs": {"trigger": "schedule"},
    },
}




@app.on_after_configure.connect
def _periodic_sweep(sender: Celery, **kwargs: Any) -> None:
    """Every CLV_SWEEP_SECONDS: take up imports and recomputes whose worker died, queue the ones
    stored while the broker was unreachable (declared here to keep the schedule in one place)."""
    from django.conf import settings

    sender.add_periodic_task(float(settings.CLV_SWEEP_SECONDS), sweep.s(), name="sweep-dead-and-waiting-jobs")


@worker_ready.connect
def _sweep_at_worker_start(**kwargs: Any) -> None:
    # Queued, not run here: this is the worker's main process, whose connections its pool inherits.
    sweep.delay()


@app.task(name="clv_dashboard.sweep", ignore_result=True)
def sweep() -> dict[str, dict[str, int]]:
    from .recovery import background_sweep

    return background_sweep()


@app.task(name="clv_dashboard.ping")
def ping() -> str:
    """A no-op task used by the health check and the worker smoke test."""
    return "pong"
