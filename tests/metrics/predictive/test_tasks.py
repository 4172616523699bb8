from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from metrics.models import CustomerPrediction, PredictiveFit
from metrics.predictive.tasks import fit_clv_models

from .db import business_simulate


def test_the_task_runs_the_fit_and_returns_its_id(db: None) -> None:
    business_simulate(n=60)
    fit_id = fit_clv_models.apply(kwargs={"trigger": "test"}).get()
    fit = PredictiveFit.objects.get(pk=fit_id)
    assert fit.status == PredictiveFit.Status.SUCCEEDED
    assert CustomerPrediction.objects.filter(fit=fit).count() == 60


@pytest.mark.worker
def test_a_real_worker_fits_the_models_from_the_queue(start_worker: Callable[[], Any]) -> None:
    customers = business_simulate(n=60)
    worker = start_worker()
    result = fit_clv_models.delay(trigger="recompute")
    fit_id = result.get(timeout=120)
    fit = PredictiveFit.objects.get(pk=fit_id)
    assert fit.status == PredictiveFit.Status.SUCCEEDED, worker.log()
    assert fit.message.startswith("trigger: recompute; ")
    assert fit.model == fit.model_selection["winner"]
    assert CustomerPrediction.objects.filter(fit=fit).count() == len(customers)
