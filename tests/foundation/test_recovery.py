"""A real worker killed (SIGKILL) in the middle of an import and of a recompute: its heartbeat
stops, the sweep of the next worker (on its beat schedule) declares the job dead and takes it
up again, and the job is done exactly once within five minutes."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from clv_dashboard.celery import app as celery_app
from customers.models import ImportJob, Transaction
from customers.services import import_create
from customers.services.imports import MSG_LOADED
from metrics.models import RecomputeRun
from metrics.recovery import MSG_WORKER_DIED as RUN_WORKER_DIED
from metrics.services import PAUSE_ENV, snapshots_recompute
from tests.metrics.test_tasks_worker import _company, _import, _wait_for

# Beats every second, dead after 6 s, swept every 3 s: the same code as production's 15/90/60 s.
FAST = {"CLV_HEARTBEAT_SECONDS": "1", "CLV_HEARTBEAT_DEAD_SECONDS": "6", "CLV_SWEEP_SECONDS": "3"}
ROWS = 300_000


@pytest.mark.worker
@pytest.mark.timeout(600)
def test_a_worker_killed_mid_import_is_replaced_and_the_import_is_done_exactly_once(
    start_worker: Callable[..., Any],
) -> None:
    celery_app.set_current()
    rows = b"customer_id,order_id,order_date,revenue,region\n" + b"".join(
        f"C{i % 20000},O{i},2024-{i % 12 + 1:02d}-15,{i % 50}.25,R{i % 5}\n".encode() for i in range(ROWS)
    )
    worker = start_worker(env=FAST)
    job = import_create(kind="transactions", chunks=[rows], original_name="big.csv")
    _wait_for(lambda: ImportJob.objects.filter(pk=job.pk, status="running", progress__gte=5).exists(),
              what="the import to be under way", worker=worker, timeout=120)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING and job.heartbeat_at is not None
    worker.kill()
    killed_at = time.monotonic()
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING  # as the dead worker left it

    second = start_worker(beat=True, env=FAST)
    _wait_for(lambda: ImportJob.objects.filter(pk=job.pk, status="succeeded").exists(),
              what="the import to be taken up again and finish", worker=second, timeout=280)
    assert time.monotonic() - killed_at < 300
    job.refresh_from_db()
    assert job.attempts == 2
    assert job.rows_written == ROWS
    assert Transaction.objects.count() == ROWS
    assert Transaction.objects.filter(import_job=job).count() == ROWS
    assert job.message == str(MSG_LOADED).format(rows=f"{ROWS:,}")
    assert "clv_dashboard.sweep" in second.log()


@pytest.mark.worker
@pytest.mark.timeout(600)
def test_a_worker_killed_mid_recompute_is_replaced_and_the_recompute_is_done_exactly_once(
    start_worker: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, tmp_path: Path, settings: Any,
) -> None:
    celery_app.set_current()
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    _import(rows=[("A", dt.date(2024, 1, 3), "100")], name="first.csv", request=False)
    snapshots_recompute(trigger="test")
    before = _company()

    pause = tmp_path / "paused"
    worker = start_worker(env={**FAST, PAUSE_ENV: str(pause), "CLV_RECOMPUTE_PAUSE_SECONDS": "300"})
    _import(rows=[("B", dt.date(2024, 1, 9), "70"), ("C", dt.date(2024, 2, 9), "30")], name="second.csv")
    _wait_for(pause.exists, what="the recompute to reach its write", worker=worker)
    worker.kill()
    killed_at = time.monotonic()
    assert _company() == before
    killed = RecomputeRun.objects.get(trigger="import")
    assert killed.status == RecomputeRun.Status.RUNNING and killed.heartbeat_at is not None

    second = start_worker(beat=True, env=FAST)
    rerun = _wait_for(lambda: RecomputeRun.objects.filter(trigger=f"rerun:{killed.pk}", status="succeeded").first(),
                      what="the recompute to be taken up again and finish", worker=second, timeout=280)
    assert time.monotonic() - killed_at < 300
    killed.refresh_from_db()
    assert killed.status == RecomputeRun.Status.FAILED
    assert killed.message.startswith(RUN_WORKER_DIED.split("(")[0])
    assert rerun.scopes_done == 5
    assert _company() == {"2024-01": (2, Decimal("170.00")), "2024-02": (3, Decimal("30.00"))}
    # Exactly once: one new run, no other run started after the kill.
    assert RecomputeRun.objects.filter(pk__gt=killed.pk).count() == 1


@pytest.mark.worker
@pytest.mark.timeout(600)
def test_a_worker_killed_inside_a_partition_of_a_partitioned_recompute_is_replaced_and_done_once(
    start_worker: Callable[..., Any], tmp_path: Path, settings: Any,
) -> None:
    """CLV_RECOMPUTE_PARTITIONS=2: the worker dies inside a partition's transaction; the next
    worker's sweep fails the run, queues a new one, which gives the single pass's numbers and
    leaves no stage table behind."""
    from django.db import connection

    celery_app.set_current()
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    _import(rows=[("A", dt.date(2024, 1, 3), "100"), ("B", dt.date(2024, 1, 9), "70"),
                  ("C", dt.date(2024, 2, 9), "30"), ("D", dt.date(2024, 3, 1), "45")], name="first.csv", request=False)
    snapshots_recompute(trigger="test", partitions=1)
    expected = _company()

    pause = tmp_path / "paused"
    parts = {"CLV_RECOMPUTE_PARTITIONS": "2"}
    worker = start_worker(env={**FAST, **parts, PAUSE_ENV: str(pause), "CLV_RECOMPUTE_PAUSE_SECONDS": "300"})
    _import(rows=[("E", dt.date(2024, 3, 9), "5")], name="second.csv")
    _wait_for(pause.exists, what="the first partition to reach its write", worker=worker)
    worker.kill()
    killed_at = time.monotonic()
    killed = RecomputeRun.objects.get(trigger="import")
    assert killed.status == RecomputeRun.Status.RUNNING

    second = start_worker(beat=True, env={**FAST, **parts})
    rerun = _wait_for(lambda: RecomputeRun.objects.filter(trigger=f"rerun:{killed.pk}", status="succeeded").first(),
                      what="the partitioned recompute to be taken up again and finish", worker=second, timeout=280)
    assert time.monotonic() - killed_at < 300
    killed.refresh_from_db()
    assert killed.status == RecomputeRun.Status.FAILED
    assert "stage partition 1 of 2" in second.log() and "2 stage partitions summed" in second.log()
    assert rerun.scopes_done == 5
    expected["2024-03"] = (expected["2024-03"][0] + 1, expected["2024-03"][1] + Decimal("5.00"))
    assert _company() == expected
    assert RecomputeRun.objects.filter(pk__gt=killed.pk).count() == 1
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_class WHERE relname LIKE 'metrics_stage_%%'")
        assert cursor.fetchone() == (0,)
