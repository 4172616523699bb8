"""Reads of the audit log: one filtered queryset for the page, the exports and the command."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import AuditEvent


def _day_start(day: dt.date) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min), timezone.get_current_timezone())


def audit_events_filter(
    *,
    action: str = "",
    username: str = "",
    target: str = "",
    since: dt.date | None = None,
    until: dt.date | None = None,
) -> QuerySet[AuditEvent]:
    """Entries newest first; `since` and `until` are whole days (both included) in the site's
    time zone; `username` is exact (case-insensitive), `target` a substring of what was acted on."""
    events = AuditEvent.objects.all()
    if action:
        events = events.filter(action=action)
    if username:
        events = events.filter(username__iexact=username)
    if target:
        events = events.filter(Q(target_repr__icontains=target) | Q(target_id=target))
    if since is not None:
        events = events.filter(created_at__gte=_day_start(since))
    if until is not None:
        events = events.filter(created_at__lt=_day_start(until + dt.timedelta(days=1)))
    return events.order_by("-created_at", "-pk")
