"""Imports left behind by a dead worker or an unreachable broker, taken up again.

`imports_sweep` runs on beat every CLV_SWEEP_SECONDS and once at each worker start
(clv_dashboard.celery):
1. A running job whose heartbeat is older than CLV_HEARTBEAT_DEAD_SECONDS lost its worker: it is
   queued again (waiting, with a message), or failed once its worker died
   CLV_IMPORT_MAX_ATTEMPTS times (a file that kills its worker must not loop for ever). Rows
   locked by a live write transaction are skipped: that worker is alive.
2. A waiting job that could not be queued (no task id: the broker was down), or that was queued
   longer than CLV_REQUEUE_WAITING_SECONDS ago, is queued again. A second delivery of a job
   changes nothing (the claim), so queueing too often costs nothing but a message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clv_dashboard.background import dead_before
from clv_dashboard.messages import message_part
from customers.models import ImportJob

from .imports import conversions_remove, import_enqueue

MSG_WORKER_DIED = _("The worker running this import stopped at {percent}%; the import was queued again.")
ERR_WORKER_DIED_TOO_OFTEN = _(
    "The worker running this import stopped {count} times, so it was given up and nothing was loaded. "
    "Run it again; if it stops again, tell an administrator (the file may be too big for the worker's memory)."
)


@dataclass(frozen=True)
class ImportsSweep:
    requeued_dead: int = 0
    failed_dead: int = 0
    queued_waiting: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def imports_sweep() -> ImportsSweep:
    now = timezone.now()
    dead = dead_before()
    requeued = failed = queued = 0
    with transaction.atomic():
        for job in (ImportJob.objects.select_for_update(skip_locked=True)
                    .filter(status=ImportJob.Status.RUNNING)
                    .filter(Q(heartbeat_at__lt=dead) | Q(heartbeat_at__isnull=True, started_at__lt=dead))):
            if job.attempts >= settings.CLV_IMPORT_MAX_ATTEMPTS:
                job.status = ImportJob.Status.FAILED
                job.message = str(ERR_WORKER_DIED_TOO_OFTEN).format(count=job.attempts)
                job.message_parts = [message_part(ERR_WORKER_DIED_TOO_OFTEN, count=job.attempts)]
                job.finished_at = now
                job.rows_written = 0
                job.save(update_fields=["status", "message", "message_parts", "finished_at", "rows_written"])
                conversions_remove(job=job)
                failed += 1
                continue
            job.message = str(MSG_WORKER_DIED).format(percent=job.progress)
            job.message_parts = [message_part(MSG_WORKER_DIED, percent=job.progress)]
            job.status = ImportJob.Status.PENDING
            job.progress = 0
            job.save(update_fields=["status", "message", "message_parts", "progress"])
            import_enqueue(job=job)
            requeued += 1
        waiting_since = now - dt.timedelta(seconds=float(settings.CLV_REQUEUE_WAITING_SECONDS))
        for job in (ImportJob.objects.select_for_update(skip_locked=True)
                    .filter(status=ImportJob.Status.PENDING)
                    .filter(Q(celery_task_id="") | Q(heartbeat_at__lt=waiting_since)
                            | Q(heartbeat_at__isnull=True, created_at__lt=waiting_since))):
            import_enqueue(job=job)
            queued += 1
    return ImportsSweep(requeued_dead=requeued, failed_dead=failed, queued_waiting=queued)
