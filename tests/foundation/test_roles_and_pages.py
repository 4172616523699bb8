from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from clv_dashboard import roles

ROLES = [roles.EXECUTIVE, roles.ANALYST, roles.ADMIN]


def test_the_three_role_groups_exist_with_their_permissions(role_groups: None) -> None:
    perms = {g.name: {f"{p.content_type.app_label}.{p.codename}" for p in g.permissions.all()} for g in Group.objects.all()}
    assert "metrics.view_board" in perms[roles.EXECUTIVE]
    assert "customers.manage_imports" not in perms[roles.EXECUTIVE]
    assert "customers.manage_imports" in perms[roles.ANALYST]
    assert "metrics.change_assumptions" not in perms[roles.ANALYST]
    assert "metrics.change_assumptions" in perms[roles.ADMIN]
    assert "auth.change_user" in perms[roles.ADMIN]
    # Each role has everything the one below it has.
    assert perms[roles.EXECUTIVE] <= perms[roles.ANALYST] <= perms[roles.ADMIN]


def test_every_declared_permission_exists(role_groups: None) -> None:
    for role, declared in roles.ROLE_PERMISSIONS.items():
        assert Group.objects.get(name=role).permissions.count() == len(declared), role


def test_logged_out_visitor_is_sent_to_login(db: None) -> None:
    for url in ["/", "/board/", "/imports/", "/customers/", "/assumptions/"]:
        response = Client().get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/"), url


def test_login_page_is_served_to_logged_out_visitors(db: None) -> None:
    response = Client().get("/login/")
    assert response.status_code == 200
    assert b'name="username"' in response.content


@pytest.mark.parametrize("role", ROLES)
def test_home_sends_every_role_to_the_board(role: str, client_as: Callable[[str | None], Client]) -> None:
    response = client_as(role).get("/")
    assert response.status_code == 302
    assert response["Location"] == "/board/"


def test_a_user_without_a_role_is_told_to_ask_for_one(make_user: Callable[..., Any]) -> None:
    client = Client()
    client.force_login(make_user(None))
    response = client.get("/")
    assert response.status_code == 403
    assert b"No role yet" in response.content


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (roles.EXECUTIVE, ["board", "customers", "assumptions"], ["imports", "admin"]),
        (roles.ANALYST, ["board", "customers", "imports", "assumptions"], ["admin"]),
        (roles.ADMIN, ["board", "customers", "imports", "assumptions", "admin"], []),
    ],
)
def test_navigation_shows_the_pages_of_the_role(
    role: str, shown: list[str], hidden: list[str], client_as: Callable[[str | None], Client]
) -> None:
    html = client_as(role).get("/login/").content.decode()
    for item in shown:
        assert f'data-nav="{item}"' in html, item
    for item in hidden:
        assert f'data-nav="{item}"' not in html, item


@pytest.mark.parametrize(("role", "allowed"), [(roles.EXECUTIVE, False), (roles.ANALYST, False), (roles.ADMIN, True)])
def test_only_admins_reach_the_django_admin_and_its_user_list(
    role: str, allowed: bool, client_as: Callable[[str | None], Client]
) -> None:
    response = client_as(role).get("/admin/auth/user/")
    if allowed:
        assert response.status_code == 200
    else:
        assert response.status_code == 302
        assert "/admin/login/" in response["Location"]


def test_admins_can_open_the_user_change_form(client_as: Callable[[str | None], Client]) -> None:
    client = client_as(roles.ADMIN)
    assert client.get("/admin/auth/user/add/").status_code == 200
