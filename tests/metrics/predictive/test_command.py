from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from metrics.models import PredictiveFit
from metrics.predictive.services import ERROR_NO_TRANSACTIONS

from .db import business_simulate

pytestmark = pytest.mark.django_db


def test_the_command_fits_and_prints_the_parameters() -> None:
    business_simulate(n=60)
    out = io.StringIO()
    call_command("fit_clv_models", stdout=out)
    fit = PredictiveFit.objects.get()
    text = out.getvalue()
    assert f"r = {fit.bgnbd_r:.4f}" in text and f"gamma = {fit.gg_gamma:.4f}" in text
    assert f"log-likelihood = {fit.bgnbd_log_likelihood:.2f}" in text
    assert "gold" in text


def test_the_command_fails_with_the_reason() -> None:
    with pytest.raises(CommandError, match=ERROR_NO_TRANSACTIONS):
        call_command("fit_clv_models", stdout=io.StringIO())
