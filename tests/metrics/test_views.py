"""The assumptions page: who sees it, who changes it, validation, and the recompute it starts."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from django.test import Client
from django.utils import translation

from clv_dashboard import roles
from metrics.forms import ERROR_NOTE_REQUIRED, ERROR_RETENTION_RANGE
from metrics.models import AssumptionSet, RecomputeRun

VALID = {
    "annual_discount_rate_percent": "12.5", "activity_window_months": "9", "retention_source": "assumed",
    "assumed_monthly_retention_percent": "85", "smoothing_window_months": "6", "default_gross_margin_percent": "35",
    "prediction_horizon_months": "24", "credibility_weight": "50", "note": "Board asked for a higher hurdle rate",
}


@pytest.fixture(autouse=True)
def _no_fit(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False


@pytest.mark.parametrize("role", [roles.EXECUTIVE, roles.ANALYST])
def test_executives_and_analysts_see_the_assumptions_read_only(client_as: Callable[[str | None], Client], role: str) -> None:
    response = client_as(role).get("/assumptions/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "In force: version 1" in page and "Defaults of METRICS.md" in page
    assert "<form method=\"post\" novalidate class=\"assumptions-form\">" not in page
    assert "Only administrators can change the assumptions" in page
    assert client_as(role).post("/assumptions/", VALID).status_code == 403
    assert AssumptionSet.objects.count() == 1


def test_an_admin_sees_the_form_with_the_current_values(client_as: Callable[[str | None], Client]) -> None:
    page = client_as(roles.ADMIN).get("/assumptions/").content.decode()
    assert 'name="annual_discount_rate_percent"' in page and 'value="10"' in page
    # Every rate in percent: the assumed retention 0.90 shows as 90, the default margin 0.30 as 30.
    assert re.search(r'name="assumed_monthly_retention_percent" value="90"', page)
    assert re.search(r'name="default_gross_margin_percent" value="30"', page)


def test_every_rate_of_the_assumptions_form_is_in_percent() -> None:
    from metrics.forms import AssumptionsForm

    form = AssumptionsForm()
    # The rates and shares of the model (stored as shares) are typed in percent; no field takes a share.
    rates = [name for name in form.fields if name.endswith("_percent")]
    assert rates == ["annual_discount_rate_percent", "assumed_monthly_retention_percent", "default_gross_margin_percent",
                     "model_holdout_share_percent"]
    assert not {"annual_discount_rate", "assumed_monthly_retention", "default_gross_margin_rate",
                "model_holdout_share"} & set(form.fields)
    for name in rates:
        assert str(form.fields[name].label).endswith("(%)"), name
    with translation.override("zh-hans"):
        labels = [str(AssumptionsForm().fields[name].label) for name in rates]
    assert all(label.endswith("(%)") or label.endswith("（%）") for label in labels), labels


def test_a_user_without_a_role_is_refused_and_a_visitor_is_sent_to_login(client_as: Callable[[str | None], Client]) -> None:
    assert client_as(None).get("/assumptions/").status_code == 302
    assert client_as(None).get("/assumptions/recompute-status/").status_code == 302
    assert client_as("").get("/assumptions/").status_code == 403


def test_an_admin_change_makes_a_new_version_and_starts_a_recompute(
    client_as: Callable[[str | None], Client], django_capture_on_commit_callbacks: Any
) -> None:
    client = client_as(roles.ADMIN)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/assumptions/", VALID)
    assert response.status_code == 302
    latest = AssumptionSet.objects.latest()
    assert latest.version == 2 and str(latest.annual_discount_rate) == "0.125000"
    assert latest.retention_source == "assumed" and latest.note == VALID["note"]
    assert str(latest.assumed_monthly_retention) == "0.850000"  # typed in percent, stored as a share
    assert latest.credibility_weight == 50
    assert RecomputeRun.objects.filter(trigger="assumptions").exists()
    page = client.get("/assumptions/").content.decode()
    assert "Saved as version 2" in page and "Board asked for a higher hurdle rate" in page
    # The board links each figure to its version: /assumptions/#v<version>.
    assert 'id="v2"' in page and 'id="v1"' in page
    # The history shows what each version changed: v2 changed every value against v1.
    v2_row = page.split('id="v2"', 1)[1].split("</tr>", 1)[0]
    assert v2_row.count("changed") == 8  # every assumption, k included
    assert '<td class="num changed">12.50%</td>' in v2_row and 'class="changed">assumed</td>' in v2_row
    v1_row = page.split('id="v1"', 1)[1].split("</tr>", 1)[0]
    assert "changed" not in v1_row
    # A version that changes only the discount rate marks only that value.
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/assumptions/", {**VALID, "annual_discount_rate_percent": "13", "note": "Rate up again"})
    v3_row = client.get("/assumptions/").content.decode().split('id="v3"', 1)[1].split("</tr>", 1)[0]
    assert v3_row.count("changed") == 1 and '<td class="num changed">13.00%</td>' in v3_row
    status = client.get("/assumptions/recompute-status/").json()
    assert status["runs"][0]["trigger"] == "assumptions" and status["running"] is False
    assert status["runs"][0]["trigger_label"] == "assumptions changed" and "assumptions changed" in page


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("annual_discount_rate_percent", "101", "less than or equal to 100"),
        ("annual_discount_rate_percent", "-1", "greater than or equal to 0"),
        ("assumed_monthly_retention_percent", "100", str(ERROR_RETENTION_RANGE)),
        ("assumed_monthly_retention_percent", "-0.5", "greater than or equal to 0"),
        ("activity_window_months", "0", "greater than or equal to 1"),
        ("smoothing_window_months", "61", "less than or equal to 60"),
        ("default_gross_margin_percent", "100.5", "less than or equal to 100"),
        ("note", "   ", str(ERROR_NOTE_REQUIRED)),
    ],
)
def test_invalid_assumptions_are_refused_with_a_message(
    client_as: Callable[[str | None], Client], field: str, value: str, message: str
) -> None:
    response = client_as(roles.ADMIN).post("/assumptions/", {**VALID, field: value})
    assert response.status_code == 200
    assert message in response.content.decode()
    assert AssumptionSet.objects.count() == 1
