"""/api/v1/customers/: the customer rows, paginated, for executives and above."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client

from clv_dashboard import roles
from metrics.profitability.api import ERROR_PAGE
from metrics.profitability.selectors import CUSTOMER_EXPORT_FIELDS
from metrics.services import api_token_issue, assumptions_record, snapshots_recompute

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]


@pytest.fixture
def recomputed(business: dict[str, int], settings: Any) -> dict[str, int]:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    assumptions_record(user=None, note="W of 3", recompute=False, activity_window_months=3)
    snapshots_recompute(trigger="test")
    return business


def test_pages_of_customers_with_their_profitability(client_as: Callable[[str | None], Client],
                                                     recomputed: dict[str, int]) -> None:
    client = client_as(roles.EXECUTIVE)
    first = client.get("/api/v1/customers/?page_size=2").json()
    assert (first["count"], first["pages"], first["page"]) == (5, 3, 1)
    assert [r["customer_id"] for r in first["results"]] == ["A", "B"]
    assert list(first["results"][0]) == CUSTOMER_EXPORT_FIELDS
    assert first["results"][0]["net_profit_to_date"] == "-103.33" and first["results"][0]["month"] == "2024-06"
    last = client.get("/api/v1/customers/?page_size=2&page=3").json()
    assert [r["customer_id"] for r in last["results"]] == ["E"]
    north = client.get("/api/v1/customers/?segment=region%3DNorth").json()
    assert [r["customer_id"] for r in north["results"]] == ["A", "C"]


def test_a_token_reads_the_customers_and_strangers_are_refused(make_user: Callable[..., Any],
                                                               client_as: Callable[[str | None], Client],
                                                               recomputed: dict[str, int]) -> None:
    _token, key = api_token_issue(user=make_user(roles.EXECUTIVE))
    assert Client().get("/api/v1/customers/", HTTP_AUTHORIZATION=f"Bearer {key}").json()["count"] == 5
    assert Client().get("/api/v1/customers/").status_code == 401
    assert client_as("").get("/api/v1/customers/").status_code == 403


@pytest.mark.parametrize("query", ["page=0", "page=x", "page_size=1001", "colour=red"])
def test_bad_parameters_say_how_to_fix_them(client_as: Callable[[str | None], Client], recomputed: dict[str, int],
                                            query: str) -> None:
    response = client_as(roles.ANALYST).get(f"/api/v1/customers/?{query}")
    assert response.status_code == 400
    if query.startswith("page"):
        assert response.json()["error"] == ERROR_PAGE.format(limit=1000)
