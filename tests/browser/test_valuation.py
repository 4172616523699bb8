"""The Investor view in a real browser: every chart drawn, the model and horizon chosen on the
page, both languages, a phone's width, and the board pack's investor page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clv_dashboard import roles
from metrics.services import snapshots_recompute
from tests.browser.test_board import squeezed
from tests.metrics.valuation.db import assumptions, growing_business

pytestmark = [pytest.mark.browser, pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
CHARTS = ("waterfall", "curves", "projection", "elasticities")


@pytest.fixture
def business(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    settings.CLV_PROFITABILITY_AFTER_RECOMPUTE = False
    assumptions(window=2, smoothing=6)
    growing_business(months=20)
    snapshots_recompute(trigger="test")


def _drawn(page: Any) -> None:
    page.wait_for_selector("body[data-valuation-rendered=true]")
    for name in CHARTS:
        assert page.locator(f"#chart-{name}[data-rendered=true] .main-svg").count() >= 1, name


def test_the_investor_view_draws_its_charts_and_the_analyst_chooses_the_model(
        page_for: Callable[..., Any], artifacts_dir: Path, business: None) -> None:
    page = page_for(roles.EXECUTIVE)
    page.goto(f"{page.base_url}/board/")
    page.click("nav.mainnav a[data-nav=valuation]")
    _drawn(page)
    assert page.locator("h1").inner_text() == "What today's and tomorrow's customers are worth"
    assert page.locator("#value-total").inner_text().startswith("¥")
    assert page.locator("#gap-sentence").inner_text().startswith("A new customer is worth ¥")
    assert page.locator("#elasticity-table tbody tr").count() == 4
    assert "trend (log-linear)" in page.locator("#valuation-context").inner_text()
    page.screenshot(path=str(artifacts_dir / "valuation.png"), full_page=True)

    page.select_option("#id_model", "logistic")
    page.fill("#id_horizon", "36")
    page.click("#valuation-controls button[type=submit]")
    _drawn(page)
    assert "model=logistic" in page.url and "horizon=36" in page.url
    assert "logistic (saturating)" in page.locator("#valuation-context").inner_text()
    assert "36 months" in page.locator("#chart-projection").inner_text()

    page.select_option("#id_scope", "region:North")
    page.click("#valuation-controls button[type=submit]")
    _drawn(page)
    assert "Region: North" in page.locator("#valuation-context").inner_text()
    assert page.console_errors == []


def test_the_investor_view_reads_on_a_phone_in_both_languages(page_for: Callable[..., Any], artifacts_dir: Path,
                                                              business: None) -> None:
    page = page_for(roles.EXECUTIVE, language="en", viewport=(390, 844))
    page.goto(f"{page.base_url}/valuation/")
    _drawn(page)
    for name in CHARTS:
        assert squeezed(page, f"chart-{name}") == {"cut": [], "squeezed": []}, name
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.screenshot(path=str(artifacts_dir / "valuation-en-phone.png"), full_page=True)
    assert page.console_errors == []

    page = page_for(roles.EXECUTIVE, language="zh-hans", viewport=(390, 844))
    page.goto(f"{page.base_url}/valuation/")
    _drawn(page)
    assert page.locator("h1").inner_text() == "今天和明天的客户价值几何"
    assert page.locator("#gap-sentence").inner_text().startswith("按同期群曲线，一位新客户价值 ¥")
    assert "从现有客户到基于客户的价值" in page.locator("#chart-waterfall").inner_text().replace("\n", "")
    for name in CHARTS:
        assert squeezed(page, f"chart-{name}") == {"cut": [], "squeezed": []}, name
    # Nothing wider than the phone's screen but the tables that scroll inside their box.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    page.screenshot(path=str(artifacts_dir / "valuation-zh-phone.png"), full_page=True)
    # The full page is too tall to read at once: its top and its charts one by one too.
    page.screenshot(path=str(artifacts_dir / "valuation-zh-phone-top.png"))
    for name in CHARTS:
        page.locator(f"#chart-{name}").locator("xpath=ancestor::section[1]").screenshot(
            path=str(artifacts_dir / f"valuation-zh-phone-{name}.png"))
    assert page.console_errors == []


def test_the_board_pack_prints_the_investor_page(page_for: Callable[..., Any], artifacts_dir: Path,
                                                 business: None) -> None:
    page = page_for(roles.EXECUTIVE)
    page.goto(f"{page.base_url}/board/pack/")
    page.check("#pack-investor")
    page.click("#pack-options button[type=submit]")
    page.wait_for_selector("#pack-investor-page")
    _drawn(page)
    assert "investor=1" in page.url
    page.locator("#pack-investor-page").screenshot(path=str(artifacts_dir / "board-pack-investor.png"))
    assert page.console_errors == []


def test_an_admin_enters_the_market_value_and_the_page_sets_the_value_against_it(
        page_for: Callable[..., Any], artifacts_dir: Path, business: None) -> None:
    page = page_for(roles.ADMIN)
    page.goto(f"{page.base_url}/valuation/")
    _drawn(page)
    assert page.locator("#value-market").inner_text() == "–"
    page.fill("#id_amount", "20000000")
    page.fill("#id_as_of", "2025-08-31")
    page.fill("#id_note", "market capitalisation")
    page.click("#market-form button[type=submit]")
    _drawn(page)
    assert page.locator("#value-market").inner_text() == "¥20,000,000"
    tile = page.locator("#value-market").locator("xpath=..").inner_text()
    assert "on 2025-08-31; customer-based value / market value = " in tile
    assert "Market value" in page.locator("#chart-waterfall").inner_text()
    assert page.locator("#market-history tbody tr").count() == 1
    page.locator(".value-tiles").screenshot(path=str(artifacts_dir / "valuation-market-value.png"))
    page.locator("#chart-waterfall").screenshot(path=str(artifacts_dir / "valuation-waterfall-market.png"))
    assert page.console_errors == []
