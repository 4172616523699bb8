"""Writes of closing: close and reopen a month, the monthly automatic close, and the refresh
of the restatement basis after each recompute (METRICS.md, "Closing a month")."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import audit_record_month
from metrics.calculations import month_from_index, month_index
from metrics.models import COMPANY, MonthClose, MonthlySnapshot, PublishedSnapshot, RecomputeRun

from . import selectors

logger = logging.getLogger(__name__)

ERROR_MONTH_NOT_ENDED = "{month} has not ended yet: a month can be closed from the first day of the next month."
ERROR_NO_FIGURES = "{month} has no figures to publish: import its data first."
ERROR_ALREADY_CLOSED = "{month} is already closed (since {closed_at}); reopen it first to publish it again."
ERROR_NOT_CLOSED = "{month} is not closed."
ERROR_REOPEN_NOTE = "Say why the month is reopened: the note is required."
ERROR_RECOMPUTE_UNDER_WAY = (
    "A recompute is under way (run #{pk}): close {month} once it has finished, so that the published "
    "figures include the latest data and assumptions."
)


class CloseRefused(ValueError):
    """A close or reopen that cannot be done; `code` names the reason (the page translates it)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


# Who closed a month without a user: the monthly job, or the command line.
BY_MONTHLY_JOB = "monthly job"
BY_COMMAND = "command line"


def closer_label(name: str) -> str:
    """Who closed (or reopened) a month, in the reader's language when it was not a user."""
    return {BY_MONTHLY_JOB: _("the monthly job"), BY_COMMAND: _("the command line"), "": "–"}.get(name, name)


# A run older than this is not waited for (its worker is gone: see the recompute's own sweep).
RUN_WAIT_SECONDS = 3600


def _label(month: dt.date) -> str:
    return f"{month:%Y-%m}"


def _username(user: Any) -> str:
    return str(getattr(user, "username", "") or "") if user is not None else ""


def month_close(*, month: dt.date, user: Any = None, note: str = "", today: dt.date | None = None,
                by: str = BY_COMMAND) -> MonthClose:
    """Publish the current figures of an ended month, for every scope, under the assumption
    version they were computed with. Refused for a month not ended, without figures, already
    closed, or while a recompute is under way."""
    month = month.replace(day=1)
    today = today or timezone.localdate()
    if month >= today.replace(day=1):
        raise CloseRefused("not_ended", ERROR_MONTH_NOT_ENDED.format(month=_label(month)))
    recent = timezone.now() - dt.timedelta(seconds=RUN_WAIT_SECONDS)
    busy = RecomputeRun.objects.filter(
        status__in=[RecomputeRun.Status.PENDING, RecomputeRun.Status.RUNNING], created_at__gte=recent
    ).first()
    if busy is not None:
        raise CloseRefused("recompute_under_way", ERROR_RECOMPUTE_UNDER_WAY.format(pk=busy.pk, month=_label(month)))
    with transaction.atomic():
        # One close at a time: the constraint would refuse a second, this gives the message.
        existing = MonthClose.objects.select_for_update().filter(month=month, reopened_at__isnull=True).first()
        if existing is not None:
            raise CloseRefused("already_closed", ERROR_ALREADY_CLOSED.format(
                month=_label(month), closed_at=f"{existing.closed_at:%Y-%m-%d}"))
        rows = list(MonthlySnapshot.objects.filter(month=month))
        company = next((r for r in rows if r.scope_dimension == COMPANY), None)
        if company is None:
            raise CloseRefused("no_figures", ERROR_NO_FIGURES.format(month=_label(month)))
        close = MonthClose.objects.create(
            month=month, assumption_set_id=company.assumption_set_id, closed_at=timezone.now(),
            closed_by=user if getattr(user, "pk", None) else None, closed_by_name=_username(user) or by, note=note.strip(),
            basis_fingerprint=selectors.data_fingerprint(), basis_computed_at=timezone.now(),
        )
        PublishedSnapshot.objects.bulk_create([
            PublishedSnapshot(close=close, month=month, scope_dimension=r.scope_dimension, scope_value=r.scope_value,
                              assumption_set_id=r.assumption_set_id, computed_at=r.computed_at,
                              **{name: getattr(r, name) for name in selectors.PUBLISHED_FIELDS})
            for r in rows
        ])
        audit_record_month(month=month, actor=user, details={
            "assumption_version": company.assumption_set.version, "scopes": len(rows), "note": note})
    return close


