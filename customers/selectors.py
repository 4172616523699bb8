"""Reads of the customers app that the import pages need."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from clv_dashboard.messages import message_translate
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
        "message": job.message_shown,
        "finished": finished,
        "recompute_status": import_job_recompute_status(job=job),
    }


def import_job_recompute_status(*, job: ImportJob) -> str | None:
    """The status of the board recompute a loaded import asked for ("pending", "running",
    "succeeded", "failed"); None when the job loaded nothing or the run is not recorded yet."""
    from metrics.models import RecomputeRun

    if job.status != ImportJob.Status.SUCCEEDED or job.finished_at is None:
        return None
    run = (RecomputeRun.objects.filter(trigger="import", created_at__gte=job.finished_at)
           .order_by("pk").values_list("status", flat=True).first())
    return str(run) if run else None


def import_job_errors(*, job: ImportJob) -> list[dict[str, Any]]:
    """The first row errors, each reason in the reader's language."""
    return [{**e, "reason": message_translate(str(e.get("reason", "")), e.get("parts"))} for e in job.error_report]
