from __future__ import annotations

from celery import shared_task


@shared_task(name="metrics.tasks.recompute_snapshots")
def recompute_snapshots(*, from_month: str | None = None, trigger: str = "manual") -> None:
    """Recompute the monthly snapshots (being built)."""
