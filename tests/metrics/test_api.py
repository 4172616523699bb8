"""The snapshots API: authentication by session or token, roles, filters and errors."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from clv_dashboard import roles
from metrics import api
from metrics.models import ApiToken
from metrics.selectors import EXPORT_FIELDS
from metrics.services import api_token_issue, snapshots_recompute
from tests.factories import CustomerFactory, TransactionFactory


@pytest.fixture
def data(db: None, settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    north, south = CustomerFactory(region="North"), CustomerFactory(region="South")
    for month in [1, 2, 3]:
        TransactionFactory(customer=north, order_date=dt.date(2024, month, 3))
    TransactionFactory(customer=south, order_date=dt.date(2024, 2, 3))
    snapshots_recompute(trigger="test")


@pytest.mark.parametrize("role", [roles.EXECUTIVE, roles.ANALYST, roles.ADMIN])
def test_every_role_reads_the_company_snapshots_with_its_session(data: None, client_as: Callable[[str | None], Client], role: str) -> None:
    body = client_as(role).get("/api/v1/snapshots/").json()
    assert body["count"] == 3
    assert list(body["results"][0]) == EXPORT_FIELDS
    assert [r["month"] for r in body["results"]] == ["2024-01", "2024-02", "2024-03"]
    assert body["results"][1]["customers_end"] == 2 and body["results"][1]["revenue"] == "200.00"


def test_anonymous_and_role_less_callers_are_refused(data: None, client_as: Callable[[str | None], Client]) -> None:
    response = client_as(None).get("/api/v1/snapshots/")
    assert response.status_code == 401 and response.json()["error"] == api.ERROR_AUTH
    assert response["WWW-Authenticate"].startswith("Bearer")
    response = client_as("").get("/api/v1/snapshots/")
    assert response.status_code == 403 and response.json()["error"] == api.ERROR_FORBIDDEN


def test_a_bearer_token_works_until_it_is_revoked(data: None, executive: Any) -> None:
    _token, key = api_token_issue(user=executive, name="bi")
    stored = ApiToken.objects.get()
    assert key not in (stored.key_hash, stored.prefix) and key.startswith(stored.prefix)
    response = Client().get("/api/v1/snapshots/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 200 and response.json()["count"] == 3
    assert ApiToken.objects.get().last_used_at is not None
    assert Client().get("/api/v1/snapshots/", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    ApiToken.objects.update(revoked=True)
    response = Client().get("/api/v1/snapshots/", HTTP_AUTHORIZATION=f"Bearer {key}")
    assert response.status_code == 401 and response.json()["error"] == api.ERROR_TOKEN


def test_a_token_of_a_user_without_a_role_is_refused(data: None, make_user: Callable[..., Any]) -> None:
    _token, key = api_token_issue(user=make_user(None))
    assert Client().get("/api/v1/snapshots/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 403


def test_segment_dimension_and_month_filters(data: None, client_as: Callable[[str | None], Client]) -> None:
    client = client_as(roles.EXECUTIVE)
    north = client.get("/api/v1/snapshots/?segment=region=North&from=2024-02&to=2024-03").json()["results"]
    assert [(r["scope_value"], r["month"]) for r in north] == [("North", "2024-02"), ("North", "2024-03")]
    every = client.get("/api/v1/snapshots/?dimension=region").json()["results"]
    assert {r["scope_value"] for r in every} == {"North", "South"} and len(every) == 6


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("segment=colour=red", "segment must be DIMENSION=VALUE"),
        ("segment=region", "segment must be DIMENSION=VALUE"),
        ("dimension=colour", "dimension must be one of"),
        ("from=2024-13", "from must be a month as YYYY-MM"),
        ("to=March", "to must be a month as YYYY-MM"),
    ],
)
def test_bad_filters_get_a_400_that_says_how_to_fix_them(
    data: None, client_as: Callable[[str | None], Client], query: str, message: str
) -> None:
    response = client_as(roles.EXECUTIVE).get(f"/api/v1/snapshots/?{query}")
    assert response.status_code == 400 and message in response.json()["error"]


def test_the_explanation_endpoint_returns_the_board_structure(data: None, client_as: Callable[[str | None], Client]) -> None:
    client = client_as(roles.EXECUTIVE)
    body = client.get("/api/v1/snapshots/explain/?month=2024-02&segment=region=North").json()
    assert body["month"] == "2024-02" and body["scope"] == {"dimension": "region", "value": "North"}
    assert body["assumption_version"] == 1
    assert {s["metric"] for s in body["steps"]} >= {"retention_rate", "margin_per_customer", "clv", "customer_equity"}
    assert client.get("/api/v1/snapshots/explain/?month=2030-01").status_code == 404
    assert client.get("/api/v1/snapshots/explain/").status_code == 400


def test_issue_api_token_command_prints_the_key_once_and_can_revoke(data: None, executive: Any, make_user: Callable[..., Any]) -> None:
    out = StringIO()
    call_command("issue_api_token", executive.username, "--name", "finance BI", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    assert Client().get("/api/v1/snapshots/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 200
    call_command("issue_api_token", executive.username, "--revoke", key[:8], stdout=StringIO())
    assert Client().get("/api/v1/snapshots/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
    with pytest.raises(CommandError, match="No user named"):
        call_command("issue_api_token", "nobody")
    with pytest.raises(CommandError, match="cannot read the API"):
        call_command("issue_api_token", make_user(None).username)


def test_an_admin_revokes_tokens_in_the_django_admin(data: None, executive: Any, client_as: Callable[[str | None], Client]) -> None:
    token, key = api_token_issue(user=executive)
    admin = client_as(roles.ADMIN)
    response = admin.post("/admin/metrics/apitoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert response.status_code == 302
    assert ApiToken.objects.get().revoked
    assert Client().get("/api/v1/snapshots/", HTTP_AUTHORIZATION=f"Bearer {key}").status_code == 401
    assert admin.get("/admin/metrics/apitoken/add/").status_code == 403
