"""The valuation horizon and projection model are versioned assumptions, set on the assumptions
page or with set_assumptions like the others."""

from __future__ import annotations

from collections.abc import Callable
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from clv_dashboard import roles
from metrics.models import AssumptionSet
from metrics.services import assumptions_ensure

pytestmark = pytest.mark.django_db

FORM = {
    "annual_discount_rate_percent": "10", "activity_window_months": "12", "retention_source": "measured",
    "assumed_monthly_retention_percent": "90", "smoothing_window_months": "12", "default_gross_margin_percent": "30",
    "prediction_horizon_months": "36", "credibility_weight": "100", "note": "valuation for the investor day",
}


@pytest.fixture(autouse=True)
def _quiet(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False


def test_the_defaults_are_120_months_and_trend() -> None:
    current = assumptions_ensure()
    assert current.valuation_horizon_months == 120 and current.acquisition_projection == "trend"


def test_an_admin_sets_them_on_the_assumptions_page_as_a_new_version(client_as: Callable[[str | None], Client]) -> None:
    before = assumptions_ensure()
    admin = client_as(roles.ADMIN)
    assert 'name="valuation_horizon_months"' in admin.get("/assumptions/").content.decode()
    response = admin.post("/assumptions/", {**FORM, "valuation_horizon_months": "60", "acquisition_projection": "logistic"})
    assert response.status_code == 302
    latest = AssumptionSet.objects.order_by("-version").first()
    assert latest is not None and latest.version == before.version + 1
    assert latest.valuation_horizon_months == 60 and latest.acquisition_projection == "logistic"
    # A form posted without them keeps the values in force.
    admin.post("/assumptions/", {**FORM, "note": "another change"})
    newest = AssumptionSet.objects.order_by("-version").first()
    assert newest is not None and (newest.valuation_horizon_months, newest.acquisition_projection) == (60, "logistic")
    page = admin.get("/assumptions/").content.decode()
    assert 'id="current-valuation-horizon">60<' in page and "logistic (saturating)" in page


def test_out_of_range_values_are_refused(client_as: Callable[[str | None], Client]) -> None:
    before = AssumptionSet.objects.count()
    response = client_as(roles.ADMIN).post("/assumptions/", {**FORM, "valuation_horizon_months": "601"})
    assert response.status_code == 200 and AssumptionSet.objects.count() == before
    response = client_as(roles.ADMIN).post("/assumptions/", {**FORM, "acquisition_projection": "linear"})
    assert response.status_code == 200 and AssumptionSet.objects.count() == before


def test_set_assumptions_takes_them_too() -> None:
    assumptions_ensure()
    out = StringIO()
    call_command("set_assumptions", "--note", "ten years is too long", "--valuation-horizon", "84",
                 "--acquisition-projection", "flat", stdout=out)
    latest = AssumptionSet.objects.order_by("-version").first()
    assert latest is not None and latest.valuation_horizon_months == 84 and latest.acquisition_projection == "flat"
    assert "valuation-horizon: 84 (changed)" in out.getvalue()
