from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from metrics.models import PredictiveFit
from metrics.predictive.maths.purchase_models import PARAM_NAMES, PurchaseModel
from metrics.predictive.services import ERROR_NO_TRANSACTIONS

from .db import business_simulate

pytestmark = pytest.mark.django_db


def test_the_command_fits_and_prints_the_parameters() -> None:
    business_simulate(n=60)
    out = io.StringIO()
    call_command("fit_clv_models", "--model", "bgnbd", stdout=out)
    fit = PredictiveFit.objects.get()
    text = out.getvalue()
    assert "Model: BG/NBD (bgnbd), as asked" in text
    assert f"r = {fit.bgnbd_r:.4f}" in text and f"gamma = {fit.gg_gamma:.4f}" in text
    assert f"log-likelihood = {fit.bgnbd_log_likelihood:.2f}" in text
    assert "gold" in text


def test_the_command_prints_each_parameter_with_its_standard_error() -> None:
    business_simulate(n=60)
    out = io.StringIO()
    call_command("fit_clv_models", "--model", "bgnbd", stdout=out)
    fit = PredictiveFit.objects.get()
    text = out.getvalue()
    errors = fit.standard_errors
    assert set(errors) == {"bgnbd", "gamma_gamma"}
    for name in ("r", "alpha", "a", "b"):
        assert f"{name} = {fit.model_params[name]:.4f} (SE {errors['bgnbd'][name]:.4f})" in text
    for name in ("p", "q", "gamma"):
        assert f"{name} = {getattr(fit, 'gg_' + name):.4f} (SE {errors['gamma_gamma'][name]:.4f})" in text
    assert f"log-likelihood = {fit.model_log_likelihood:.2f}" in text


@pytest.mark.parametrize("model", ["mbgnbd", "pareto_nbd"])
def test_the_command_fits_the_model_asked_for(model: str) -> None:
    business_simulate(n=60)
    out = io.StringIO()
    call_command("fit_clv_models", "--model", model, stdout=out)
    fit = PredictiveFit.objects.get()
    assert fit.model == model
    text = out.getvalue()
    for name in PARAM_NAMES[PurchaseModel(model)]:
        assert f"{name} = {fit.model_params[name]:.4f}" in text
        if model in fit.standard_errors:
            assert f"{name} = {fit.model_params[name]:.4f} (SE {fit.standard_errors[model][name]:.4f})" in text
    assert f"log-likelihood = {fit.model_log_likelihood:.2f}" in text


def test_auto_prints_every_models_holdout_error_and_the_winner() -> None:
    business_simulate(n=120)
    out = io.StringIO()
    call_command("fit_clv_models", "--model", "auto", stdout=out)
    fit = PredictiveFit.objects.get()
    text = out.getvalue()
    assert "chosen on the holdout (auto)" in text
    for row in fit.model_selection["models"]:
        if row["rmse"] is not None:
            assert f"RMSE {row['rmse']:.4f}" in text
    chosen = [line for line in text.splitlines() if line.endswith("<- chosen")]
    assert len(chosen) == 1


def test_the_command_fails_with_the_reason() -> None:
    with pytest.raises(CommandError, match=ERROR_NO_TRANSACTIONS):
        call_command("fit_clv_models", stdout=io.StringIO())
