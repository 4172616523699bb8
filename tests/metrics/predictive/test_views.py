from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any, cast

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone, translation

from clv_dashboard import roles
from clv_dashboard.spreadsheets import spreadsheet_safe as safe_cell
from customers.models import Customer
from metrics.models import CustomerPrediction, PredictiveFit
from metrics.predictive.exports import COLUMNS
from metrics.predictive.services import ERROR_INTERRUPTED, clv_models_fit
from tests.factories import CustomerFactory
from tests.responses import streamed_body

from .db import business_simulate, buy

pytestmark = pytest.mark.django_db
ClientAs = Callable[[str | None], Client]
URLS = ["/customers/", "/customers/export.csv", "/customers/fit-status/"]


@pytest.fixture
def fitted() -> PredictiveFit:
    customers = business_simulate(n=120)
    for i, c in enumerate(customers):
        c.region = ["North", "South", ""][i % 3]
        c.save(update_fields=["region"])
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    return fit


@pytest.mark.parametrize("role", [roles.EXECUTIVE, roles.ANALYST, roles.ADMIN])
def test_executives_and_above_see_the_customer_pages(client_as: ClientAs, role: str, fitted: PredictiveFit) -> None:
    client = client_as(role)
    prediction = CustomerPrediction.objects.first()
    assert prediction is not None
    for url in [*URLS, f"/customers/{prediction.customer_id}/"]:
        assert client.get(url).status_code == 200, url


def test_a_user_without_a_role_is_refused(client_as: ClientAs) -> None:
    client = client_as(None)
    for url in URLS:
        assert Client().get(url).status_code == 302
    from tests.factories import UserFactory

    client.force_login(cast(User, UserFactory(username="nobody")))
    for url in [*URLS, f"/customers/{cast(Customer, CustomerFactory()).pk}/"]:
        assert client.get(url).status_code == 403, url


def test_logged_out_visitors_are_sent_to_login() -> None:
    for url in [*URLS, "/customers/1/"]:
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url


def test_only_analysts_and_above_can_ask_for_a_fit(client_as: ClientAs) -> None:
    assert client_as(roles.EXECUTIVE).post("/customers/fit/").status_code == 403
    # Urlencoded: a multipart body from a logged-out visitor is refused (403) before the login check.
    assert client_as(None).post("/customers/fit/", content_type="application/x-www-form-urlencoded").status_code == 302
    assert client_as(roles.ANALYST).get("/customers/fit/").status_code == 405
    business_simulate(n=60)
    response = client_as(roles.ANALYST).post("/customers/fit/")
    assert response.status_code == 302
    # Tasks run in-process in the unit-test settings: the fit is done.
    assert PredictiveFit.objects.get().status == PredictiveFit.Status.SUCCEEDED
    assert client_as(roles.ADMIN).post("/customers/fit/").status_code == 302
    assert PredictiveFit.objects.count() == 2


def test_the_empty_state_explains_that_no_fit_exists_yet(client_as: ClientAs) -> None:
    page = client_as(roles.EXECUTIVE).get("/customers/").content.decode()
    assert 'id="no-fit"' in page
    assert "No predictions yet" in page


def test_a_failed_latest_fit_is_shown_with_its_reason(client_as: ClientAs) -> None:
    for i in range(5):
        buy(cast(Customer, CustomerFactory()), dt.date(2024, 1, 1) + dt.timedelta(days=i))
    fit = clv_models_fit(trigger="test")
    page = client_as(roles.EXECUTIVE).get("/customers/").content.decode()
    assert 'id="fit-failed"' in page
    assert "repeat purchase" in fit.message and "no customer has made a repeat purchase" in page


def test_a_failed_fit_speaks_the_readers_language(client_as: ClientAs) -> None:
    for i in range(5):
        buy(cast(Customer, CustomerFactory()), dt.date(2024, 1, 1) + dt.timedelta(days=i))
    fit = clv_models_fit(trigger="test")
    assert fit.message.startswith("The BG/NBD model cannot be identified")  # English for logs and the API
    client = client_as(roles.EXECUTIVE)
    client.cookies["django_language"] = "zh-hans"
    page = client.get("/customers/").content.decode()
    assert "没有任何客户有重复购买" in page
    assert "没有任何客户有重复购买" in json.loads(client.get("/customers/fit-status/").content)["message"]


