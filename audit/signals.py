"""Logins, logouts and failed logins, and every change to users and groups, onto the audit log.

Users are never deleted (refuse_user_deletion): deactivating keeps their admin history, the
imports and assumption versions they made, and this log pointing at a real account.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model, user_logged_in, user_logged_out, user_login_failed
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models.signals import m2m_changed, post_delete, post_save, pre_delete, pre_save
from django.http import HttpRequest

from .context import current_request
from .models import AuditEvent
from .services import Action, audit_record, audit_record_tokens_revoked

ERROR_USER_DELETION = (
    "Users are not deleted, so that what they did stays on the record: "
    "untick “Active” to deactivate the account instead."
)
# Fields of a user whose changes are recorded; the password only as "changed", never its hash.
USER_FIELDS = ["username", "first_name", "last_name", "email", "is_active", "is_staff", "is_superuser"]


def _log_ready() -> bool:
    """Outside a request (a command or a migration), the table may not exist yet."""
    if current_request() is not None:
        return True
    return AuditEvent._meta.db_table in connection.introspection.table_names()


def _on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(action=Action.LOGIN, actor=user, target=user, request=request)


def _on_logout(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    audit_record(action=Action.LOGOUT, actor=user, target=user, request=request)


def _on_login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    # credentials is already cleansed of the password by Django; the username is the one tried.
    claimed = str(credentials.get("username") or "")
    audit_record(action=Action.LOGIN_FAILED, username=claimed, target=claimed, request=request,
                 details={"path": request.path if request is not None else ""})


def refuse_user_deletion(sender: Any, instance: Any, **kwargs: Any) -> None:
    raise PermissionDenied(ERROR_USER_DELETION)


def _user_values(user: Any) -> dict[str, Any]:
    return {f: getattr(user, f) for f in USER_FIELDS}


def _on_user_pre_save(sender: Any, instance: Any, raw: bool = False, update_fields: Any = None, **kwargs: Any) -> None:
    if raw or instance.pk is None or (update_fields is not None and set(update_fields) <= {"last_login"}):
        return
    before = sender.objects.filter(pk=instance.pk).values(*USER_FIELDS, "password").first()
    instance._audit_before = before


def _on_user_saved(sender: Any, instance: Any, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if raw or not _log_ready():
        return
    if created:
        audit_record(action=Action.USER_CREATE, target=instance, details={"fields": _user_values(instance)})
        return
    before = getattr(instance, "_audit_before", None)
    if before is None:
        return
    instance._audit_before = None
    changes: dict[str, Any] = {
        f: [before[f], getattr(instance, f)] for f in USER_FIELDS if before[f] != getattr(instance, f)
    }
    if before["password"] != instance.password:
        changes["password"] = "changed"
    if changes:
        audit_record(action=Action.USER_CHANGE, target=instance, details={"changes": changes})


def _names(model: Any, pks: set[Any] | None) -> list[str]:
    if not pks:
        return []
    if model is Permission:
        perms = Permission.objects.filter(pk__in=pks).select_related("content_type")
        return sorted(f"{p.content_type.app_label}.{p.codename}" for p in perms)
    if model is Group:
        return sorted(Group.objects.filter(pk__in=pks).values_list("name", flat=True))
    user_model = get_user_model()
    return sorted(str(u) for u in user_model.objects.filter(pk__in=pks).values_list(user_model.USERNAME_FIELD, flat=True))


def _relation_changed(*, relation: str, instance: Any, action: str, model: Any, pk_set: set[Any] | None) -> None:
    """One m2m change (groups of a user, permissions of a user or group) as one entry on the
    side that was edited (the instance)."""
    if action == "pre_clear":
        instance._audit_cleared = {getattr(o, "pk", o) for o in _related_manager(instance, relation).all()}
        return
    if action not in ("post_add", "post_remove", "post_clear") or not _log_ready():
        return
    if action == "post_clear":
        pk_set, verb = getattr(instance, "_audit_cleared", set()), "removed"
    else:
        verb = "added" if action == "post_add" else "removed"
    names = _names(model, pk_set)
    if not names:
        return
    audit_record(
        action=Action.GROUP_CHANGE if isinstance(instance, Group) else Action.USER_CHANGE,
        target=instance,
        details={f"{relation}_{verb}": names},
    )


def _related_manager(instance: Any, relation: str) -> Any:
    if isinstance(instance, Group):
        return instance.permissions if relation == "permissions" else instance.user_set
    if isinstance(instance, Permission):
        return instance.group_set if relation == "groups" else instance.user_set
    return instance.groups if relation == "groups" else instance.user_permissions


def _on_user_groups(sender: Any, instance: Any, action: str, reverse: bool, model: Any, pk_set: Any, **kw: Any) -> None:
    # Forward: a user's groups changed; reverse: a group's members changed.
    _relation_changed(relation="users" if reverse else "groups", instance=instance, action=action, model=model,
                      pk_set=pk_set)


def _on_user_permissions(sender: Any, instance: Any, action: str, reverse: bool, model: Any, pk_set: Any, **kw: Any) -> None:
    _relation_changed(relation="users" if reverse else "permissions", instance=instance, action=action,
                      model=model, pk_set=pk_set)


def _on_group_permissions(sender: Any, instance: Any, action: str, reverse: bool, model: Any, pk_set: Any, **kw: Any) -> None:
    _relation_changed(relation="groups" if reverse else "permissions", instance=instance, action=action,
                      model=model, pk_set=pk_set)


def _on_group_pre_save(sender: Any, instance: Group, raw: bool = False, **kwargs: Any) -> None:
    if not raw and instance.pk is not None:
        instance._audit_name = Group.objects.filter(pk=instance.pk).values_list("name", flat=True).first()  # type: ignore[attr-defined]


def _on_group_saved(sender: Any, instance: Group, created: bool, raw: bool = False, **kwargs: Any) -> None:
    if raw or not _log_ready():
        return
    if created:
        audit_record(action=Action.GROUP_CREATE, target=instance, details={"name": instance.name})
        return
    old = getattr(instance, "_audit_name", None)
    if old is not None and old != instance.name:
        audit_record(action=Action.GROUP_CHANGE, target=instance, details={"name": [old, instance.name]})


def _on_group_deleted(sender: Any, instance: Group, **kwargs: Any) -> None:
    if _log_ready():
        audit_record(action=Action.GROUP_DELETE, target=instance, details={"name": instance.name})


def _on_token_deleted(sender: Any, instance: Any, **kwargs: Any) -> None:
    if not instance.revoked:
        audit_record_tokens_revoked(tokens=[instance], deleted=True)


def connect() -> None:
    from metrics.models import ApiToken

    user_model = get_user_model()
    user_logged_in.connect(_on_login, dispatch_uid="audit_login")
    user_logged_out.connect(_on_logout, dispatch_uid="audit_logout")
    user_login_failed.connect(_on_login_failed, dispatch_uid="audit_login_failed")
    pre_delete.connect(refuse_user_deletion, sender=user_model, dispatch_uid="audit_refuse_user_deletion")
    pre_save.connect(_on_user_pre_save, sender=user_model, dispatch_uid="audit_user_pre_save")
    post_save.connect(_on_user_saved, sender=user_model, dispatch_uid="audit_user_saved")
    m2m_changed.connect(_on_user_groups, sender=user_model.groups.through, dispatch_uid="audit_user_groups")
    m2m_changed.connect(_on_user_permissions, sender=user_model.user_permissions.through,
                        dispatch_uid="audit_user_permissions")
    m2m_changed.connect(_on_group_permissions, sender=Group.permissions.through, dispatch_uid="audit_group_permissions")
    pre_save.connect(_on_group_pre_save, sender=Group, dispatch_uid="audit_group_pre_save")
    post_save.connect(_on_group_saved, sender=Group, dispatch_uid="audit_group_saved")
    post_delete.connect(_on_group_deleted, sender=Group, dispatch_uid="audit_group_deleted")
    # Deleting a token in the admin ends it as revoking does.
    post_delete.connect(_on_token_deleted, sender=ApiToken, dispatch_uid="audit_token_deleted")
