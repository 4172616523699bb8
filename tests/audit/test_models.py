"""The audit log is append-only: the model, its queryset, the database and the permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import DatabaseError, connection, transaction

from audit.models import ERROR_APPEND_ONLY, AppendOnlyError, AuditEvent
from audit.services import Action, audit_record


@pytest.fixture
def entry(db: None) -> AuditEvent:
    return audit_record(action=Action.LOGIN, username="someone", details={"k": 1})


def test_an_entry_cannot_be_changed_through_the_model(entry: AuditEvent) -> None:
    entry.username = "someone-else"
    with pytest.raises(AppendOnlyError, match=ERROR_APPEND_ONLY):
        entry.save()
    assert AuditEvent.objects.get(pk=entry.pk).username == "someone"


def test_an_entry_cannot_be_deleted_through_the_model_or_a_queryset(entry: AuditEvent) -> None:
    with pytest.raises(AppendOnlyError, match=ERROR_APPEND_ONLY):
        entry.delete()
    with pytest.raises(AppendOnlyError, match=ERROR_APPEND_ONLY):
        AuditEvent.objects.filter(pk=entry.pk).delete()
    with pytest.raises(AppendOnlyError, match=ERROR_APPEND_ONLY):
        AuditEvent.objects.filter(pk=entry.pk).update(username="x")
    assert AuditEvent.objects.filter(pk=entry.pk, username="someone").exists()


@pytest.mark.postgres
@pytest.mark.parametrize("statement", [
    "UPDATE audit_auditevent SET username = 'x' WHERE id = %s",
    "DELETE FROM audit_auditevent WHERE id = %s",
])
def test_postgresql_refuses_update_and_delete_of_an_entry_in_sql(entry: AuditEvent, statement: str) -> None:
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(statement, [entry.pk])
    assert AuditEvent.objects.filter(pk=entry.pk, username="someone").exists()


def test_the_log_has_only_a_view_permission_to_grant(db: None) -> None:
    codenames = set(Permission.objects.filter(content_type__app_label="audit").values_list("codename", flat=True))
    assert codenames == {"view_auditevent"}


def test_who_is_a_copied_username_not_a_link_to_the_account() -> None:
    assert not [f.name for f in AuditEvent._meta.get_fields() if f.is_relation]
