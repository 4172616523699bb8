"""The Django admin: nobody climbs a role, and the application's records are read-only there."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client

from clv_dashboard import roles
from customers.models import ImportJob
from tests.factories import ImportJobFactory

FORM = "application/x-www-form-urlencoded"


def _change(client: Client, user: User, **data: Any) -> Any:
    form = {"username": user.username, "first_name": "", "last_name": "", "email": "", "is_active": "on",
            "date_joined_0": "2026-01-01", "date_joined_1": "00:00:00", **data}
    return client.post(f"/admin/auth/user/{user.pk}/change/", urlencode(form, doseq=True), content_type=FORM)


@pytest.fixture
def admin_client(admin_user: Any) -> Client:
    client = Client()
    client.force_login(admin_user)
    return client


def test_the_admin_role_cannot_make_itself_superuser_or_staff_or_change_its_groups(
    admin_client: Client, admin_user: Any
) -> None:
    response = _change(admin_client, admin_user, is_superuser="on", is_staff="on", first_name="Ann",
                       groups=[Group.objects.get(name=roles.ADMIN).pk, Group.objects.get(name=roles.ANALYST).pk],
                       user_permissions=[1, 2])
    assert response.status_code == 302, response.content.decode()[:2000]
    admin_user.refresh_from_db()
    assert admin_user.first_name == "Ann"  # ordinary fields do change
    assert not admin_user.is_superuser
    assert list(admin_user.groups.values_list("name", flat=True)) == [roles.ADMIN]
    assert not admin_user.user_permissions.exists()


def test_the_admin_role_cannot_grant_staff_or_a_role_to_an_ordinary_user(
    admin_client: Client, make_user: Callable[..., Any]
) -> None:
    executive = make_user(roles.EXECUTIVE)
    response = _change(admin_client, executive, is_staff="on", is_superuser="on",
                       groups=[Group.objects.get(name=roles.ADMIN).pk])
    assert response.status_code == 302
    executive.refresh_from_db()
    assert not executive.is_staff and not executive.is_superuser
    assert list(executive.groups.values_list("name", flat=True)) == [roles.EXECUTIVE]
    page = admin_client.get(f"/admin/auth/user/{executive.pk}/change/").content.decode()
    assert 'name="is_superuser"' not in page and 'name="groups"' not in page and 'name="is_staff"' not in page


def test_the_admin_role_manages_ordinary_users(admin_client: Client, make_user: Callable[..., Any]) -> None:
    executive = make_user(roles.EXECUTIVE)
    response = _change(admin_client, executive, email="e@example.com", is_active="")
    assert response.status_code == 302
    executive.refresh_from_db()
    assert executive.email == "e@example.com" and not executive.is_active
    response = admin_client.post("/admin/auth/user/add/", urlencode({
        "username": "newcomer", "usable_password": "true", "password1": "a-Long-pass-9876", "password2": "a-Long-pass-9876"}),
        content_type=FORM)
    assert response.status_code == 302
    assert User.objects.filter(username="newcomer", is_staff=False, is_superuser=False).exists()


def test_the_admin_role_can_neither_change_nor_delete_a_superuser(admin_client: Client) -> None:
    root = User.objects.create_superuser("root", "root@example.com", "root-pass-123")
    assert admin_client.get(f"/admin/auth/user/{root.pk}/change/").status_code == 200  # seen, read-only
    response = _change(admin_client, root, is_superuser="", email="x@example.com")
    assert response.status_code == 403
    assert admin_client.post(f"/admin/auth/user/{root.pk}/password/", urlencode(
        {"password1": "Taken-over-123", "password2": "Taken-over-123"}), content_type=FORM).status_code == 403
    assert admin_client.post(f"/admin/auth/user/{root.pk}/delete/", "post=yes", content_type=FORM).status_code == 403
    root.refresh_from_db()
    assert root.is_superuser and root.email == "root@example.com" and root.check_password("root-pass-123")


def test_the_admin_role_cannot_edit_the_role_groups(admin_client: Client) -> None:
    group = Group.objects.get(name=roles.EXECUTIVE)
    response = admin_client.post(f"/admin/auth/group/{group.pk}/change/", urlencode(
        {"name": "Executive", "permissions": [p.pk for p in Group.objects.get(name=roles.ADMIN).permissions.all()]},
        doseq=True), content_type=FORM)
    assert response.status_code == 403
    assert admin_client.post("/admin/auth/group/add/", "name=Climbers", content_type=FORM).status_code == 403
    assert group.permissions.count() == len(roles.ROLE_PERMISSIONS[roles.EXECUTIVE])


def test_a_superuser_still_grants_roles_and_staff(make_user: Callable[..., Any]) -> None:
    root = User.objects.create_superuser("root", "root@example.com", "root-pass-123")
    client = Client()
    client.force_login(root)
    executive = make_user(roles.EXECUTIVE)
    response = _change(client, executive, is_staff="on", groups=[Group.objects.get(name=roles.ADMIN).pk])
    assert response.status_code == 302
    executive.refresh_from_db()
    assert executive.is_staff and list(executive.groups.values_list("name", flat=True)) == [roles.ADMIN]


@pytest.mark.parametrize("model", [
    "customers/importjob", "customers/transaction", "customers/costentry", "metrics/monthlysnapshot",
    "metrics/recomputerun", "metrics/predictivefit", "metrics/assumptionset", "customers/headermapping",
    "aliases/segmentalias", "aliases/aliasversion",
])
def test_the_applications_records_cannot_be_added_from_the_admin_even_by_a_superuser(model: str, db: None) -> None:
    root = User.objects.create_superuser("root", "root@example.com", "root-pass-123")
    client = Client()
    client.force_login(root)
    assert client.get(f"/admin/{model}/").status_code == 200
    assert client.get(f"/admin/{model}/add/").status_code == 403
    assert client.post(f"/admin/{model}/add/", "", content_type=FORM).status_code == 403


def test_an_empty_post_to_the_importjob_add_page_creates_no_phantom_import(db: None) -> None:
    root = User.objects.create_superuser("root", "root@example.com", "root-pass-123")
    client = Client()
    client.force_login(root)
    for body in ["", "kind=transactions&status=succeeded"]:
        assert client.post("/admin/customers/importjob/add/", body, content_type=FORM).status_code == 403
    assert ImportJob.objects.count() == 0


def test_an_import_cannot_be_changed_or_deleted_from_the_admin(db: None) -> None:
    root = User.objects.create_superuser("root", "root@example.com", "root-pass-123")
    client = Client()
    client.force_login(root)
    job: Any = ImportJobFactory(status=ImportJob.Status.SUCCEEDED)
    page = client.get(f"/admin/customers/importjob/{job.pk}/change/")
    assert page.status_code == 200 and 'name="_save"' not in page.content.decode()
    assert client.post(f"/admin/customers/importjob/{job.pk}/change/", "status=failed",
                       content_type=FORM).status_code == 403
    assert client.post(f"/admin/customers/importjob/{job.pk}/delete/", "post=yes", content_type=FORM).status_code == 403
    assert client.post("/admin/customers/importjob/", urlencode(
        {"action": "delete_selected", "_selected_action": job.pk, "post": "yes"}), content_type=FORM).status_code == 200
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED
