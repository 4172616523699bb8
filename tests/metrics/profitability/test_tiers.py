"""The `unprofitable` tier follows net profit once cost entries exist, gross margin before."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import numpy as np
import pytest

from customers.models import CostEntry
from metrics.models import CustomerPrediction, PredictiveFit
from metrics.predictive.maths import tiers_assign
from metrics.predictive.services import clv_models_fit
from metrics.services import assumptions_record, snapshots_recompute
from tests.metrics.predictive.db import business_simulate


def test_net_profit_decides_unprofitable_where_given_and_margin_elsewhere() -> None:
    tiers = tiers_assign(predicted_clv=[100, 90, 80, 70], historic_margin=[50, 50, -5, -5], p_alive=[0.9] * 4,
                         net_profit=[-1, 10, 3, np.nan])
    # Ranks are over everyone: 0 holds the gold place, 1 is in the top half (silver), 2 is bronze.
    assert list(tiers) == ["unprofitable", "silver", "bronze", "unprofitable"]


@pytest.mark.django_db
@pytest.mark.postgres
def test_a_customer_whose_allocated_costs_exceed_their_margin_is_unprofitable(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    business_simulate()
    assumptions_record(user=None, note="W", recompute=False)
    snapshots_recompute(trigger="test")
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    before = CustomerPrediction.objects.filter(tier="unprofitable").count()
    assert before == CustomerPrediction.objects.filter(historic_margin__lt=0).count()
    # A heavy retention cost every month makes many customers lose money after their margin.
    for month in range(1, 13):
        CostEntry.objects.create(month=dt.date(2024, month, 1), kind="retention", amount=Decimal("400.00"))
    snapshots_recompute(trigger="test")
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    unprofitable = set(CustomerPrediction.objects.filter(tier="unprofitable").values_list("customer_id", flat=True))
    losing = set(CustomerPrediction.objects.filter(customer__profitability__net_profit_to_date__lt=0)
                 .values_list("customer_id", flat=True))
    assert unprofitable == losing and len(unprofitable) > before