def test_a_stored_message_whose_translation_does_not_fit_falls_back_to_english() -> None:
    from metrics.models import message_translate

    parts = [{"template": "No customer has a purchase on or before {date}: nothing to fit.", "params": {}}]
    with translation.override("zh-hans"):
        assert message_translate("the English text", parts) == "the English text"
        parts[0]["params"] = {"date": "2024-05-31"}
        assert message_translate("the English text", parts) == "在 2024-05-31 及之前没有任何客户有购买：没有可拟合的数据。"


def _ids(client: Client, query: str) -> list[str]:
    page = client.get(f"/customers/?{query}")
    assert page.status_code == 200
    return [p.customer.external_id for p in page.context["page_obj"]]


def test_the_table_is_sorted_by_predicted_clv_by_default_and_paginated(client_as: ClientAs, fitted: PredictiveFit) -> None:
    client = client_as(roles.EXECUTIVE)
    page = client.get("/customers/")
    rows = list(page.context["page_obj"])
    assert len(rows) == 50 and page.context["page_obj"].paginator.count == 120
    values = [p.predicted_clv for p in rows]
    assert values == sorted(values, reverse=True)
    third = client.get("/customers/?page=3").context["page_obj"]
    assert len(third) == 20


def test_sorting_by_a_column_both_ways(client_as: ClientAs, fitted: PredictiveFit) -> None:
    client = client_as(roles.EXECUTIVE)
    up = [p.p_alive for p in client.get("/customers/?sort=p_alive").context["page_obj"]]
    down = [p.p_alive for p in client.get("/customers/?sort=-p_alive").context["page_obj"]]
    assert up == sorted(up) and down == sorted(down, reverse=True) and up[0] <= down[-1]


def test_filters_by_tier_segment_p_alive_clv_and_customer_id(client_as: ClientAs, fitted: PredictiveFit) -> None:
    client = client_as(roles.EXECUTIVE)
    gold = set(CustomerPrediction.objects.filter(tier="gold").values_list("customer__external_id", flat=True))
    assert gold and set(_ids(client, "tier=gold")) == gold
    north = set(CustomerPrediction.objects.filter(customer__region="North").values_list(
        "customer__external_id", flat=True))
    assert set(_ids(client, "segment=region%3DNorth&sort=customer")) | set(
        _ids(client, "segment=region%3DNorth&sort=customer&page=2")) == north
    unassigned = _ids(client, "segment=region%3Dunassigned")
    assert unassigned and all(CustomerPrediction.objects.get(customer__external_id=i).customer.region == ""
                              for i in unassigned)
    assert all(0.2 <= p.p_alive <= 0.9 for p in client.get("/customers/?p_alive_min=0.2&p_alive_max=0.9")
               .context["page_obj"])
    in_range = client.get("/customers/?clv_min=10&clv_max=200").context["page_obj"]
    assert all(Decimal(10) <= p.predicted_clv <= Decimal(200) for p in in_range)
    assert _ids(client, "q=s007") == ["S007"]


def test_an_inverted_range_is_shown_as_an_error_and_ignored(client_as: ClientAs, fitted: PredictiveFit) -> None:
    response = client_as(roles.EXECUTIVE).get("/customers/?p_alive_min=0.9&p_alive_max=0.1")
    assert "The lower bound is above the upper bound." in response.content.decode()
    assert response.context["page_obj"].paginator.count == 120


def test_csv_export_follows_the_filters_and_neutralises_formulas(client_as: ClientAs, fitted: PredictiveFit) -> None:
    top = CustomerPrediction.objects.order_by("-predicted_clv").first()
    assert top is not None
    evil = top.customer
    evil.name = "=HYPERLINK(\"http://x\")"
    evil.region = "@SUM(A1)"
    evil.save()
    response = client_as(roles.EXECUTIVE).get("/customers/export.csv?tier=gold")
    assert response["Content-Type"].startswith("text/csv")
    body = streamed_body(response)
    assert body.startswith("\ufeff".encode())  # Excel reads it as UTF-8 (华南, not garbage)
    rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert rows[0] == COLUMNS
    assert len(rows) - 1 == CustomerPrediction.objects.filter(tier="gold").count()
    mine = next(r for r in rows if r[0] == evil.external_id)
    assert mine[1] == "'=HYPERLINK(\"http://x\")" and mine[2] == "'@SUM(A1)"
    assert all(r[6] == "gold" for r in rows[1:])


