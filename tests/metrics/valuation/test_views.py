"""The Investor view: who may see it, its parameters (a bad one is a 400 that says why), the
market value form, the empty state, and the board pack's optional investor page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from audit.models import AuditEvent
from clv_dashboard import roles
from metrics.models import AssumptionSet, MarketValue
from metrics.services import snapshots_recompute

from .db import assumptions, growing_business, spiking_region

pytestmark = pytest.mark.django_db
URL = "/valuation/"


@pytest.fixture
def business(no_fit: None) -> None:
    assumptions(window=2, smoothing=6)
    growing_business(months=20)
    snapshots_recompute(trigger="test")


@pytest.mark.parametrize(("role", "status"), [
    (None, 302), ("norole", 403), (roles.EXECUTIVE, 200), (roles.ANALYST, 200), (roles.ADMIN, 200),
])
def test_the_page_is_for_executives_and_above(client_as: Callable[[str | None], Client],
                                              make_user: Callable[..., Any], role: str | None, status: int) -> None:
    client = client_as(None if role in (None, "norole") else role)
    if role == "norole":
        client.force_login(make_user(None))
    response = client.get(URL)
    assert response.status_code == status
    if status == 302:
        assert "/login/" in response["Location"]


def test_the_navigation_names_the_investor_view(client_as: Callable[[str | None], Client]) -> None:
    html = client_as(roles.EXECUTIVE).get("/board/").content.decode()
    assert 'href="/valuation/"' in html and "Investor view" in html


def test_the_page_shows_the_values_the_curve_and_the_projection(client_as: Callable[[str | None], Client],
                                                                business: None) -> None:
    response = client_as(roles.EXECUTIVE).get(URL, {"model": "logistic", "horizon": "36"})
    assert response.status_code == 200
    context = response.context
    v = context["v"]
    assert v.model == "logistic" and v.horizon == 36 and v.result is not None
    html = response.content.decode()
    for marker in ('id="value-current"', 'id="value-future"', 'id="value-total"', 'id="gap-sentence"',
                   'data-figure="waterfall"', 'data-figure="curves"', 'data-figure="projection"',
                   'data-figure="elasticities"', 'id="elasticity-table"', 'id="segments-table"', 'id="sbg-table"'):
        assert marker in html, marker
    assert set(context["figures"]) == {"waterfall", "curves", "projection", "elasticities"}
    # Company and each segment (region North and South, and the other dimensions' "unassigned").
    labels = [row["label"] for row in context["segments"]]
    assert labels[0] == "Company" and "Region: North" in labels and "Region: South" in labels
    # No inline script: the figures travel as JSON.
    assert '<script id="valuation-figures" type="application/json">' in html
    assert "<script>" not in html
    # The executive cannot enter the market value.
    assert 'id="market-form"' not in html


@pytest.mark.parametrize(("query", "message"), [
    ({"model": "linear"}, "Unknown projection model"),
    ({"horizon": "0"}, "from 1 to 600"),
    ({"horizon": "601"}, "from 1 to 600"),
    ({"horizon": "ten"}, "from 1 to 600"),
    ({"scope": "planet:Mars"}, "scope"),
    ({"month": "2024-13"}, "YYYY-MM"),
    ({"colour": "red"}, "Unknown parameter colour"),
])
def test_bad_parameters_are_a_400_that_says_why(client_as: Callable[[str | None], Client], query: dict[str, str],
                                                message: str) -> None:
    response = client_as(roles.EXECUTIVE).get(URL, query)
    assert response.status_code == 400
    assert message in response.content.decode()


def test_without_data_the_page_says_what_is_needed(client_as: Callable[[str | None], Client]) -> None:
    response = client_as(roles.EXECUTIVE).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="valuation-shortfalls"' in html and "There are no figures for this month and scope yet" in html
    assert 'id="value-total"' not in html


def test_an_admin_enters_the_market_value_versioned_and_audited(client_as: Callable[[str | None], Client],
                                                               business: None) -> None:
    admin = client_as(roles.ADMIN)
    assert 'id="market-form"' in admin.get(URL).content.decode()
    for amount in ("5000000", "6000000.50"):
        response = admin.post("/valuation/market-value/", {"amount": amount, "as_of": "2025-12-31", "note": "cap"})
        assert response.status_code == 302
    assert list(MarketValue.objects.order_by("version").values_list("version", "amount")) == [
        (1, Decimal("5000000.00")), (2, Decimal("6000000.50"))]
    events = AuditEvent.objects.filter(action="market_value_change").order_by("pk")
    assert [e.details["version"] for e in events] == [1, 2]
    page = admin.get(URL)
    v = page.context["v"]
    assert v.market_value.version == 2 and v.market_value.as_of == dt.date(2025, 12, 31)
    assert v.ratio == pytest.approx(v.result.total / 6000000.50)
    assert 'id="value-market"' in page.content.decode()
    assert "customer-based value / market value = " in page.content.decode()


def test_the_market_value_is_refused_to_non_admins_and_when_invalid(client_as: Callable[[str | None], Client]) -> None:
    for role in (roles.EXECUTIVE, roles.ANALYST):
        assert client_as(role).post("/valuation/market-value/", {"amount": "1", "as_of": "2025-01-01"}).status_code == 403
    admin = client_as(roles.ADMIN)
    response = admin.post("/valuation/market-value/", {"amount": "-5", "as_of": "2025-01-01"}, follow=True)
    assert "The market value was not saved" in response.content.decode()
    assert not MarketValue.objects.exists()


def test_the_board_pack_adds_the_investor_page_when_asked(client_as: Callable[[str | None], Client],
                                                          business: None) -> None:
    client = client_as(roles.EXECUTIVE)
    plain = client.get("/board/pack/").content.decode()
    assert 'id="pack-investor-page"' not in plain and 'id="pack-investor"' in plain
    response = client.get("/board/pack/", {"investor": "1"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="pack-investor-page"' in html and 'id="value-total"' in html and "js/valuation.js" in html
    assert response.context["investor"]["v"].result is not None


def test_a_projection_far_from_todays_new_customers_is_called_out(client_as: Callable[[str | None], Client],
                                                                   business: None) -> None:
    from metrics.valuation.presenters import PROJECTION_NOTE_MONTHS, PROJECTION_NOTE_RATIO

    client = client_as(roles.EXECUTIVE)
    trend = client.get(URL, {"model": "trend", "horizon": "120"})
    p = trend.context["v"].projection
    ratio = p.projected[-PROJECTION_NOTE_MONTHS:].mean() / p.history[-PROJECTION_NOTE_MONTHS:].mean()
    assert ratio >= PROJECTION_NOTE_RATIO  # a growing business compounds for ten years
    note = trend.context["projection_note"]
    assert "trend (log-linear)" in note and f"{ratio:.1f} times" in note
    assert 'id="projection-note"' in trend.content.decode()
    # The headline tile says so too, for a reader of the tiles alone.
    caution = trend.context["projection_caution"]
    assert f"{ratio:.1f} times today's new customers" in caution
    assert 'id="value-caution"' in trend.content.decode() and 'href="#projection-note"' in trend.content.decode()
    flat = client.get(URL, {"model": "flat", "horizon": "120"})
    assert flat.context["projection_note"] == "" and flat.context["projection_caution"] == ""
    assert 'id="projection-note"' not in flat.content.decode() and 'id="value-caution"' not in flat.content.decode()
    chinese = client.get(URL, {"model": "trend", "horizon": "120"}, HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert "依赖这一结果之前" in chinese.context["projection_note"]
    assert f"依赖新客户增至目前每月 {ratio:.1f} 倍的预测" in chinese.context["projection_caution"]


def test_a_runaway_projection_gives_no_value_and_says_what_to_choose(
        client_as: Callable[[str | None], Client], no_fit: None) -> None:
    assumptions(window=2, smoothing=6, valuation_horizon_months=60)
    growing_business()
    spiking_region()
    snapshots_recompute(trigger="test")
    client = client_as(roles.EXECUTIVE)
    page = client.get(URL, {"scope": "region:Spike"})
    html = page.content.decode()
    assert page.status_code == 200 and page.context["v"].runaway
    assert "No customer-based value on this projection" in html and "runs away" in html
    assert 'id="value-total"' not in html and "the value waits for the projection" not in html
    # The company's table row for the region has no figure either, and the page stays whole.
    company = client.get(URL).content.decode()
    assert 'id="value-total"' in company and "Spike" in company and "runs away" in company
    chinese = client.get(URL, {"scope": "region:Spike"}, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()
    assert "按此预测不给出基于客户的价值" in chinese and "预测失控" in chinese
    flat = client.get(URL, {"scope": "region:Spike", "model": "flat"}).content.decode()
    assert 'id="value-total"' in flat and "runs away" not in flat


def test_the_board_packs_investor_page_carries_the_projection_warning(
        client_as: Callable[[str | None], Client], business: None) -> None:
    latest = AssumptionSet.objects.order_by("-pk").first()
    assert latest is not None and latest.acquisition_projection == "trend" and latest.valuation_horizon_months == 120
    response = client_as(roles.EXECUTIVE).get("/board/pack/", {"investor": "1"})
    html = response.content.decode()
    investor = response.context["investor"]
    assert investor["v"].model == "trend" and investor["projection_note"] and investor["projection_caution"]
    page = html[html.index('id="pack-investor-page"'):]
    assert 'id="projection-note"' in page and investor["projection_note"] in page
    assert 'id="value-caution"' in page