def month_reopen(*, month: dt.date, user: Any = None, note: str, by: str = BY_COMMAND) -> MonthClose:
    """End the close in force of a month (its publication stays in the record)."""
    month = month.replace(day=1)
    if not note or not note.strip():
        raise CloseRefused("note_required", ERROR_REOPEN_NOTE)
    with transaction.atomic():
        close = MonthClose.objects.select_for_update().filter(month=month, reopened_at__isnull=True).first()
        if close is None:
            raise CloseRefused("not_closed", ERROR_NOT_CLOSED.format(month=_label(month)))
        close.reopened_at = timezone.now()
        close.reopened_by = user if getattr(user, "pk", None) else None
        close.reopened_by_name = _username(user) or by
        close.reopen_note = note.strip()
        close.save(update_fields=["reopened_at", "reopened_by", "reopened_by_name", "reopen_note"])
        audit_record_month(month=month, reopened=True, actor=user, details={"note": note.strip()})
    return close


def month_close_due(*, today: dt.date | None = None) -> MonthClose | None:
    """The monthly job's close of the month just ended (setting CLV_AUTO_CLOSE_MONTH): closes
    it when it has figures and is not closed yet; otherwise does nothing."""
    if not getattr(settings, "CLV_AUTO_CLOSE_MONTH", True):
        return None
    today = today or timezone.localdate()
    month = month_from_index(month_index(today) - 1)
    if selectors.close_in_force(month=month) is not None:
        return None
    if not MonthlySnapshot.objects.filter(month=month, scope_dimension=COMPANY).exists():
        return None
    try:
        return month_close(month=month, note="closed by the monthly job", today=today, by=BY_MONTHLY_JOB)
    except CloseRefused as exc:
        logger.warning("automatic close of %s skipped: %s", _label(month), exc)
        return None


def restatements_refresh(*, run: RecomputeRun) -> int:
    """Keep the basis of every closed month current after a recompute; returns the closes
    whose basis was recomputed.

    A close whose version is the run's needs nothing (its basis is the current figures). For
    the others, only when the data changed since their basis was computed (the fingerprint):
    one pass over the data per published version, up to the latest month closed with it."""
    closes = [c for c in selectors.closes_in_force() if c.assumption_set_id != run.assumption_set_id]
    if not closes:
        return 0
    fingerprint = selectors.data_fingerprint()
    stale = [c for c in closes if c.basis_fingerprint != fingerprint]
    if not stale:
        return 0
    from metrics.services import snapshot_values, snapshots_compute

    refreshed = 0
    for version_id in sorted({c.assumption_set_id for c in stale}):
        group = [c for c in stale if c.assumption_set_id == version_id]
        computed = snapshots_compute(
            assumption_set=group[0].assumption_set, run_id=run.pk,
            last_month=max(month_index(c.month) for c in group), label=f"b{version_id}",
        )
        zero = dict.fromkeys(selectors.PUBLISHED_FIELDS, 0)
        with transaction.atomic():
            for close in group:
                rows = list(PublishedSnapshot.objects.filter(close=close))
                for row in rows:
                    metrics = computed.get((row.scope_dimension, row.scope_value, month_index(close.month)))
                    # A scope gone from the data: its basis is zero figures.
                    row.basis = snapshot_values(metrics) if metrics is not None else {
                        **zero, "cac": None, "clv_to_cac": None, "monthly_retention": None}
                PublishedSnapshot.objects.bulk_update(rows, ["basis"], batch_size=500)
                MonthClose.objects.filter(pk=close.pk).update(basis_fingerprint=fingerprint,
                                                             basis_computed_at=timezone.now())
                refreshed += 1
    return refreshed
