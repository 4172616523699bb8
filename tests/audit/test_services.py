"""What is recorded: logins, failed logins, logouts, imports, assumptions, months, tokens, users, groups."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from io import StringIO
from typing import Any, cast
from urllib.parse import urlencode

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import transaction
from django.test import Client

from audit.models import AuditEvent
from audit.services import ERROR_UNKNOWN_ACTION, Action, audit_record, audit_record_month
from audit.signals import ERROR_USER_DELETION
from clv_dashboard import roles
from customers.models import ImportJob
from metrics.models import ApiToken
from metrics.services import api_token_issue, assumptions_record
from tests.conftest import PASSWORD
from tests.factories import ImportJobFactory

# A browser posts these forms urlencoded; a multipart body from a visitor who may not upload is
# refused from its headers before any view (clv_dashboard.middleware).
FORM = "application/x-www-form-urlencoded"
TX = b"customer_id,order_id,order_date,revenue\nC1,O1,2024-01-05,100\nC2,O2,2024-01-06,bad\n"


def _last(action: str) -> AuditEvent:
    return AuditEvent.objects.filter(action=action).order_by("-pk").first()  # type: ignore[return-value]


# --- Logins ----------------------------------------------------------------------------------


def test_a_login_is_recorded_with_the_user_and_the_address(executive: Any) -> None:
    response = Client(REMOTE_ADDR="203.0.113.7").post("/login/", urlencode({"username": executive.username, "password": PASSWORD}), content_type=FORM)
    assert response.status_code == 302
    event = _last(Action.LOGIN)
    assert (event.username, event.actor_id, event.address) == (executive.username, executive.pk, "203.0.113.7")


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_a_failed_login_is_recorded_with_the_username_tried_and_never_the_password(executive: Any, path: str) -> None:
    response = Client(REMOTE_ADDR="198.51.100.9").post(path, urlencode({"username": executive.username, "password": "wrong-guess"}), content_type=FORM)
    assert response.status_code == 200
    event = _last(Action.LOGIN_FAILED)
    assert event.username == executive.username and event.actor_id is None and event.address == "198.51.100.9"
    assert event.details["path"] == path
    assert "wrong-guess" not in str(event.details) + event.target_repr


def test_a_logout_is_recorded(executive: Any) -> None:
    client = Client()
    client.force_login(executive)
    client.post("/logout/", content_type=FORM)
    assert _last(Action.LOGOUT).username == executive.username


def test_the_forwarded_address_is_used_only_when_the_proxy_is_trusted(executive: Any, settings: Any) -> None:
    headers: dict[str, Any] = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 203.0.113.20"}
    Client(**headers).post("/login/", urlencode({"username": "nobody", "password": "x"}), content_type=FORM)
    assert _last(Action.LOGIN_FAILED).address == "10.0.0.2"
    settings.CLV_AUDIT_X_FORWARDED_FOR = True
    Client(**headers).post("/login/", urlencode({"username": "nobody", "password": "x"}), content_type=FORM)
    assert _last(Action.LOGIN_FAILED).address == "203.0.113.20"


# --- Imports, assumptions, months, tokens -------------------------------------------------------


def test_upload_rerun_and_undo_are_recorded_with_the_file(
    client_as: Callable[[str | None], Client], django_capture_on_commit_callbacks: Any, settings: Any, tmp_path: Any
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    client = client_as(roles.ANALYST)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/imports/", {"kind": "transactions", "file": SimpleUploadedFile("t.csv", TX, content_type="text/csv")})
    job = ImportJob.objects.get()
    upload = _last(Action.IMPORT_UPLOAD)
    assert upload.target_type == "customers.importjob" and upload.target_id == str(job.pk)
    assert upload.details["file"] == "t.csv" and upload.details["sha256"] == job.sha256
    assert upload.username == job.created_by.username  # type: ignore[union-attr]
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{job.pk}/rerun/", {"map_customer_id": "customer_id", "map_order_date": "order_date",
                                                  "map_revenue": "revenue", "map_order_id": "order_id",
                                                  "skip_invalid": "on"})
    assert _last(Action.IMPORT_RERUN).target_id == str(job.pk)
    client.post(f"/imports/{job.pk}/undo/")
    undo = _last(Action.IMPORT_UNDO)
    assert undo.target_id == str(job.pk) and undo.details["status"] == ImportJob.Status.UNDONE
    assert undo.username == upload.username


def test_a_refused_undo_is_not_recorded(client_as: Callable[[str | None], Client]) -> None:
    job = cast(ImportJob, ImportJobFactory(status=ImportJob.Status.RUNNING))
    client_as(roles.ANALYST).post(f"/imports/{job.pk}/undo/")
    assert not AuditEvent.objects.filter(action=Action.IMPORT_UNDO).exists()


def test_an_assumption_change_is_recorded_with_the_new_values(admin_user: Any) -> None:
    created = assumptions_record(user=admin_user, note="higher rate", recompute=False, annual_discount_rate=Decimal("0.12"))
    event = _last(Action.ASSUMPTIONS_CHANGE)
    assert event.username == admin_user.username and event.target_id == str(created.pk)
    assert event.details == {"version": created.version, "note": "higher rate", "values": {"annual_discount_rate": "0.12"}}


def test_the_month_close_hook_records_closing_and_reopening(admin_user: Any) -> None:
    audit_record_month(month=dt.date(2024, 3, 15), actor=admin_user, details={"note": "board pack sent"})
    audit_record_month(month=dt.date(2024, 3, 1), reopened=True, actor=admin_user)
    closed, reopened = _last("month_close"), _last("month_reopen")
    assert closed.target_repr == "2024-03" and closed.details == {"month": "2024-03-01", "note": "board pack sent"}
    assert reopened.username == admin_user.username and reopened.details == {"month": "2024-03-01"}


def test_an_unknown_action_is_refused(db: None) -> None:
    with pytest.raises(ValueError, match=ERROR_UNKNOWN_ACTION.format(action="month_delete")):
        audit_record(action="month_delete")


def test_token_issue_and_revoke_by_command_are_recorded(executive: Any) -> None:
    out = StringIO()
    call_command("issue_api_token", executive.username, "--name", "finance BI", stdout=out)
    token = ApiToken.objects.get()
    issued = _last(Action.TOKEN_ISSUE)
    assert issued.details == {"user": executive.username, "name": "finance BI", "prefix": token.prefix}
    assert issued.username == ""  # the command line: the system, no logged-in user
    call_command("issue_api_token", executive.username, "--revoke", token.prefix[:8], stdout=StringIO())
    revoked = _last(Action.TOKEN_REVOKE)
    assert revoked.target_id == str(token.pk) and revoked.details["prefix"] == token.prefix


def test_token_revoke_and_delete_in_the_admin_are_recorded_with_the_admin(
    executive: Any, make_user: Callable[..., Any]
) -> None:
    admin = make_user(roles.ADMIN, "token-admin")
    client = Client()
    client.force_login(admin)
    first, _key = api_token_issue(user=executive, name="one")
    second, _key = api_token_issue(user=executive, name="two")
    client.post("/admin/metrics/apitoken/", {"action": "revoke", "_selected_action": [first.pk]})
    event = _last(Action.TOKEN_REVOKE)
    assert (event.target_id, event.username) == (str(first.pk), admin.username)
    client.post(f"/admin/metrics/apitoken/{second.pk}/delete/", {"post": "yes"})
    assert not ApiToken.objects.filter(pk=second.pk).exists()
    deleted = _last(Action.TOKEN_REVOKE)
    assert deleted.target_id == str(second.pk) and deleted.details["deleted"] is True
    assert deleted.username == admin.username


# --- Users and groups ----------------------------------------------------------------------------


def test_users_created_and_changed_in_the_admin_are_recorded_with_who_did_it(
    admin_user: Any, make_user: Callable[..., Any]
) -> None:
    client = Client(REMOTE_ADDR="192.0.2.44")
    client.force_login(admin_user)
    response = client.post("/admin/auth/user/add/", {"username": "new-analyst", "password1": "Sturdy-pass-2026",
                                                     "password2": "Sturdy-pass-2026", "usable_password": "true"})
    assert response.status_code == 302, response.content.decode()[:2000]
    created = _last(Action.USER_CREATE)
    assert (created.target_repr, created.username, created.address) == ("new-analyst", admin_user.username, "192.0.2.44")
    assert "password" not in created.details["fields"]
    user = get_user_model().objects.get(username="new-analyst")
    user.first_name = "Li"
    user.is_active = False
    user.set_password("Another-pass-2026")
    user.save()
    changed = _last(Action.USER_CHANGE)
    assert changed.details == {"changes": {"first_name": ["", "Li"], "is_active": [True, False], "password": "changed"}}


def test_group_membership_and_permission_changes_are_recorded(make_user: Callable[..., Any]) -> None:
    user = make_user(None, "grouped")
    user.groups.add(Group.objects.get(name=roles.ANALYST))
    assert _last(Action.USER_CHANGE).details == {"groups_added": [roles.ANALYST]}
    user.groups.clear()
    assert _last(Action.USER_CHANGE).details == {"groups_removed": [roles.ANALYST]}
    group = Group.objects.create(name="Auditors")
    assert _last(Action.GROUP_CREATE).details == {"name": "Auditors"}
    group.permissions.add(Permission.objects.get(codename="view_auditevent"))
    assert _last(Action.GROUP_CHANGE).details == {"permissions_added": ["audit.view_auditevent"]}
    group.user_set.add(user)
    assert _last(Action.GROUP_CHANGE).details == {"users_added": ["grouped"]}
    user.user_permissions.add(Permission.objects.get(codename="view_board"))
    assert _last(Action.USER_CHANGE).details == {"permissions_added": ["metrics.view_board"]}
    group.delete()
    assert _last(Action.GROUP_DELETE).details == {"name": "Auditors"}


def test_a_login_does_not_record_a_user_change(executive: Any) -> None:
    before = AuditEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    Client().post("/login/", urlencode({"username": executive.username, "password": PASSWORD}), content_type=FORM)
    after = AuditEvent.objects.filter(pk__gt=before)
    assert [e.action for e in after] == [Action.LOGIN]  # last_login changed, no user_change


# --- Deleting users is refused ------------------------------------------------------------------


def test_deleting_a_user_is_refused_so_their_record_stays(analyst: Any, admin_user: Any) -> None:
    job = cast(ImportJob, ImportJobFactory(created_by=analyst))
    LogEntry.objects.log_actions(user_id=analyst.pk, queryset=[job], action_flag=1, single_object=True)
    # Each attempt in its own savepoint: the refusal rolls back the deletion's transaction.
    with pytest.raises(PermissionDenied, match=ERROR_USER_DELETION), transaction.atomic():
        analyst.delete()
    with pytest.raises(PermissionDenied), transaction.atomic():
        get_user_model().objects.filter(pk=analyst.pk).delete()
    job.refresh_from_db()
    assert job.created_by_id == analyst.pk
    assert LogEntry.objects.filter(user_id=analyst.pk).count() == 1


def test_the_admin_role_cannot_delete_users_and_a_superuser_is_refused(
    analyst: Any, admin_user: Any, make_user: Callable[..., Any]
) -> None:
    client = Client()
    client.force_login(admin_user)
    assert not admin_user.has_perm("auth.delete_user")
    assert client.post(f"/admin/auth/user/{analyst.pk}/delete/", {"post": "yes"}).status_code == 403
    root = make_user(None, "root", is_superuser=True, is_staff=True)
    client.force_login(root)
    response = client.post(f"/admin/auth/user/{analyst.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert get_user_model().objects.filter(pk=analyst.pk).exists()


def test_a_renamed_user_keeps_the_name_they_had_in_earlier_entries(executive: Any) -> None:
    Client().post("/login/", urlencode({"username": executive.username, "password": PASSWORD}), content_type=FORM)
    old = executive.username
    executive.username = "renamed-exec"
    executive.save()
    assert AuditEvent.objects.filter(action=Action.LOGIN, username=old).exists()
    assert _last(Action.USER_CHANGE).details == {"changes": {"username": [old, "renamed-exec"]}}
