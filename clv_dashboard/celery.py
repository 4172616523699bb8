"""The Celery app. Configuration comes from Django settings (CELERY_*); the periodic schedule
is declared here, in one place."""

from __future__ import annotations

import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clv_dashboard.settings.local")

app = Celery("clv_dashboard")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
# Task modules inside app packages are not found by the default discovery (<app>.tasks only).
app.autodiscover_tasks(["metrics.predictive"])

app.conf.beat_schedule = {
    # Monthly close: recompute every snapshot on the first day of each month.
    "recompute-snapshots-monthly": {
        "task": "metrics.tasks.recompute_snapshots",
        "schedule": crontab(minute=30, hour=2, day_of_month=1),
        "kwargs": {"trigger": "schedule"},
    },
}


@app.task(name="clv_dashboard.ping")
def ping() -> str:
    """A no-op task used by the health check and the worker smoke test."""
    return "pong"
