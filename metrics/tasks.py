"""Celery adapters around the recompute services.

recompute_snapshots creates (or, on a retry, finds) a RecomputeRun, claims it, builds the
run's per-customer tables (one pass over the transactions; with CLV_RECOMPUTE_PARTITIONS > 1 a
chord of one task per customer-hash partition and a sum instead, metrics.partitions.tasks) and
fans the work out as a chord: one recompute_snapshots_scope task per scope group (the company and each
segment dimension), then recompute_snapshots_finish, which records the outcome and enqueues
the predictive fit. While a task of a run works, the run's heartbeat shows its worker is alive
(metrics.recovery takes up a run whose heartbeat stopped). Each scope task writes its group in one transaction under that group's
lock, so a crash leaves the previous rows of that group intact and a rerun completes."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from typing import Any

from celery import chord, shared_task
from django.db import InterfaceError, OperationalError, close_old_connections, connection

from clv_dashboard.background import heartbeat

from . import services
from .models import RecomputeRun
from .partitions.services import recompute_partitions
from .selectors import DIMENSIONS, Stage

logger = logging.getLogger(__name__)

# A lost database connection is worth retrying; everything else is a real failure.
RETRY_ON = (OperationalError, InterfaceError)
RETRY_OPTIONS: dict[str, Any] = {
    "autoretry_for": RETRY_ON,
    "retry_backoff": 2,
    "retry_backoff_max": 120,
    "retry_jitter": True,
    "max_retries": 5,
}


def _drop_stale_connection() -> None:
    """Start with a live database connection (a retry after a lost one needs a new one); never
    inside a transaction, which is where an eager (in-process) call runs."""
    if not connection.in_atomic_block:
        close_old_connections()


@shared_task(name="metrics.tasks.recompute_snapshots", bind=True, **RETRY_OPTIONS)
def recompute_snapshots(self: Any, *, from_month: str | None = None, trigger: str = "manual") -> int:
    """Recompute all snapshots (or from a month on) for the company and every segment."""
    _drop_stale_connection()
    task_id = self.request.id or ""
    run = RecomputeRun.objects.filter(celery_task_id=task_id).first() if task_id else None
    if run is None:
        run = services.recompute_run_create(
            trigger=trigger, from_month=dt.date.fromisoformat(from_month) if from_month else None,
            celery_task_id=task_id,
        )
    elif run.status != RecomputeRun.Status.PENDING and not self.request.retries:
        return run.pk  # a second delivery of a run already taken up (a retry carries on with it)
    run = services.recompute_run_start(run=run)
    if run.status != RecomputeRun.Status.RUNNING:
        return run.pk
    parts = recompute_partitions()
    if parts > 1:
        with heartbeat(RecomputeRun, run.pk):
            stage = services.snapshots_stage_plan(run=run)
        if stage is not None:
            from .partitions.tasks import recompute_stage_partitions

            recompute_stage_partitions(run_id=run.pk, stage=dataclasses.asdict(stage), parts=parts)
            return run.pk
    else:
        with heartbeat(RecomputeRun, run.pk):
            stage = services.snapshots_stage_prepare(run=run)
    recompute_snapshots_scopes(run_id=run.pk, stage=dataclasses.asdict(stage) if stage else None)
    return run.pk


def recompute_snapshots_scopes(*, run_id: int, stage: dict[str, Any] | None) -> None:
    """Fan the scope groups of a run whose stage is built out as a chord (then the finish)."""
    body = recompute_snapshots_finish.si(run_id=run_id)
    body.link_error(recompute_snapshots_failed.si(run_id=run_id))
    chord([recompute_snapshots_scope.si(run_id=run_id, dimension=d, stage=stage) for d in DIMENSIONS])(body)


@shared_task(name="metrics.tasks.recompute_snapshots_scope", bind=True, **RETRY_OPTIONS)
def recompute_snapshots_scope(self: Any, *, run_id: int, dimension: str, stage: dict[str, Any] | None = None) -> int:
    """Recompute one scope group of a run (idempotent: rerunning rewrites the same rows)."""
    _drop_stale_connection()
    run = RecomputeRun.objects.get(pk=run_id)
    if run.status != RecomputeRun.Status.RUNNING:
        return 0
    try:
        with heartbeat(RecomputeRun, run.pk):
            return services.snapshots_recompute_dimension(
                run=run, dimension=dimension, stage=Stage(**stage) if stage else None
            )
    except RETRY_ON:
        raise
    except Exception as exc:
        services.recompute_run_finish(run=run, status=RecomputeRun.Status.FAILED, message=f"{dimension}: {exc}")
        raise


@shared_task(name="metrics.tasks.recompute_snapshots_finish", bind=True, **RETRY_OPTIONS)
def recompute_snapshots_finish(self: Any, *, run_id: int) -> str:
    _drop_stale_connection()
    run = services.recompute_run_finish(run=RecomputeRun.objects.get(pk=run_id))
    return str(run.status)


@shared_task(name="metrics.tasks.recompute_snapshots_failed")
def recompute_snapshots_failed(*args: Any, run_id: int) -> None:
    """Errback of the chord: a scope task failed for good."""
    _drop_stale_connection()
    message = " ".join(str(a) for a in args if a is not None)[:500] or "a scope group failed"
    services.recompute_run_finish(
        run=RecomputeRun.objects.get(pk=run_id), status=RecomputeRun.Status.FAILED, message=message
    )


@shared_task(name="metrics.tasks.profitability_after_recompute", bind=True, **RETRY_OPTIONS)
def profitability_after_recompute(self: Any, *, run_id: int) -> int:
    """Customer profitability after an incremental recompute (metrics.services.recompute_run_finish)."""
    _drop_stale_connection()
    from .profitability.services import profitability_recompute

    totals = profitability_recompute(run=RecomputeRun.objects.get(pk=run_id))
    return int(totals.customers) if totals else 0
