"""The Celery adapter: claims once, and a real worker processes an upload."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from clv_dashboard.celery import app as celery_app
from customers.models import ImportJob, Transaction
from customers.services import import_create
from customers.tasks import process_import

TX = b"customer_id,order_id,order_date,revenue\n" + b"".join(
    f"C{i % 300},O{i},2024-{i % 12 + 1:02d}-15,{i % 50}.25\n".encode() for i in range(5000)
)


def test_a_job_is_claimed_once_so_a_second_delivery_changes_nothing(db: None) -> None:
    job = import_create(kind="transactions", chunks=[TX], original_name="t.csv", enqueue=False)
    assert process_import.apply(args=[job.pk]).get() == "succeeded"
    assert process_import.apply(args=[job.pk]).get() == "not claimed"
    assert Transaction.objects.count() == 5000


def test_a_job_left_running_by_a_dead_worker_is_taken_up_again(db: None, settings: Any) -> None:
    job = import_create(kind="transactions", chunks=[TX], original_name="t.csv", enqueue=False)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.RUNNING)
    assert process_import.apply(args=[job.pk]).get() == "not claimed"  # started_at unknown: someone has it
    import datetime as dt

    from django.utils import timezone

    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - dt.timedelta(hours=3))
    assert process_import.apply(args=[job.pk]).get() == "succeeded"


@pytest.mark.worker
def test_a_real_worker_processes_an_upload(start_worker: Callable[[], Any]) -> None:
    worker = start_worker()
    # Shared tasks follow the current Celery app; a test that built another app may have left
    # that one current.
    celery_app.set_current()
    job = import_create(kind="transactions", chunks=[TX], original_name="t.csv")  # queued on commit (autocommit)
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status in (ImportJob.Status.SUCCEEDED, ImportJob.Status.REJECTED, ImportJob.Status.FAILED):
            break
        time.sleep(0.3)
    assert job.status == ImportJob.Status.SUCCEEDED, (job.status, job.message, worker.log()[-3000:])
    assert Transaction.objects.filter(import_job=job).count() == 5000
    assert job.celery_task_id and job.celery_task_id in worker.log()


@pytest.mark.worker
def test_a_worker_killed_while_writing_leaves_nothing_and_the_import_can_be_taken_up_again(
    start_worker: Callable[[], Any],
) -> None:
    import datetime as dt

    from django.db import connection
    from django.utils import timezone

    celery_app.set_current()
    rows = b"customer_id,order_id,order_date,revenue,region\n" + b"".join(
        f"C{i % 20000},O{i},2024-{i % 12 + 1:02d}-15,{i % 50}.25,R{i % 5}\n".encode() for i in range(300_000)
    )
    worker = start_worker()
    job = import_create(kind="transactions", chunks=[rows], original_name="big.csv")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.progress >= 92 or job.status not in (ImportJob.Status.PENDING, ImportJob.Status.RUNNING):
            break
        time.sleep(0.05)
    assert job.status == ImportJob.Status.RUNNING and job.progress >= 92, (job.status, job.progress)
    worker.kill()  # SIGKILL in the middle of the write transaction

    # The server rolls the open transaction back once it notices its client is gone.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid() AND state <> 'idle'")
            if cursor.fetchone()[0] == 0:
                break
        time.sleep(0.2)
    assert Transaction.objects.count() == 0
    job.refresh_from_db()
    assert job.status == ImportJob.Status.RUNNING  # as the dead worker left it

    # Once the job is older than the task time limit, a new delivery takes it up again.
    ImportJob.objects.filter(pk=job.pk).update(started_at=timezone.now() - dt.timedelta(hours=2))
    start_worker()
    process_import.delay(job.pk)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.status == ImportJob.Status.SUCCEEDED:
            break
        time.sleep(0.3)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert Transaction.objects.count() == 300_000
