"""Reads of the customers app that the import pages need."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from customers.models import ImportJob


def import_jobs_list() -> QuerySet[ImportJob]:
    return ImportJob.objects.select_related("created_by").defer("error_report", "detected", "options")


def import_job_progress(*, job: ImportJob) -> dict[str, Any]:
    finished = job.status not in (ImportJob.Status.PENDING, ImportJob.Status.RUNNING)
    return {
        "id": job.pk,
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "progress": 100 if finished else job.progress,
        "stage": "done" if finished else ("writing" if job.progress >= 90 else "parsing"),
        "rows_total": job.rows_total,
        "rows_parsed": job.rows_parsed,
        "rows_written": job.rows_written,
        "rows_invalid": job.rows_invalid,
        "rows_skipped": job.rows_skipped,
        "message": job.message,
        "finished": finished,
    }
