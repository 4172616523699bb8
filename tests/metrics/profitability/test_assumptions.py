"""The cost-to-serve driver: a versioned assumption, on the assumptions page and the command line."""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from clv_dashboard import roles
from metrics.models import AssumptionSet
from metrics.services import assumptions_ensure, assumptions_record

pytestmark = pytest.mark.django_db

FORM = {
    "annual_discount_rate_percent": "10", "activity_window_months": "12", "retention_source": "measured",
    "assumed_monthly_retention_percent": "90", "smoothing_window_months": "12", "default_gross_margin_percent": "30",
    "prediction_horizon_months": "36", "credibility_weight": "100", "note": "Serve cost follows purchases",
}


@pytest.fixture(autouse=True)
def _no_fit(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False


def _post(client: Client, data: dict[str, str]) -> Any:
    return client.post("/assumptions/", urllib.parse.urlencode(data), content_type="application/x-www-form-urlencoded")


def test_the_default_driver_is_equal() -> None:
    assert assumptions_ensure().cost_to_serve_driver == "equal"


def test_an_admin_sets_the_purchase_driver_on_the_page_and_the_history_marks_it(
        client_as: Callable[[str | None], Client]) -> None:
    client = client_as(roles.ADMIN)
    assumptions_ensure()
    assert 'name="cost_to_serve_driver"' in client.get("/assumptions/").content.decode()
    assert _post(client, FORM | {"cost_to_serve_driver": "purchase"}).status_code == 302
    latest = AssumptionSet.objects.latest()
    assert (latest.version, latest.cost_to_serve_driver) == (2, "purchase")
    page = client.get("/assumptions/").content.decode()
    assert '<td class="changed">per purchase</td>' in page


def test_a_form_without_the_driver_keeps_the_one_in_force(client_as: Callable[[str | None], Client]) -> None:
    client = client_as(roles.ADMIN)
    assumptions_record(user=None, note="per purchase", recompute=False, cost_to_serve_driver="purchase")
    assert _post(client, FORM | {"annual_discount_rate_percent": "11"}).status_code == 302
    assert AssumptionSet.objects.latest().cost_to_serve_driver == "purchase"


def test_an_unknown_driver_is_refused_by_the_form(client_as: Callable[[str | None], Client]) -> None:
    client = client_as(roles.ADMIN)
    assumptions_ensure()
    response = _post(client, FORM | {"cost_to_serve_driver": "revenue"})
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert AssumptionSet.objects.count() == 1


def test_set_assumptions_takes_the_cost_to_serve_driver() -> None:
    out = StringIO()
    call_command("set_assumptions", "--note", "per purchase", "--cost-to-serve-driver", "purchase", stdout=out)
    assert AssumptionSet.objects.latest().cost_to_serve_driver == "purchase"
    assert "cost-to-serve-driver: purchase (changed)" in out.getvalue()
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("set_assumptions", "--note", "x", "--cost-to-serve-driver", "revenue")
