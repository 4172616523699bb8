"""The partitioned stage of a recompute run: build each partition, then sum them (see the
package's docstring). The Celery tasks (metrics.partitions.tasks) call these one partition at a
time on any worker; snapshots_recompute (metrics.services) calls stage_build_partitioned, which
does the same in one process."""

from __future__ import annotations

import logging
import time

from django.conf import settings
from django.db import connection, transaction

from metrics.calculations import Assumptions
from metrics.models import RecomputeRun
from metrics.selectors import Stage, stage_drop
from metrics.services import pause_for_fault_injection

from .selectors import check_partitions, stage_build_partition, stage_combine, stage_combined

logger = logging.getLogger(__name__)


def recompute_partitions() -> int:
    """How many customer-hash partitions a recompute's stage is built in: CLV_RECOMPUTE_PARTITIONS
    on PostgreSQL, always 1 (the single pass) on SQLite."""
    if connection.vendor != "postgresql":
        return 1
    parts = int(getattr(settings, "CLV_RECOMPUTE_PARTITIONS", 1))
    check_partitions(parts)
    return parts


def _running(run: RecomputeRun) -> bool:
    return RecomputeRun.objects.filter(pk=run.pk, status=RecomputeRun.Status.RUNNING).exists()


def _keep_if_running(run: RecomputeRun) -> bool:
    """After a partition or the sum committed its tables: True while the run is running; else the
    run's stage is dropped. The sweep that fails a dead run drops its stage in the same
    transaction, but it cannot see tables another worker's transaction has not committed yet, so
    a partition that was being built meanwhile would stay behind. The status is read under a share
    lock, which waits for such a sweep to commit (its FOR UPDATE), and so cannot miss its verdict."""
    with transaction.atomic(), connection.cursor() as cursor:
        lock = " FOR SHARE" if connection.vendor == "postgresql" else ""
        cursor.execute(f"SELECT status FROM {RecomputeRun._meta.db_table} WHERE id = %s{lock}", [run.pk])
        row = cursor.fetchone()
    if row is not None and row[0] == RecomputeRun.Status.RUNNING:
        return True
    stage_drop(run_id=run.pk, label=None)
    logger.info("recompute #%s ended while its stage was being built: its stage tables dropped", run.pk)
    return False


def stage_partition_build(*, run: RecomputeRun, stage: Stage, assumptions: Assumptions, part: int,
                          parts: int) -> bool:
    """Build partition `part` of the run's stage; False when the run is over or its partitions
    were summed already (a late redelivery of the task: nothing done), or when the run ended
    while this partition was being built (the sweep failed it: the run's stage is dropped)."""
    if not _running(run) or stage_combined(stage=stage):
        return False
    started = time.monotonic()
    with transaction.atomic():
        stage_build_partition(stage=stage, assumptions=assumptions, part=part, parts=parts)
        pause_for_fault_injection()  # the crash tests' hook (metrics.services.PAUSE_ENV)
    if not _keep_if_running(run):
        return False
    logger.info("recompute #%s: stage partition %s of %s in %.2fs", run.pk, part + 1, parts,
                time.monotonic() - started)
    return True


def stage_partitions_combine(*, run: RecomputeRun, stage: Stage, parts: int) -> bool:
    """Sum the partitions into the run's stage; False when the run is over."""
    if not _running(run):
        return False
    started = time.monotonic()
    assert run.assumption_set is not None  # set when the run started
    stage_combine(stage=stage, parts=parts, window=int(run.assumption_set.activity_window_months))
    if not _keep_if_running(run):
        return False
    logger.info("recompute #%s: %s stage partitions summed in %.2fs", run.pk, parts, time.monotonic() - started)
    return True


def stage_build_partitioned(*, run: RecomputeRun, stage: Stage, assumptions: Assumptions, parts: int) -> None:
    """Every partition in turn, then their sum, in this process (the in-process default and the
    equality tests; a worker pool runs the partitions as separate tasks instead)."""
    for part in range(parts):
        stage_partition_build(run=run, stage=stage, assumptions=assumptions, part=part, parts=parts)
    stage_partitions_combine(run=run, stage=stage, parts=parts)
