from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clv_dashboard import roles
from metrics.models import AssumptionSet, CustomerPrediction, PredictiveFit
from metrics.predictive.services import clv_models_fit
from tests.metrics.predictive.db import business_simulate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _page(page_for: Callable[..., Any], role: str, **kwargs: Any) -> Any:
    """A logged-in page; console errors and failed responses are on page.console_errors."""
    return page_for(role, **kwargs)


def test_the_customers_page_filters_sorts_and_opens_a_customer(
    page_for: Callable[..., Any], artifacts_dir: Path
) -> None:
    # A transactional test may start from flushed tables: the assumptions of the migration.
    AssumptionSet.objects.get_or_create(version=1, defaults={"note": "defaults"})
    business_simulate(n=80)
    fit = clv_models_fit(trigger="test")
    assert fit.status == PredictiveFit.Status.SUCCEEDED, fit.message
    page = _page(page_for, roles.EXECUTIVE)
    page.goto(f"{page.base_url}/customers/")
    rows = page.locator("#predictions tbody tr")
    assert rows.count() == 50
    assert page.locator(".tier-tile").count() == len(CustomerPrediction.Tier)

    page.select_option("#id_tier", "gold")
    page.click("#filters button[type=submit]")
    page.wait_for_load_state()
    gold = CustomerPrediction.objects.filter(tier="gold").count()
    assert page.locator("#predictions tbody tr").count() == gold
    assert page.locator("#predictions .badge.tier-gold").count() == gold

    page.click("th a[data-sort=p_alive]")
    page.wait_for_load_state()
    assert "sort=-p_alive" in page.url and "tier=gold" in page.url
    page.screenshot(path=str(artifacts_dir / "predictive-customers.png"), full_page=True)

    first = page.locator("#predictions tbody tr td a").first
    external_id = first.inner_text()
    first.click()
    page.wait_for_selector("#history-chart[data-rendered=true]")
    page.wait_for_selector("#p-alive-chart[data-rendered=true]")
    assert external_id in page.locator("h1").inner_text()
    assert page.locator("#p-alive-chart .scatterlayer .trace").count() == 1
    page.screenshot(path=str(artifacts_dir / "predictive-customer-detail.png"), full_page=True)
    assert page.console_errors == []


def test_the_customers_page_shows_the_empty_state_in_chinese(page_for: Callable[..., Any]) -> None:
    page = _page(page_for, roles.EXECUTIVE, language="zh-hans")
    page.goto(f"{page.base_url}/customers/")
    assert page.locator("#no-fit").is_visible()
    assert "暂无预测" in page.locator("#no-fit").inner_text()
    assert page.console_errors == []
