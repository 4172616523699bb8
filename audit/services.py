"""Writes to the audit log. Every other app records through audit_record (or audit_record_month)."""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

from django.conf import settings
from django.db import models
from django.http import HttpRequest

from .context import current_request
from .models import AuditEvent

Action = AuditEvent.Action

ERROR_UNKNOWN_ACTION = "Unknown audit action {action!r}: add it to AuditEvent.Action first."


def request_address(request: HttpRequest) -> str | None:
    """The client's address: REMOTE_ADDR, or with CLV_AUDIT_X_FORWARDED_FOR the last address that
    the proxy in front appended to X-Forwarded-For (the earlier ones are the client's word)."""
    raw = request.META.get("REMOTE_ADDR", "")
    if getattr(settings, "CLV_AUDIT_X_FORWARDED_FOR", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            raw = forwarded.split(",")[-1].strip()
    try:
        return str(ipaddress.ip_address(raw))
    except ValueError:
        return None


def _target_fields(target: Any) -> dict[str, str]:
    if target is None:
        return {"target_type": "", "target_id": "", "target_repr": ""}
    if isinstance(target, models.Model):
        return {
            "target_type": target._meta.label_lower,
            "target_id": str(target.pk)[:64],
            "target_repr": str(target)[:200],
        }
    return {"target_type": "", "target_id": "", "target_repr": str(target)[:200]}


def audit_record(
    *,
    action: str,
    actor: Any = None,
    username: str | None = None,
    target: Any = None,
    request: HttpRequest | None = None,
    address: str | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one entry to the audit log and return it.

    1. Who: `actor` (a user) if given, else `username` alone (a failed login's claimed name),
       else the user of `request`, else the user of the request being served; blank when the
       action was the system's (a command, a migration, the schedule).
    2. From where: `address`, else the address of `request` or of the request being served.
    3. On what: `target`, a model instance (its type, pk and text are copied) or plain text.
    """
    if action not in Action.values:
        raise ValueError(ERROR_UNKNOWN_ACTION.format(action=action))
    request = request if request is not None else current_request()
    if actor is None and username is None and request is not None:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            actor = user
    actor_id = None
    if actor is not None and getattr(actor, "pk", None) is not None:
        actor_id = int(actor.pk)
        username = actor.get_username() if username is None else username
    if address is None and request is not None:
        address = request_address(request)
    return AuditEvent.objects.create(
        action=action,
        actor_id=actor_id,
        username=(username or "")[:150],
        address=address,
        details=details or {},
        **_target_fields(target),
    )


def audit_record_month(
    *,
    month: dt.date,
    reopened: bool = False,
    actor: Any = None,
    request: HttpRequest | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Record that a month was closed (or reopened): the hook for the month-close service."""
    return audit_record(
        action=Action.MONTH_REOPEN if reopened else Action.MONTH_CLOSE,
        actor=actor,
        request=request,
        target=month.strftime("%Y-%m"),
        details={"month": month.replace(day=1).isoformat(), **(details or {})},
    )


def audit_record_import(*, action: str, job: Any, request: HttpRequest | None = None) -> AuditEvent:
    """An upload, undo or re-run of an import, with what identifies the file."""
    return audit_record(
        action=action, request=request, target=job,
        details={"kind": job.kind, "file": job.original_name, "sha256": job.sha256, "status": job.status},
    )


def audit_record_tokens_revoked(*, tokens: Any, request: HttpRequest | None = None, deleted: bool = False) -> None:
    """One entry per API token revoked (or deleted); pass the tokens before they change."""
    for token in tokens:
        audit_record(
            action=Action.TOKEN_REVOKE, request=request, target=token,
            details={"user": token.user.get_username(), "name": token.name, "prefix": token.prefix,
                     **({"deleted": True} if deleted else {})},
        )
