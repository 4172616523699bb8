"""Tier `new`: a customer whose first purchase is younger than the assumptions' new-customer age
(default 90 days) is not ranked gold or bronze on no evidence, unless the analyst turns it off."""

from __future__ import annotations

import datetime as dt
import urllib.parse
from collections.abc import Callable
from io import StringIO
from typing import Any, cast

import numpy as np
import pytest
from django.core.management import call_command
from django.test import Client

from audit.models import AuditEvent
from clv_dashboard import roles
from customers.models import Customer
from metrics.models import AssumptionSet, CustomerPrediction, PredictiveFit
from metrics.predictive.maths import TierRules, tiers_assign
from metrics.predictive.services import clv_models_fit
from metrics.services import assumptions_ensure, assumptions_record
from tests.factories import CustomerFactory

from .db import business_simulate, buy

FORM = {
    "annual_discount_rate_percent": "10", "activity_window_months": "12", "retention_source": "measured",
    "assumed_monthly_retention_percent": "90", "smoothing_window_months": "12", "default_gross_margin_percent": "30",
    "prediction_horizon_months": "36", "credibility_weight": "100", "note": "New customers after a quarter",
}


def test_a_customer_younger_than_the_age_is_new_whatever_the_clv() -> None:
    tiers = tiers_assign(predicted_clv=[900.0, 10, 20, 30, 40], historic_margin=[5.0, 5, 5, 5, 5],
                         p_alive=[1.0] * 5, age_days=[10, 400, 400, 400, 400])
    assert tiers[0] == "new"
    # Ranked among the established four: gold the top ceil(20%) = 1, gold and silver the top half.
    assert list(tiers[1:]) == ["bronze", "bronze", "silver", "gold"]


def test_the_age_is_a_strict_bound_and_zero_turns_the_rule_off() -> None:
    clv, margin, alive = [5.0, 4, 3, 2, 1], [1.0] * 5, [1.0] * 5
    tiers = tiers_assign(predicted_clv=clv, historic_margin=margin, p_alive=alive, age_days=[89, 90, 200, 200, 200])
    assert list(tiers[:2]) == ["new", "gold"]
    off = tiers_assign(predicted_clv=clv, historic_margin=margin, p_alive=alive, age_days=[1, 1, 1, 1, 1],
                       rules=TierRules(new_customer_days=0))
    assert "new" not in off and off[0] == "gold"


def test_a_new_customer_who_already_loses_money_is_unprofitable() -> None:
    tiers = tiers_assign(predicted_clv=[5.0, 4], historic_margin=[-3.0, 1], p_alive=[1.0, 1], age_days=[5, 500])
    assert list(tiers) == ["unprofitable", "gold"]


def test_without_ages_no_one_is_new() -> None:
    assert "new" not in tiers_assign(predicted_clv=np.arange(10.0), historic_margin=np.ones(10), p_alive=np.ones(10))


@pytest.mark.django_db
def test_the_fit_marks_last_month_s_one_order_customers_new_and_ranks_the_rest() -> None:
    customers = business_simulate()
    last = max(c.transactions.latest("order_date").order_date for c in customers)
    newcomer = cast(Customer, CustomerFactory(external_id="NEWCOMER"))
    buy(newcomer, last - dt.timedelta(days=20), revenue="5000")
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    assert CustomerPrediction.objects.get(customer=newcomer).tier == "new"
    first_purchase = {c.pk: c.transactions.earliest("order_date").order_date for c in customers}
    young = {pk for pk, day in first_purchase.items() if (last - day).days < 90}
    stored = dict(CustomerPrediction.objects.exclude(customer=newcomer).values_list("customer_id", "tier"))
    assert {pk for pk, tier in stored.items() if tier == "new"} == {
        pk for pk in young if stored[pk] != "unprofitable"}
    established = [pk for pk in stored if pk not in young]
    assert sum(stored[pk] == "gold" for pk in established) <= int(np.ceil(0.2 * len(established)))

    assumptions_record(user=None, note="no new tier", recompute=False, new_customer_age_days=0)
    clv_models_fit(trigger="test")
    assert not CustomerPrediction.objects.filter(tier="new").exists()


@pytest.mark.django_db
def test_an_admin_sets_the_age_on_the_page_it_is_audited_and_the_history_marks_it(
        client_as: Callable[[str | None], Client], settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    client = client_as(roles.ADMIN)
    assumptions_ensure()
    assert assumptions_ensure().new_customer_age_days == 90
    assert 'name="new_customer_age_days"' in client.get("/assumptions/").content.decode()
    response = client.post("/assumptions/", urllib.parse.urlencode(FORM | {"new_customer_age_days": "120"}),
                           content_type="application/x-www-form-urlencoded")
    assert response.status_code == 302
    latest = AssumptionSet.objects.latest()
    assert (latest.version, latest.new_customer_age_days) == (2, 120)
    event = AuditEvent.objects.filter(action="assumptions_change").latest("created_at")
    assert event.details["values"]["new_customer_age_days"] == 120
    page = client.get("/assumptions/").content.decode()
    assert '<td class="num changed">120</td>' in page and 'id="current-new-customer-age">120<' in page
    # A form without the field keeps the age in force.
    client.post("/assumptions/", urllib.parse.urlencode(FORM | {"annual_discount_rate_percent": "11"}),
                content_type="application/x-www-form-urlencoded")
    assert AssumptionSet.objects.latest().new_customer_age_days == 120
    bad = client.post("/assumptions/", urllib.parse.urlencode(FORM | {"new_customer_age_days": "-1"}),
                      content_type="application/x-www-form-urlencoded")
    assert bad.status_code == 200 and AssumptionSet.objects.count() == 3


@pytest.mark.django_db
def test_set_assumptions_takes_the_new_customer_age(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    out = StringIO()
    call_command("set_assumptions", "--note", "off", "--new-customer-age", "0", stdout=out)
    assert AssumptionSet.objects.latest().new_customer_age_days == 0
    assert "new-customer-age: 0 (changed)" in out.getvalue()
