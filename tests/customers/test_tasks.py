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
