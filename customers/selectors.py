"""Reads of the customers app that the import pages need."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from clv_dashboard.messages import message_translate
from customers.models import UNASSIGNED, ImportJob, SegmentDimension


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


def dimension_label(dimension: str) -> str:
    """A segment dimension's name in the reader's language (an unknown one as it is)."""
    try:
        return str(SegmentDimension(dimension).label)
    except ValueError:
        return dimension


def value_label(value: str) -> str:
    """A segment value as shown: the unassigned segment in the reader's language."""
    return str(_("unassigned")) if value == UNASSIGNED else value


def import_job_segment_changes(*, job: ImportJob) -> dict[str, list[dict[str, Any]]]:
    """The segment moves and conflicts of a loaded import (services/moves.py), with the
    dimensions and the unassigned segment named in the reader's language."""
    result = job.result or {}
    moves = [{"dimension": m["dimension"], "label": dimension_label(m["dimension"]), "customers": m["customers"],
              "more": m["customers"] - sum(n for _old, _new, n in m["changes"]),
              "changes": [{"old": value_label(old), "new": value_label(new), "customers": n}
                          for old, new, n in m["changes"]]}
             for m in result.get("segment_moves") or []]
    conflicts = [{"dimension": c["dimension"], "label": dimension_label(c["dimension"]), "customers": c["customers"],
                  "more": c["customers"] > len(c["examples"]),
                  "examples": [{"customer": customer, "values": values} for customer, values in c["examples"]]}
                 for c in result.get("segment_conflicts") or []]
    return {"moves": moves, "conflicts": conflicts}