@pytest.mark.parametrize("text", ["=1+1", "+1", "-1", "@x", "\tx", "\rx"])
def test_every_formula_prefix_is_neutralised(text: str) -> None:
    assert safe_cell(text) == "'" + text
    assert safe_cell(-12.5) == -12.5
    assert safe_cell("North") == "North"


def test_the_detail_page_has_the_prediction_and_both_charts(client_as: ClientAs, fitted: PredictiveFit) -> None:
    prediction = CustomerPrediction.objects.filter(expected_purchases_12m__gt=0).order_by("-predicted_clv").first()
    assert prediction is not None
    response = client_as(roles.EXECUTIVE).get(f"/customers/{prediction.customer_id}/")
    page = response.content.decode()
    assert 'id="history-chart"' in page and 'id="p-alive-chart"' in page
    assert "vendor/plotly/plotly.min.js" in page and "cdn" not in page.lower()
    figure = response.context["p_alive_figure"]
    values = figure["data"][0]["y"]
    assert all(0 <= v <= 1 for v in values)
    assert fitted.data_date is not None
    assert figure["data"][0]["x"][-1] == fitted.data_date.isoformat()
    assert values[-1] == pytest.approx(prediction.p_alive, abs=1e-4)
    history = response.context["history_figure"]
    assert sum(history["data"][0]["y"]) == pytest.approx(
        float(sum(t.revenue for t in prediction.customer.transactions.all() if t.revenue >= 0)))


def test_a_customer_without_a_prediction_says_why(client_as: ClientAs, fitted: PredictiveFit) -> None:
    refund_only = cast(Customer, CustomerFactory())
    buy(refund_only, dt.date(2024, 3, 1), revenue="-20")
    page = client_as(roles.EXECUTIVE).get(f"/customers/{refund_only.pk}/").content.decode()
    assert 'id="no-prediction"' in page
    assert client_as(roles.EXECUTIVE).get("/customers/999999/").status_code == 404


def test_fit_status_reports_the_latest_fit(client_as: ClientAs, fitted: PredictiveFit) -> None:
    data = json.loads(client_as(roles.EXECUTIVE).get("/customers/fit-status/").content)
    assert data["id"] == fitted.pk and data["status"] == "succeeded" and data["done"] is True


def test_a_running_fit_shows_progress_that_the_page_polls(client_as: ClientAs, fitted: PredictiveFit) -> None:
    running = PredictiveFit.objects.create(status=PredictiveFit.Status.RUNNING)
    client = client_as(roles.EXECUTIVE)
    page = client.get("/customers/").content.decode()
    assert 'id="fit-running"' in page and 'data-status-url="/customers/fit-status/"' in page
    assert 'id="predictions"' in page  # the last successful fit's values stay visible meanwhile
    data = json.loads(client.get("/customers/fit-status/").content)
    assert data["id"] == running.pk and data["done"] is False


def test_a_fit_left_running_past_the_task_time_limit_is_shown_as_interrupted(
    client_as: ClientAs, fitted: PredictiveFit, settings: Any
) -> None:
    limit = dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    PredictiveFit.objects.filter(pk=fitted.pk).update(started_at=timezone.now() - limit - dt.timedelta(hours=1))
    stuck = PredictiveFit.objects.create(status=PredictiveFit.Status.RUNNING)
    PredictiveFit.objects.filter(pk=stuck.pk).update(started_at=timezone.now() - limit - dt.timedelta(minutes=1))
    client = client_as(roles.EXECUTIVE)
    page = client.get("/customers/").content.decode()
    assert 'id="fit-running"' not in page and "It was interrupted before it finished." in page
    assert json.loads(client.get("/customers/fit-status/").content)["done"] is True
    # The next fit closes it for good.
    clv_models_fit(trigger="test")
    stuck.refresh_from_db()
    assert stuck.status == PredictiveFit.Status.FAILED and stuck.message == ERROR_INTERRUPTED
