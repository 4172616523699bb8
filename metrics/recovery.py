"""Recompute runs left behind by a dead worker or an unreachable broker, taken up again.

`recompute_runs_sweep` runs on beat every CLV_SWEEP_SECONDS and once at each worker start
(clv_dashboard.celery):
1. A running run whose heartbeat is older than CLV_HEARTBEAT_DEAD_SECONDS lost its worker: it is
   recorded as failed ("its worker stopped"), its stage tables are dropped and a new recompute
   from the same month is queued. Its snapshots are intact: each scope group is written in one
   transaction, which the dead worker's connection rolled back. (A run whose next task waited
   in the queue longer than that is failed too; the new run then does its work, and the old
   run's late tasks see it is over and do nothing.)
2. A waiting run stored because the broker was unreachable (metrics.services.recompute_send)
   is queued under its own task id.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from clv_dashboard.background import dead_before, task_send
from clv_dashboard.messages import message_part

from .models import RecomputeRun
from .selectors import stage_drop
from .services import snapshots_request_recompute

MSG_WORKER_DIED = _("abandoned: its worker stopped (no heartbeat since {since}); a new recompute was queued")
# A stored waiting run is queued again once it is this old (a run being queued right now is left alone).
WAITING_GRACE_SECONDS = 10


@dataclass(frozen=True)
class RecomputeSweep:
    failed_dead: int = 0
    queued_waiting: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


def recompute_runs_sweep() -> RecomputeSweep:
    dead = dead_before()
    failed = queued = 0
    with transaction.atomic():
        runs = list(RecomputeRun.objects.select_for_update(skip_locked=True)
                    .filter(status=RecomputeRun.Status.RUNNING)
                    .filter(Q(heartbeat_at__lt=dead) | Q(heartbeat_at__isnull=True, started_at__lt=dead)))
        for run in runs:
            now = timezone.now()
            run.status = RecomputeRun.Status.FAILED
            run.finished_at = now
            run.duration_seconds = (now - run.started_at).total_seconds() if run.started_at else None
            since = timezone.localtime(run.heartbeat_at or run.started_at or now).strftime("%H:%M:%S")
            run.message = str(MSG_WORKER_DIED).format(since=since)
            run.message_parts = [message_part(MSG_WORKER_DIED, since=since)]
            run.save(update_fields=["status", "finished_at", "duration_seconds", "message", "message_parts"])
            stage_drop(run_id=run.pk, label=None)
            failed += 1
        if runs:
            # One new run covers them all: from the earliest month any of them started at.
            months = [r.from_month for r in runs]
            from_month = None if any(m is None for m in months) else min(m for m in months if m is not None)
            snapshots_request_recompute(from_month=from_month, trigger=f"rerun:{runs[0].pk}")
    waiting = RecomputeRun.objects.filter(
        status=RecomputeRun.Status.PENDING, created_at__lt=timezone.now() - dt.timedelta(seconds=WAITING_GRACE_SECONDS)
    ).exclude(celery_task_id="")
    from .tasks import recompute_snapshots

    for run in waiting:
        kwargs = {"from_month": run.from_month.isoformat() if run.from_month else None, "trigger": run.trigger}
        if task_send(recompute_snapshots, kwargs=kwargs, task_id=run.celery_task_id):
            queued += 1
    return RecomputeSweep(failed_dead=failed, queued_waiting=queued)
