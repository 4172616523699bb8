"""Login throttling on /login/ and /admin/login/ (django-axes), by username and by address."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import pytest
from django.test import Client, RequestFactory, override_settings

from clv_dashboard import roles, throttling
from tests.conftest import PASSWORD

FORM = "application/x-www-form-urlencoded"


def _login(client: Client, path: str, username: str, password: str, address: str = "10.0.0.1") -> Any:
    return client.post(path, urlencode({"username": username, "password": password}), content_type=FORM,
                       REMOTE_ADDR=address)


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_after_five_failures_the_right_password_is_refused_with_the_time_to_try_again(
    path: str, make_user: Callable[..., Any], settings: Any
) -> None:
    user = make_user(roles.ADMIN)
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, path, user.username, "wrong").status_code == 200
    locked = _login(client, path, user.username, "wrong")
    assert locked.status_code == 429
    response = _login(client, path, user.username, PASSWORD)
    assert response.status_code == 429
    page = response.content.decode()
    assert "Too many failed logins" in page and "Try again in 15 minutes" in page
    assert "_auth_user_id" not in client.session


def test_a_username_is_locked_whatever_address_the_attempts_come_from(make_user: Callable[..., Any]) -> None:
    user = make_user(roles.EXECUTIVE)
    for i in range(5):
        _login(Client(), "/login/", user.username, "wrong", address=f"10.0.1.{i}")
    assert _login(Client(), "/login/", user.username, PASSWORD, address="10.0.2.1").status_code == 429


def test_an_address_is_locked_whatever_usernames_it_tries(make_user: Callable[..., Any]) -> None:
    user = make_user(roles.EXECUTIVE)
    for i in range(5):
        _login(Client(), "/login/", f"guess-{i}", "wrong", address="10.0.3.9")
    assert _login(Client(), "/login/", user.username, PASSWORD, address="10.0.3.9").status_code == 429
    assert _login(Client(), "/login/", user.username, PASSWORD, address="10.0.3.10").status_code == 302


def test_a_success_before_the_limit_clears_the_count(make_user: Callable[..., Any]) -> None:
    user = make_user(roles.EXECUTIVE)
    for _ in range(4):
        _login(Client(), "/login/", user.username, "wrong")
    assert _login(Client(), "/login/", user.username, PASSWORD).status_code == 302
    for _ in range(4):
        _login(Client(), "/login/", user.username, "wrong")
    assert _login(Client(), "/login/", user.username, PASSWORD).status_code == 302


def test_the_lockout_message_is_translated(make_user: Callable[..., Any]) -> None:
    user = make_user(roles.EXECUTIVE)
    client = Client()
    client.cookies["django_language"] = "zh-hans"
    for _ in range(6):
        response = _login(client, "/login/", user.username, "wrong")
    assert response.status_code == 429
    assert "登录失败次数过多" in response.content.decode()


@override_settings(CLV_TRUSTED_PROXIES=1)
def test_behind_one_proxy_the_client_address_is_the_one_the_proxy_appended() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert throttling.client_ip(request) == "203.0.113.7"


def test_without_a_trusted_proxy_x_forwarded_for_is_ignored() -> None:
    request = RequestFactory().get("/", REMOTE_ADDR="198.51.100.2", HTTP_X_FORWARDED_FOR="6.6.6.6")
    assert throttling.client_ip(request) == "198.51.100.2"
