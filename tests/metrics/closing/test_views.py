"""Closing and reopening from the assumptions page: who may, what it says."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from clv_dashboard import roles
from metrics.models import MonthClose
from metrics.services import snapshots_recompute
from tests.factories import TransactionFactory


@pytest.fixture
def two_months(db: None, settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    first = TransactionFactory(order_date=dt.date(2024, 1, 5))
    TransactionFactory(order_date=dt.date(2024, 2, 5), customer=first.customer)
    snapshots_recompute(trigger="test")


@pytest.mark.parametrize("role", [None, roles.EXECUTIVE, roles.ANALYST])
def test_only_admins_close_and_reopen(client_as: Callable[[str | None], Client], two_months: None,
                                      role: str | None) -> None:
    client = client_as(role)
    for url, data in [("/assumptions/close-month/", "month=2024-01"),
                      ("/assumptions/reopen-month/", "month=2024-01&note=x")]:
        response = client.post(url, data, content_type="application/x-www-form-urlencoded")
        if role is None:
            assert response.status_code == 302 and response["Location"].startswith("/login/")
        else:
            assert response.status_code == 403
    assert not MonthClose.objects.exists()
    if role is not None:
        page = client.get("/assumptions/").content.decode()
        assert 'id="closing"' in page and 'id="close-month-form"' not in page


def test_an_admin_closes_a_month_and_reopens_it_with_a_note(client_as: Callable[[str | None], Client],
                                                           two_months: None) -> None:
    client = client_as(roles.ADMIN)
    page = client.get("/assumptions/").content.decode()
    assert 'id="close-month-form"' in page and '<option value="2024-02">' in page
    assert client.get("/assumptions/close-month/").status_code == 405
    response = client.post("/assumptions/close-month/", {"month": "2024-02", "note": "Q1 board"}, follow=True)
    assert "is closed: its figures are published" in response.content.decode()
    close = MonthClose.objects.get()
    assert close.closed_by_name and close.note == "Q1 board"
    # Reopening needs a note, and says so.
    response = client.post("/assumptions/reopen-month/", {"month": "2024-02", "note": ""}, follow=True)
    assert "the note is required" in response.content.decode()
    response = client.post("/assumptions/reopen-month/", {"month": "2024-02", "note": "late file"}, follow=True)
    page = response.content.decode()
    assert "its publication stays in the record" in page and "reopened: late file" in page
    # Closing it twice is refused with the reason; a bad month says how to write it.
    client.post("/assumptions/close-month/", {"month": "2024-02"})
    response = client.post("/assumptions/close-month/", {"month": "2024-02"}, follow=True)
    assert "already closed" in response.content.decode()
    response = client.post("/assumptions/close-month/", {"month": "Feb"}, follow=True)
    assert "YYYY-MM" in response.content.decode()
    assert MonthClose.objects.count() == 2


def test_the_page_speaks_chinese(client_as: Callable[[str | None], Client], two_months: None) -> None:
    client = client_as(roles.ADMIN)
    page = client.get("/assumptions/", HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "已结账月份" in page
