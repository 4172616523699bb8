"""The fit stores its standard errors, warnings and each customer's CLV interval; the customers
page, a customer's page and the export show them."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from decimal import Decimal

import pytest
from django.test import Client

from clv_dashboard import roles
from metrics.models import CustomerPrediction, PredictiveFit
from metrics.predictive.maths import Message
from metrics.predictive.maths.errors import FIT_POORLY_IDENTIFIED
from metrics.predictive.services import CLV_INTERVAL_LEVEL, RETIRED_WARNINGS, clv_models_fit
from tests.responses import streamed_body

from .db import business_simulate

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str | None], Client]


@pytest.fixture
def fitted() -> PredictiveFit:
    business_simulate(n=120)
    # The intervals are BG/NBD's (maths/uncertainty.py): the model is named, not chosen on a holdout.
    fit = clv_models_fit(trigger="test", model="bgnbd")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    return fit


def test_pareto_nbd_predictions_get_their_intervals_from_its_own_standard_errors() -> None:
    business_simulate(n=120)
    fit = clv_models_fit(trigger="test", model="pareto_nbd")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    assert set(fit.standard_errors) == {"pareto_nbd", "gamma_gamma"}
    assert set(fit.standard_errors["pareto_nbd"]) == {"r", "alpha", "s", "beta"}
    assert fit.clv_interval_level == CLV_INTERVAL_LEVEL
    predictions = list(fit.predictions.all())
    assert predictions and all(p.clv_low is not None and p.clv_high is not None and p.clv_low <= p.clv_high
                               for p in predictions)
    inside = sum(p.clv_low <= p.predicted_clv <= p.clv_high for p in predictions)  # type: ignore[operator]
    assert inside >= 0.9 * len(predictions)


def test_too_many_distinct_histories_for_a_model_s_bootstrap_say_so(monkeypatch: pytest.MonkeyPatch) -> None:
    from metrics.predictive.maths import uncertainty

    monkeypatch.setattr(uncertainty, "MAX_PARETO_HISTORIES", 5)
    business_simulate(n=120)
    fit = clv_models_fit(trigger="test", model="pareto_nbd")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    assert fit.clv_interval_level is None
    assert any("at most 5 distinct customer histories" in text for text in fit.warnings_shown)
    assert not fit.predictions.exclude(clv_low=None).exists()


def test_the_fit_stores_standard_errors_and_an_interval_around_each_prediction(fitted: PredictiveFit) -> None:
    assert set(fitted.standard_errors) == {"bgnbd", "gamma_gamma"}
    assert set(fitted.standard_errors["bgnbd"]) == {"r", "alpha", "a", "b"}
    assert all(se > 0 for se in fitted.standard_errors["gamma_gamma"].values())
    assert fitted.clv_interval_level == CLV_INTERVAL_LEVEL
    predictions = list(CustomerPrediction.objects.all())
    assert all(p.clv_low is not None and p.clv_high is not None and p.clv_low <= p.clv_high for p in predictions)
    inside = sum(p.clv_low <= p.predicted_clv <= p.clv_high for p in predictions
                 if p.clv_low is not None and p.clv_high is not None)
    assert inside >= 0.9 * len(predictions)


def test_the_customers_page_shows_the_standard_errors_and_the_intervals(client_as: ClientAs,
                                                                       fitted: PredictiveFit) -> None:
    page = client_as(roles.EXECUTIVE).get("/customers/").content.decode()
    assert 'id="parameter-errors"' in page and "Standard error" in page
    assert page.count('class="muted small clv-interval"') == 50
    assert "90% interval" in page
    best = CustomerPrediction.objects.order_by("-predicted_clv").first()
    assert best is not None
    detail = client_as(roles.EXECUTIVE).get(f"/customers/{best.customer_id}/").content.decode()
    assert 'id="clv-interval"' in detail


def test_the_export_has_the_interval(client_as: ClientAs, fitted: PredictiveFit) -> None:
    body = streamed_body(client_as(roles.EXECUTIVE).get("/customers/export.csv")).decode("utf-8").lstrip("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body)))
    assert rows and all(Decimal(r["clv_low"]) <= Decimal(r["clv_high"]) for r in rows)


def test_a_fit_with_warnings_says_them_on_the_page_in_the_readers_language(client_as: ClientAs,
                                                                          fitted: PredictiveFit) -> None:
    warning = Message(FIT_POORLY_IDENTIFIED, {"model": "BG/NBD", "name": "a", "value": 2.0e4, "se": 9.0e4})
    PredictiveFit.objects.filter(pk=fitted.pk).update(warnings=[warning.as_dict()])
    client = client_as(roles.EXECUTIVE)
    page = client.get("/customers/").content.decode()
    assert 'id="fit-warnings"' in page and str(warning) in page
    client.cookies["django_language"] = "zh-hans"
    chinese = client.get("/customers/").content.decode()
    assert 'id="fit-warnings"' in chinese and str(warning) not in chinese and "BG/NBD" in chinese


def test_a_fit_without_warnings_shows_no_warning_box(client_as: ClientAs, fitted: PredictiveFit) -> None:
    PredictiveFit.objects.filter(pk=fitted.pk).update(warnings=[])
    assert 'id="fit-warnings"' not in client_as(roles.EXECUTIVE).get("/customers/").content.decode()


def test_the_page_shows_a_new_customer_s_distribution_of_repeat_purchases(client_as: ClientAs,
                                                                         fitted: PredictiveFit) -> None:
    from clv_dashboard.formatting import format_percent
    from metrics.predictive.maths import BgNbdParams
    from metrics.predictive.maths.bgnbd import bgnbd_probability_of_n_purchases
    from metrics.predictive.maths.clv import UNITS_PER_MONTH

    assert fitted.bgnbd_r and fitted.bgnbd_alpha and fitted.bgnbd_a and fitted.bgnbd_b
    params = BgNbdParams(fitted.bgnbd_r, fitted.bgnbd_alpha, fitted.bgnbd_a, fitted.bgnbd_b)
    p = bgnbd_probability_of_n_purchases(params, 12 * UNITS_PER_MONTH, 5)
    page = client_as(roles.EXECUTIVE).get("/customers/").content.decode()
    assert 'id="purchase-distribution"' in page
    assert f"P(0) = {format_percent(float(p[0]), decimals=1)}" in page
    assert f"P(6+) = {format_percent(1 - float(p.sum()), decimals=1)}" in page


def test_mbgnbd_predictions_get_their_intervals_from_its_own_standard_errors() -> None:
    business_simulate(n=120)
    fit = clv_models_fit(trigger="test", model="mbgnbd")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    assert set(fit.standard_errors) == {"mbgnbd", "gamma_gamma"}
    assert set(fit.standard_errors["mbgnbd"]) == {"r", "alpha", "a", "b"}
    assert fit.clv_interval_level == CLV_INTERVAL_LEVEL
    # Warnings may remain (a poorly determined parameter), but none says the intervals are missing.
    assert not any("without them" in text for text in fit.warnings_shown)
    predictions = list(fit.predictions.all())
    assert predictions and all(p.clv_low is not None and p.clv_high is not None and p.clv_low <= p.clv_high
                               for p in predictions)
    inside = sum(p.clv_low <= p.predicted_clv <= p.clv_high for p in predictions)  # type: ignore[operator]
    assert inside >= 0.9 * len(predictions)


@pytest.mark.parametrize("template", RETIRED_WARNINGS)
def test_a_warning_an_earlier_release_stored_still_shows_in_the_reader_s_language(template: str) -> None:
    from django.utils import translation

    params = {"model": "Pareto/NBD", "limit": "50,000", "count": "61,204"} if "{model}" in template else {}
    fit = PredictiveFit.objects.create(status=PredictiveFit.Status.SUCCEEDED,
                                       warnings=[Message(template, params).as_dict()])
    with translation.override("zh-hans"):
        (shown,) = fit.warnings_shown
    assert "CLV 区间" in shown and "The CLV intervals" not in shown
