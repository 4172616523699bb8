"""Celery tasks of the partitioned stage: a chord of one recompute_stage_partition per
customer-hash partition, any worker taking any partition, then recompute_stage_combine, which sums
them and fans the run's scope groups out (metrics.tasks.recompute_snapshots_scopes). Each task
keeps the run's heartbeat going; each writes in one transaction, so a retried or redelivered
task replaces what an earlier attempt left."""

from __future__ import annotations

from typing import Any

from celery import chord, shared_task

from clv_dashboard.background import heartbeat
from metrics import services as metrics_services
from metrics.models import RecomputeRun
from metrics.selectors import Stage, assumptions_values
from metrics.tasks import RETRY_ON, RETRY_OPTIONS, _drop_stale_connection, recompute_snapshots_failed

from . import services


def recompute_stage_partitions(*, run_id: int, stage: dict[str, Any], parts: int) -> None:
    """Send the chord: every partition, then their sum."""
    body = recompute_stage_combine.si(run_id=run_id, stage=stage, parts=parts)
    body.link_error(recompute_snapshots_failed.si(run_id=run_id))
    chord([recompute_stage_partition.si(run_id=run_id, stage=stage, part=k, parts=parts) for k in range(parts)])(body)


def _failed(run: RecomputeRun, exc: Exception, what: str) -> None:
    metrics_services.recompute_run_finish(run=run, status=RecomputeRun.Status.FAILED, message=f"{what}: {exc}")


@shared_task(name="metrics.partitions.tasks.recompute_stage_partition", bind=True, **RETRY_OPTIONS)
def recompute_stage_partition(self: Any, *, run_id: int, stage: dict[str, Any], part: int, parts: int) -> bool:
    _drop_stale_connection()
    run = RecomputeRun.objects.get(pk=run_id)
    try:
        with heartbeat(RecomputeRun, run.pk):
            assumptions = assumptions_values(assumption_set=run.assumption_set or metrics_services.assumptions_ensure())
            return services.stage_partition_build(run=run, stage=Stage(**stage), assumptions=assumptions,
                                                  part=part, parts=parts)
    except RETRY_ON:
        raise
    except Exception as exc:
        _failed(run, exc, f"stage partition {part + 1} of {parts}")
        raise


@shared_task(name="metrics.partitions.tasks.recompute_stage_combine", bind=True, **RETRY_OPTIONS)
def recompute_stage_combine(self: Any, *, run_id: int, stage: dict[str, Any], parts: int) -> bool:
    from metrics.tasks import recompute_snapshots_scopes

    _drop_stale_connection()
    run = RecomputeRun.objects.get(pk=run_id)
    try:
        with heartbeat(RecomputeRun, run.pk):
            combined = services.stage_partitions_combine(run=run, stage=Stage(**stage), parts=parts)
    except RETRY_ON:
        raise
    except Exception as exc:
        _failed(run, exc, f"sum of {parts} stage partitions")
        raise
    if combined:
        recompute_snapshots_scopes(run_id=run_id, stage=stage)
    return combined
