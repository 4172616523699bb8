"""Celery adapter for the import: takes the job id, claims the job, calls the service."""

from __future__ import annotations

from celery import shared_task

from clv_dashboard.background import heartbeat
from customers.models import ImportJob
from customers.services import import_claim, import_run


@shared_task(name="customers.tasks.process_import", acks_late=True)
def process_import(job_id: int) -> str:
    """Run one import. Safe to deliver twice: only a waiting job (or one whose worker died) is
    claimed, and the write step checks under a row lock that this attempt still owns the job.
    While it runs, the job's heartbeat shows the worker is alive."""
    job = import_claim(job_id=job_id)
    if job is None:
        return "not claimed"
    with heartbeat(ImportJob, job.pk):
        import_run(job=job)
    return str(job.status)
