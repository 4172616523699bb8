"""The predictive model assumption: auto chooses BG/NBD, MBG/NBD or Pareto/NBD on a holdout,
refits the winner on the whole history and scores with it; a named model is used as it is."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable
from io import StringIO
from typing import Any, cast

import numpy as np
import pandas as pd
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from audit.models import AuditEvent
from clv_dashboard import roles
from customers.models import Customer
from metrics.models import AssumptionSet, CustomerPrediction, PredictiveFit
from metrics.predictive import selectors
from metrics.predictive.maths.purchase_models import (
    PurchaseModel,
    purchase_model_conditional_expected,
    purchase_model_fit,
)
from metrics.predictive.services import MSG_MODEL_CHOSEN, MSG_MODEL_FALLBACK, clv_models_fit
from metrics.predictive.validation.maths import (
    ERROR_TOO_FEW_CUSTOMERS,
    calibration_end_for,
    holdout_inputs_from_transactions,
)
from metrics.predictive.validation.selectors import holdout_inputs_read
from metrics.services import assumptions_ensure, assumptions_record
from tests.factories import CustomerFactory

from .cdnow import CALIBRATION_END, sample_transactions
from .db import business_simulate, buy, cdnow_load

pytestmark = pytest.mark.django_db
YEAR = 365.25 / 7


@pytest.fixture(autouse=True)
def _no_fit_after_recompute(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False


@pytest.fixture
def cdnow() -> dict[int, int]:
    return cdnow_load()


def _summary() -> pd.DataFrame:
    fit = PredictiveFit.objects.latest("started_at")
    assert fit.data_date is not None
    return selectors.rfm_summary_frame(observation_end=fit.data_date, default_margin_rate=0.3)


def test_the_holdout_split_in_sql_equals_the_pure_reference(cdnow: dict[int, int]) -> None:
    end = dt.date(1998, 6, 30)
    stored = holdout_inputs_read(calibration_end=CALIBRATION_END, holdout_end=end, default_margin_rate=0.3)
    frame = sample_transactions()
    frame["customer_id"] = frame["customer_id"].map(cdnow)
    reference = holdout_inputs_from_transactions(frame, calibration_end=CALIBRATION_END, holdout_end=end)
    for name in ("frequency", "recency", "age", "first_purchase_day", "holdout_purchases", "repeat_days",
                 "repeat_counts"):
        assert np.array_equal(getattr(stored, name), getattr(reference, name)), name
    # Sums of money: the database adds decimals, pandas floats.
    for name in ("monetary_value", "holdout_revenue"):
        assert np.allclose(getattr(stored, name), getattr(reference, name), rtol=1e-12, atol=0), name
    assert stored.origin == reference.origin == dt.date(1997, 1, 1)
    assert stored.holdout_purchases.sum() == 1882


def test_auto_chooses_the_lowest_holdout_error_and_refits_it_on_the_whole_history(cdnow: dict[int, int]) -> None:
    assert assumptions_ensure().predictive_model == "auto"
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    assert fit.model_requested == "auto"
    selection = fit.model_selection
    # The last quarter of the history (1997-01-01 to 1998-06-30) is held out.
    assert selection["calibration_end"] == calibration_end_for(
        first_day=dt.date(1997, 1, 1), last_day=dt.date(1998, 6, 30), holdout_share=0.25).isoformat()
    assert selection["holdout_end"] == "1998-06-30"
    rmse = {m["model"]: m["rmse"] for m in selection["models"]}
    assert set(rmse) == {"bgnbd", "mbgnbd", "pareto_nbd"} and all(v > 0 for v in rmse.values())
    ranked = sorted(rmse, key=lambda m: rmse[m])
    assert fit.model == selection["winner"] == ranked[0]
    assert selection["margin"] == pytest.approx((rmse[ranked[1]] - rmse[ranked[0]]) / rmse[ranked[0]])
    assert fit.message_parts[1]["template"] == MSG_MODEL_CHOSEN
    summary = _summary()
    refit = purchase_model_fit(fit.model, summary["frequency"], summary["recency"], summary["T"])
    assert fit.model_params == pytest.approx(refit.params_dict(), rel=1e-9)
    assert fit.model_log_likelihood == pytest.approx(refit.log_likelihood, rel=1e-9)
    assert CustomerPrediction.objects.count() == 2357


def test_a_named_model_makes_the_predictions(cdnow: dict[int, int]) -> None:
    assumptions_record(user=None, note="Pareto/NBD for the purchases", recompute=False, predictive_model="pareto_nbd")
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    assert (fit.model_requested, fit.model, fit.model_selection) == ("pareto_nbd", "pareto_nbd", {})
    assert fit.bgnbd_r is None and set(fit.model_params) == {"r", "alpha", "s", "beta"}
    summary = _summary()
    fitted = purchase_model_fit(PurchaseModel.PARETO_NBD, summary["frequency"], summary["recency"], summary["T"])
    expected = purchase_model_conditional_expected(fitted, YEAR, summary["frequency"], summary["recency"], summary["T"])
    stored = dict(CustomerPrediction.objects.values_list("customer_id", "expected_purchases_12m"))
    assert np.allclose([stored[c] for c in summary.index], expected, rtol=1e-9)


def test_the_fit_call_overrides_the_assumption() -> None:
    business_simulate(n=80)
    fit = clv_models_fit(trigger="test", model="mbgnbd")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    assert (fit.model_requested, fit.model) == ("mbgnbd", "mbgnbd")
    assert assumptions_ensure().predictive_model == "auto"


def test_auto_with_too_little_history_before_the_holdout_uses_bgnbd_and_says_why() -> None:
    # One customer in 2020, everyone else in 2024: the first three quarters of the history hold
    # a single customer, too few to fit the models on.
    business_simulate(n=80)
    buy(cast(Customer, CustomerFactory(external_id="EARLY")), dt.date(2020, 1, 1), dt.date(2020, 2, 1))
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    assert fit.model == "bgnbd" and fit.bgnbd_r is not None
    templates = [p["template"] for p in fit.message_parts]
    assert MSG_MODEL_FALLBACK in templates and ERROR_TOO_FEW_CUSTOMERS in templates
    assert fit.model_selection["fallback"]["template"] == ERROR_TOO_FEW_CUSTOMERS


def test_the_customers_page_says_which_model_made_the_numbers(client_as: Callable[[str | None], Client]) -> None:
    business_simulate(n=80)
    fit = clv_models_fit(trigger="test", model="mbgnbd")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    page = client_as(roles.EXECUTIVE).get("/customers/").content.decode()
    assert "Purchases predicted by MBG/NBD, as set in the assumptions." in page
    assert "Purchases: MBG/NBD model (time in weeks), r = " in page
    # Only analysts and above are pointed to the model check.
    assert "/customers/model-check/" not in page
    assert "/customers/model-check/" in client_as(roles.ANALYST).get("/customers/").content.decode()


def test_the_customers_page_names_the_runner_up_of_an_automatic_choice(
        cdnow: dict[int, int], client_as: Callable[[str | None], Client]) -> None:
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    page = client_as(roles.ANALYST).get("/customers/").content.decode()
    assert "chosen automatically: its holdout error was" in page


FORM = {
    "annual_discount_rate_percent": "10", "activity_window_months": "12", "retention_source": "measured",
    "assumed_monthly_retention_percent": "90", "smoothing_window_months": "12", "default_gross_margin_percent": "30",
    "prediction_horizon_months": "36", "credibility_weight": "100", "note": "Pareto/NBD fits our buyers",
}


def test_an_admin_sets_the_model_on_the_assumptions_page_and_it_is_audited(
        client_as: Callable[[str | None], Client]) -> None:
    client = client_as(roles.ADMIN)
    assumptions_ensure()
    assert 'name="predictive_model"' in client.get("/assumptions/").content.decode()
    data = FORM | {"predictive_model": "pareto_nbd", "model_holdout_share_percent": "20"}
    response = client.post("/assumptions/", urllib.parse.urlencode(data),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302
    latest = AssumptionSet.objects.latest()
    assert (latest.version, latest.predictive_model, str(latest.model_holdout_share)) == (2, "pareto_nbd", "0.200")
    event = AuditEvent.objects.filter(action="assumptions_change").latest("pk")
    assert event.details["values"]["predictive_model"] == "pareto_nbd"
    assert '<td class="changed">Pareto/NBD</td>' in client.get("/assumptions/").content.decode()
    # A form posted without them keeps the model in force.
    client.post("/assumptions/", urllib.parse.urlencode(FORM | {"note": "discount"}),
                content_type="application/x-www-form-urlencoded")
    assert AssumptionSet.objects.latest().predictive_model == "pareto_nbd"


def test_set_assumptions_takes_the_predictive_model() -> None:
    out = StringIO()
    call_command("set_assumptions", "--note", "MBG/NBD", "--predictive-model", "mbgnbd", "--model-holdout-share", "0.3",
                 stdout=out)
    latest = AssumptionSet.objects.latest()
    assert (latest.predictive_model, str(latest.model_holdout_share)) == ("mbgnbd", "0.300")
    assert "predictive-model: mbgnbd (changed)" in out.getvalue()
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("set_assumptions", "--note", "x", "--predictive-model", "gamma")
    with pytest.raises(CommandError, match="model_holdout_share"):
        call_command("set_assumptions", "--note", "x", "--model-holdout-share", "0.9")
