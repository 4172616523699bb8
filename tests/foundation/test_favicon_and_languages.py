"""The icon browsers ask for, the language list in each language's own name, the admin's header."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from clv_dashboard import roles

pytestmark = pytest.mark.django_db


def test_favicon_ico_is_served_to_anyone() -> None:
    response = Client().get("/favicon.ico")
    assert response.status_code == 200
    assert response["Content-Type"] == "image/x-icon"
    assert response.content.startswith(b"\x00\x00\x01\x00")  # an ICO header, one image


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_language_list_names_each_language_in_itself(language: str) -> None:
    page = Client(headers={"accept-language": language}).get("/login/").content.decode()
    assert ">English</option>" in page and ">简体中文</option>" in page
    assert "Simplified Chinese" not in page


def test_the_admin_header_is_translated(client_as: Callable[[str | None], Client]) -> None:
    client = client_as(roles.ADMIN)
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/admin/").content.decode()
    assert "客户资产仪表盘" in page
    assert "Customer Equity Dashboard" not in page


def test_the_api_token_page_says_how_tokens_are_issued(client_as: Callable[[str | None], Client]) -> None:
    client = client_as(roles.ADMIN)
    page = client.get("/admin/metrics/apitoken/").content.decode()
    assert 'id="api-token-hint"' in page and "python manage.py issue_api_token" in page
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/admin/metrics/apitoken/").content.decode()
    assert "python manage.py issue_api_token" in page and "签发" in page
