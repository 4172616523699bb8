"""The audit log page and its exports: who may open them, filters, safe CSV, JSON, read-only admin."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from audit.services import Action, audit_record
from clv_dashboard import roles
from tests.responses import streamed_body

URLS = ["/audit/", "/audit/export.csv", "/audit/export.json"]


@pytest.mark.parametrize(
    ("role", "allowed"),
    [(None, False), ("no-role", False), (roles.EXECUTIVE, False), (roles.ANALYST, False), (roles.ADMIN, True)],
)
@pytest.mark.parametrize("url", URLS)
def test_only_admins_open_the_audit_log_and_its_exports(
    role: str | None, allowed: bool, url: str, client_as: Callable[[str | None], Client], make_user: Callable[..., Any]
) -> None:
    if role == "no-role":
        client = Client()
        client.force_login(make_user(None))
    else:
        client = client_as(role)
    response = client.get(url)
    if role is None:
        assert response.status_code == 302 and response["Location"].startswith("/login/")
    elif not allowed:
        assert response.status_code == 403
    else:
        assert response.status_code == 200


@pytest.mark.parametrize("url", URLS)
def test_nobody_can_post_to_the_audit_log(url: str, client_as: Callable[[str | None], Client]) -> None:
    client = client_as(roles.ADMIN)
    count = AuditEvent.objects.count()
    assert client.post(url, {"action": "login"}).status_code == 405
    assert AuditEvent.objects.count() == count


def test_the_navigation_links_the_audit_log_for_admins_only(client_as: Callable[[str | None], Client]) -> None:
    assert 'data-nav="audit"' in client_as(roles.ADMIN).get("/board/").content.decode()
    assert 'data-nav="audit"' not in client_as(roles.ANALYST).get("/board/").content.decode()


@pytest.fixture
def entries(db: None) -> None:
    audit_record(action=Action.LOGIN_FAILED, username="mallory", target="mallory", address="198.51.100.1")
    audit_record(action=Action.IMPORT_UPLOAD, username="li.wei", target="#7 transactions 华东.csv",
                 details={"file": "华东.csv"})
    audit_record(action=Action.LOGIN, username="=HYPERLINK(\"http://x\")", target="+cmd|' /C calc'!A0")


def test_admins_filter_the_log_by_action_user_target_and_day(entries: None, client_as: Callable[[str | None], Client]) -> None:
    client = client_as(roles.ADMIN)
    html = client.get("/audit/", {"action": "login_failed"}).content.decode()
    assert "mallory" in html and "li.wei" not in html
    html = client.get("/audit/", {"username": "LI.WEI"}).content.decode()
    assert "华东.csv" in html and "mallory" not in html
    html = client.get("/audit/", {"target": "华东"}).content.decode()
    assert "li.wei" in html and "mallory" not in html
    tomorrow = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    html = client.get("/audit/", {"since": tomorrow}).content.decode()
    assert 'id="audit-empty"' in html
    response = client.get("/audit/", {"since": "not-a-day"})
    assert response.status_code == 400 and "YYYY-MM-DD" in response.content.decode()


def test_the_page_shows_the_entries_in_chinese_too(entries: None, client_as: Callable[[str | None], Client]) -> None:
    client = client_as(roles.ADMIN)
    html = client.get("/audit/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "审计日志" in html and "登录失败" in html


def test_the_csv_export_neutralises_formulas_and_keeps_the_filter(
    entries: None, client_as: Callable[[str | None], Client]
) -> None:
    response = client_as(roles.ADMIN).get("/audit/export.csv", {"action": "login"})
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    assert "no-store" in response["Cache-Control"]
    rows = list(csv.DictReader(io.StringIO(streamed_body(response).decode())))
    hostile = [r for r in rows if "HYPERLINK" in r["username"]]
    assert len(hostile) == 1
    assert hostile[0]["username"].startswith("'=") and hostile[0]["target"].startswith("'+")
    assert {r["action"] for r in rows} == {"login"}


def test_the_json_export_lists_every_field_of_the_filtered_entries(
    entries: None, client_as: Callable[[str | None], Client]
) -> None:
    response = client_as(roles.ADMIN).get("/audit/export.json", {"username": "li.wei"})
    data = json.loads(streamed_body(response))
    assert len(data) == 1
    assert data[0]["action"] == "import_upload" and data[0]["details"] == {"file": "华东.csv"}
    assert set(data[0]) == {"id", "time", "action", "username", "address", "target_type", "target_id", "target", "details"}


def test_an_unknown_export_format_is_not_found(client_as: Callable[[str | None], Client]) -> None:
    assert client_as(roles.ADMIN).get("/audit/export.xml").status_code == 404


def test_the_django_admin_shows_entries_and_lets_nobody_add_change_or_delete_them(
    entries: None, make_user: Callable[..., Any]
) -> None:
    root = make_user(None, "root", is_superuser=True, is_staff=True)
    client = Client()
    client.force_login(root)
    event = AuditEvent.objects.filter(username="mallory").get()
    assert client.get("/admin/audit/auditevent/").status_code == 200
    detail = client.get(f"/admin/audit/auditevent/{event.pk}/change/")
    assert detail.status_code == 200 and 'name="_save"' not in detail.content.decode()
    assert client.post(f"/admin/audit/auditevent/{event.pk}/change/", {"username": "x"}).status_code == 403
    assert client.get("/admin/audit/auditevent/add/").status_code == 403
    assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = client.post("/admin/audit/auditevent/", {"action": "delete_selected", "_selected_action": [event.pk]})
    assert bulk.status_code in (200, 302)
    assert AuditEvent.objects.filter(pk=event.pk, username="mallory").exists()


def test_the_admin_role_reads_the_log_in_the_django_admin_but_cannot_change_it(
    entries: None, client_as: Callable[[str | None], Client]
) -> None:
    client = client_as(roles.ADMIN)
    event = AuditEvent.objects.filter(username="mallory").get()
    assert client.get("/admin/audit/auditevent/").status_code == 200
    assert client.post(f"/admin/audit/auditevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
