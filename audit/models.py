"""The audit log: one append-only row per action that matters (who, when, what, on what, from where).

Who is a username copied into the row, never a foreign key, so that the record outlives the
account. Rows are never changed or deleted: the model refuses save() of an existing row and
delete(), its queryset refuses update() and delete(), the admin offers neither, and on
PostgreSQL a trigger refuses UPDATE and DELETE on the table (migration 0002).
"""

from __future__ import annotations

from typing import Any, NoReturn

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

ERROR_APPEND_ONLY = "The audit log is append-only: its entries cannot be changed or deleted."


class AppendOnlyError(Exception):
    """Raised on any attempt to change or delete an audit entry."""


class AuditEventQuerySet(models.QuerySet["AuditEvent"]):
    def update(self, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(ERROR_APPEND_ONLY)

    def delete(self) -> NoReturn:
        raise AppendOnlyError(ERROR_APPEND_ONLY)


class AuditEvent(models.Model):
    class Action(models.TextChoices):
        LOGIN = "login", _("Login")
        LOGIN_FAILED = "login_failed", _("Failed login")
        LOGOUT = "logout", _("Logout")
        IMPORT_UPLOAD = "import_upload", _("Upload")
        IMPORT_UNDO = "import_undo", _("Import undone")
        IMPORT_RERUN = "import_rerun", _("Import run again")
        ASSUMPTIONS_CHANGE = "assumptions_change", _("Assumptions changed")
        MONTH_CLOSE = "month_close", _("Month closed")
        MONTH_REOPEN = "month_reopen", _("Month reopened")
        MARKET_VALUE_CHANGE = "market_value_change", _("Market value entered")
        TOKEN_ISSUE = "token_issue", _("API token issued")
        TOKEN_REVOKE = "token_revoke", _("API token revoked")
        USER_CREATE = "user_create", _("User created")
        USER_CHANGE = "user_change", _("User changed")
        GROUP_CREATE = "group_create", _("Group created")
        GROUP_CHANGE = "group_change", _("Group changed")
        GROUP_DELETE = "group_delete", _("Group deleted")
        ALIAS_ADD = "alias_add", _("Segment alias added")
        ALIAS_RETIRE = "alias_retire", _("Segment alias retired")

    created_at = models.DateTimeField(_("when"), default=timezone.now, editable=False)
    action = models.CharField(_("action"), max_length=40, choices=Action.choices)
    # The acting user's id and username at the time; not a foreign key, so deleting or renaming
    # the account changes nothing here. Blank: the system (a command, a migration, the schedule).
    actor_id = models.BigIntegerField(_("user id"), null=True, blank=True, editable=False)
    username = models.CharField(_("who"), max_length=150, blank=True)
    target_type = models.CharField(_("target type"), max_length=100, blank=True)
    target_id = models.CharField(_("target id"), max_length=64, blank=True)
    target_repr = models.CharField(_("on what"), max_length=200, blank=True)
    address = models.GenericIPAddressField(_("from"), null=True, blank=True)
    details = models.JSONField(_("details"), default=dict, blank=True, encoder=DjangoJSONEncoder)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-pk"]
        # Only "view": no add, change or delete permission exists to grant.
        default_permissions = ("view",)
        indexes = [
            models.Index(fields=["created_at"], name="audit_created_idx"),
            models.Index(fields=["action", "created_at"], name="audit_action_created_idx"),
            models.Index(fields=["username", "created_at"], name="audit_user_created_idx"),
        ]
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit log")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.action} {self.username or '-'}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError(ERROR_APPEND_ONLY)
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise AppendOnlyError(ERROR_APPEND_ONLY)
