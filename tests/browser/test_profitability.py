"""The Profitability page in a real browser: the whale curve drawn, both languages, the filters."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clv_dashboard import roles
from metrics.models import AssumptionSet, CustomerProfitability, ProfitabilityMonth
from metrics.services import snapshots_recompute
from tests.metrics.profitability.db import whale_business

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def whale(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    # A transactional test may start from flushed tables: the assumptions of the migration.
    AssumptionSet.objects.get_or_create(version=1, defaults={"note": "defaults"})
    whale_business()
    snapshots_recompute(trigger="test")
    assert CustomerProfitability.objects.filter(net_profit_to_date__lt=0).exists()


def test_the_whale_curve_is_drawn_with_its_headline_and_filters_by_segment(
        page_for: Callable[..., Any], artifacts_dir: Path, whale: None) -> None:
    page = page_for(roles.EXECUTIVE)
    page.goto(f"{page.base_url}/profitability/")
    page.wait_for_selector("#whale-chart[data-rendered=true]")
    headline = page.locator("#whale-headline").inner_text()
    assert headline.startswith("The most profitable ") and " of the profit; " in headline and " lose ¥" in headline
    assert page.locator("#whale-chart .scatterlayer .trace").count() == 2
    assert page.locator("#most-table tbody tr").count() == 20
    assert page.locator("#least-table tbody tr td.negative").count() > 0
    page.screenshot(path=str(artifacts_dir / "profitability.png"), full_page=True)

    page.select_option("#id_segment", "region=North")
    page.click("#filters button[type=submit]")
    page.wait_for_selector("#whale-chart[data-rendered=true]")
    assert "segment=region%3DNorth" in page.url
    north = page.locator("#fact-customers").inner_text()
    assert north == str(CustomerProfitability.objects.filter(customer__region="North").count())
    with page.expect_download() as download:
        page.click("#export-csv")
    text = Path(download.value.path()).read_bytes().decode("utf-8-sig")
    assert len(text.strip().splitlines()) == int(north) + 1
    assert page.console_errors == []


def test_the_page_reads_in_chinese(page_for: Callable[..., Any], artifacts_dir: Path, whale: None) -> None:
    page = page_for(roles.EXECUTIVE, language="zh-hans")
    page.goto(f"{page.base_url}/profitability/")
    page.wait_for_selector("#whale-chart[data-rendered=true]")
    assert page.locator("h1").inner_text() == "哪些客户在赚钱"
    assert page.locator("#whale-headline").inner_text().startswith("最赚钱的 ")
    assert "累计净利润" in page.locator("#whale-chart").inner_text()
    page.screenshot(path=str(artifacts_dir / "profitability-zh.png"), full_page=True)
    assert page.console_errors == []


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_boards_profitability_panel_links_to_the_page(page_for: Callable[..., Any], artifacts_dir: Path,
                                                          whale: None, language: str) -> None:
    page = page_for(roles.EXECUTIVE, language=language)
    page.goto(f"{page.base_url}/board/")
    panel = page.locator("#profitability-panel")
    panel.scroll_into_view_if_needed()
    assert page.locator("#panel-peak").inner_text()
    assert page.locator("#panel-loss-makers").inner_text().startswith("9 ")
    panel.screenshot(path=str(artifacts_dir / f"board-profitability-panel-{language}.png"))
    page.click("#panel-link")
    page.wait_for_selector("#whale-chart[data-rendered=true]")
    assert page.url.endswith("/profitability/")
    assert page.console_errors == []


@pytest.mark.parametrize(("language", "viewport"), [("en", (1440, 900)), ("zh-hans", (390, 844))])
def test_the_board_charts_net_profit_to_date_month_by_month(page_for: Callable[..., Any], artifacts_dir: Path,
                                                            whale: None, language: str,
                                                            viewport: tuple[int, int]) -> None:
    from tests.browser.test_board import assert_charts_fit, wait_for_charts

    page = page_for(roles.EXECUTIVE, language=language, viewport=viewport)
    page.goto(f"{page.base_url}/board/?scope=region:North")
    wait_for_charts(page)
    chart = page.locator("#chart-profitability")
    chart.scroll_into_view_if_needed()
    title = "扣除分摊成本后的累计净利润" if language == "zh-hans" else "Net profit to date, after allocated costs"
    assert title in chart.inner_text()
    net = page.evaluate("() => document.querySelector('[data-figure=\"profitability\"]').data[3].y")
    north = ProfitabilityMonth.objects.filter(scope_dimension="region", scope_value="North").order_by("month")
    assert net == [float(r.net_profit_to_date) for r in north] and len(net) == 12
    assert page.locator("#chart-profitability .barlayer .trace").count() == 2
    assert_charts_fit(page)
    chart.locator("xpath=ancestor::figure").screenshot(
        path=str(artifacts_dir / f"board-profitability-months-{language}.png"))
    assert page.console_errors == []


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_customers_page_lists_their_allocated_costs_month_by_month(
        page_for: Callable[..., Any], artifacts_dir: Path, whale: None, language: str) -> None:
    stored = CustomerProfitability.objects.select_related("customer").order_by("net_profit_to_date").first()
    assert stored is not None
    page = page_for(roles.EXECUTIVE, language=language, viewport=(390, 844))
    page.goto(f"{page.base_url}/customers/{stored.customer_id}/")
    table = page.locator("#profit-months-table")
    table.scroll_into_view_if_needed()
    assert table.locator("tbody tr").count() > 0
    total = page.locator("#profit-months-total td").nth(3).inner_text()
    assert total == f"{stored.net_profit_to_date:.2f}"
    last = table.locator("tbody tr").last.locator("td").nth(4).inner_text()
    assert abs(float(last) - float(stored.net_profit_to_date)) <= 0.01
    # Every column is on the phone's screen: the months are labelled blocks, nothing scrolls sideways.
    assert page.evaluate("""() => { const w = document.querySelector('#profit-months .table-scroll');
                                    return w.scrollWidth <= w.clientWidth; }""")
    assert table.locator("tbody tr").last.locator("td").nth(4).is_visible()
    page.locator("#profit-months").screenshot(path=str(artifacts_dir / f"customer-profit-months-{language}.png"))
    assert page.console_errors == []
