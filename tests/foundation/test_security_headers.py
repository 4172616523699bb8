"""Every response of the application carries the Content-Security-Policy and no-store."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from clv_dashboard import roles
from clv_dashboard.middleware import content_security_policy
from tests.metrics.board.builders import snapshots_create


@pytest.mark.parametrize("url", [
    "/login/", "/board/", "/board/pack/", "/board/export.csv?month=2025-06", "/board/export.xlsx?month=2025-06",
    "/api/v1/snapshots/", "/api/v1/snapshots/?segment=region=%00", "/customers/", "/imports/", "/assumptions/",
    "/admin/", "/healthz", "/no-such-page/",
])
def test_pages_exports_and_api_answers_are_never_stored_and_carry_the_policy(
    url: str, client_as: Callable[[str | None], Client]
) -> None:
    snapshots_create(months=30)
    response = client_as(roles.ADMIN).get(url)
    assert response.status_code < 500, url
    assert "no-store" in response["Cache-Control"] and "private" in response["Cache-Control"], url
    assert response["Content-Security-Policy"] == content_security_policy()


def test_the_policy_allows_scripts_from_the_site_only() -> None:
    policy = dict(part.split(" ", 1) for part in content_security_policy().split("; "))
    assert policy["script-src"] == "'self'"
    assert policy["object-src"] == "'none'" and policy["frame-ancestors"] == "'none'"
    assert "unsafe-eval" not in content_security_policy()


def test_a_logged_out_visitor_gets_no_store_too(client: Client, db: Any) -> None:
    response = client.get("/login/")
    assert "no-store" in response["Cache-Control"]
