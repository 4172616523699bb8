"""The equity board in a real Chromium on the demo data (seed_demo, small).

One test walks through the board as an executive (charts, tiles, what-if, explanation,
month and scope, downloads, the print pack as an A4 landscape PDF, screenshots in English
and Chinese); a second checks the other roles and a logged-out visitor. Few page loads keep
it fast.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from openpyxl import load_workbook

from clv_dashboard import roles
from metrics.models import MonthlySnapshot
from tests.metrics.board.builders import default_assumptions
from tests.metrics.board.conftest import private_cache

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHART_TIMEOUT_MS = 20_000


@pytest.fixture
def demo_board(transactional_db: None, settings: Any) -> None:
    settings.CACHES = private_cache()
    # A transactional test starts from flushed tables: put back version 1 of the assumptions
    # that the migration creates.
    default_assumptions()
    call_command("seed_demo", customers=400, months=24, stdout=io.StringIO())
    assert MonthlySnapshot.objects.filter(scope_dimension="company").exists(), "seed_demo computed no snapshots"


def board_page(page_for: Callable[..., Any], role: str | None, **kwargs: Any) -> Any:
    """A page for the role, logged in; console errors and failed responses are on page.console_errors."""
    return page_for(role, **kwargs)


def wait_for_charts(page: Any) -> int:
    """Wait until every chart on the page is drawn (Plotly made its SVG); return how many."""
    expected = page.locator("[data-figure]").count()
    assert expected > 0
    page.wait_for_function(
        "n => document.querySelectorAll('.js-plotly-plot .main-svg').length >= n "
        "&& Array.from(document.querySelectorAll('[data-figure]')).every(d => d.querySelector('svg.main-svg'))",
        arg=expected, timeout=CHART_TIMEOUT_MS,
    )
    return expected


def assert_charts_fit(page: Any) -> None:
    """No chart sticks out of its card (as happens when a reflow leaves a box shorter than its SVG)."""
    overflow = page.evaluate(
        """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(p => {
             const card = p.closest('.chart-card, .card');
             const svg = p.querySelector('.main-svg').getBoundingClientRect();
             const box = card.getBoundingClientRect();
             return [p.id, Math.round(svg.bottom - box.bottom), Math.round(svg.right - box.right)];
           }).filter(([, down, right]) => down > 0 || right > 0)"""
    )
    assert overflow == [], overflow


def figure_y(page: Any, name: str) -> list[float]:
    return page.evaluate(f"() => document.querySelector('[data-figure=\"{name}\"]').data[0].y")


def tile_text(page: Any, metric: str) -> str:
    return page.locator(f'.tile[data-metric="{metric}"] [data-role=value]').inner_text()


def pdf_pages(pdf: bytes) -> list[tuple[float, float]]:
    """(width, height) in points of each page of a Chromium PDF."""
    boxes = re.findall(rb"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", pdf)
    return [(float(w), float(h)) for w, h in boxes]


def test_the_executive_reads_the_board_on_the_demo_data(
    demo_board: None, page_for: Callable[..., Any], artifacts_dir: Path, tmp_path: Path
) -> None:
    page = board_page(page_for, roles.EXECUTIVE)
    page.goto(f"{page.base_url}/board/")
    drawn = wait_for_charts(page)
    assert drawn == 7  # six board charts and the tornado
    assert page.locator(".tile").count() == 8
    assert_charts_fit(page)

    # The tiles show the stored snapshot of the latest closed month.
    month = page.locator("#board").get_attribute("data-month")
    stored = MonthlySnapshot.objects.get(month=f"{month}-01", scope_dimension="company", scope_value="")
    for metric in ("customer_equity", "clv", "customers_end", "acquisition_equity", "retention_equity", "cac"):
        raw = page.locator(f'.tile[data-metric="{metric}"]').get_attribute("data-value")
        value = getattr(stored, metric)
        assert (Decimal(raw) if raw else None) == (None if value is None else Decimal(str(value))), metric
    page.screenshot(path=str(artifacts_dir / "board-en.png"), full_page=True)

    # "How was this computed?" opens the explanation of the tile.
    page.locator('.tile[data-metric="clv"] .js-explain').click()
    dialog = page.locator("#explain-dialog")
    dialog.wait_for(state="visible")
    # The tile's own step comes first: its formula with the month's numbers put in.
    this = dialog.locator(".explain-this")
    assert "CLV = m × r / (1 + d - r)" in this.inner_text()
    assert dialog.locator("tr.highlight").count() >= 1
    page.screenshot(path=str(artifacts_dir / "board-explain-en.png"))
    page.keyboard.press("Escape")
    dialog.wait_for(state="hidden")

    # The what-if changes the tiles (and only in the page).
    before_clv, before_equity = tile_text(page, "clv"), tile_text(page, "customer_equity")
    page.fill("#whatif-retention", "97")
    page.wait_for_selector('.tile[data-metric="clv"].is-whatif', timeout=10_000)
    assert tile_text(page, "clv") != before_clv
    assert tile_text(page, "customer_equity") != before_equity
    assert page.locator('.tile[data-metric="customers_end"]').get_attribute("class") == "tile"
    page.click("#whatif-reset")
    page.wait_for_function("() => !document.querySelector('.tile.is-whatif')")
    assert tile_text(page, "clv") == before_clv

    # Downloads of the month's figures.
    with page.expect_download() as info:
        page.click("#board-csv-link")
    csv_path = tmp_path / "board.csv"
    info.value.save_as(csv_path)
    rows = list(csv.DictReader(io.StringIO(csv_path.read_text(encoding="utf-8-sig"))))
    assert rows[0]["scope_dimension"] == "company" and Decimal(rows[0]["customer_equity"]) == stored.customer_equity
    with page.expect_download() as info:
        page.click("#board-xlsx-link")
    xlsx_path = tmp_path / "board.xlsx"
    info.value.save_as(xlsx_path)
    sheet = load_workbook(xlsx_path)["figures"]
    assert sheet["B2"].value == "company" and sheet.max_row == len(rows) + 1

    # Another month updates the figures.
    bridge_before = figure_y(page, "customer_bridge")
    months = page.locator("#board-month option").evaluate_all("os => os.map(o => o.value)")
    with page.expect_navigation():
        page.select_option("#board-month", months[3])
    wait_for_charts(page)
    assert page.locator("#board").get_attribute("data-month") == months[3]
    assert figure_y(page, "customer_bridge") != bridge_before

    # Another scope too: a region, whose segments chart compares regions.
    bridge_company = figure_y(page, "customer_bridge")
    scope = page.locator("#board-scope option[value^='region:']").first.get_attribute("value")
    with page.expect_navigation():
        page.select_option("#board-scope", scope)
    wait_for_charts(page)
    assert page.locator("#board").get_attribute("data-scope") == scope
    assert figure_y(page, "customer_bridge") != bridge_company
    assert scope.split(":")[1] in page.locator(".board-context").inner_text()

    # Drill-down: a click on another segment's bar opens that segment's board.
    other = page.evaluate(
        "s => document.getElementById('chart-segments').data[0].customdata.map(c => c[0]).find(k => k !== s)", scope
    )
    with page.expect_navigation():
        page.evaluate(
            "k => document.getElementById('chart-segments').emit('plotly_click', {points: [{customdata: [k, '']}]})",
            other,
        )
    wait_for_charts(page)
    assert page.locator("#board").get_attribute("data-scope") == other
    assert page.locator("#board").get_attribute("data-month") == months[3]

    # The board itself prints on A4 landscape with its charts narrowed to the page.
    page.emulate_media(media="print")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot .main-svg'))"
        ".every(s => s.getBoundingClientRect().width <= 1047)", timeout=10_000,
    )
    board_pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    assert all(w == pytest.approx(841.9, abs=2) and h == pytest.approx(595.3, abs=2) for w, h in pdf_pages(board_pdf))
    assert page.locator("#board-controls").is_hidden() and page.locator("#whatif").is_hidden()
    page.emulate_media(media="screen")

    # The board pack prints to an A4 landscape PDF.
    page.click("#board-pack-link")
    page.wait_for_load_state()
    wait_for_charts(page)
    page.emulate_media(media="print")
    page.set_viewport_size({"width": 1123, "height": 794})
    page.screenshot(path=str(artifacts_dir / "board-pack-print.png"), full_page=True)
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    assert pdf.startswith(b"%PDF")
    sizes = pdf_pages(pdf)
    assert 1 <= len(sizes) <= 4, sizes
    for width, height in sizes:
        assert width == pytest.approx(841.9, abs=2) and height == pytest.approx(595.3, abs=2)
    (artifacts_dir.parent / "board-pack.pdf").write_bytes(pdf)
    assert page.console_errors == []

    # The board in Chinese.
    page_zh = board_page(page_for, roles.EXECUTIVE, language="zh-hans")
    page_zh.goto(f"{page_zh.base_url}/board/")
    wait_for_charts(page_zh)
    assert "看板" in page_zh.locator("h1").inner_text()
    page_zh.screenshot(path=str(artifacts_dir / "board-zh-hans.png"), full_page=True)
    # A projector: 1024 x 768; the charts follow the narrower window.
    page_zh.set_viewport_size({"width": 1024, "height": 768})
    page_zh.wait_for_function(
        "() => Array.from(document.querySelectorAll('.js-plotly-plot')).every("
        "d => d.querySelector('.main-svg').getBoundingClientRect().width <= d.parentElement.clientWidth + 1)",
        timeout=5_000,
    )
    page_zh.wait_for_timeout(300)  # the last relayout's redraw
    assert_charts_fit(page_zh)
    page_zh.screenshot(path=str(artifacts_dir / "board-zh-hans-1024.png"), full_page=True)
    assert page_zh.console_errors == []


def test_analysts_and_admins_see_the_board_and_visitors_are_sent_to_login(
    demo_board: None, page_for: Callable[..., Any]
) -> None:
    for role in (roles.ANALYST, roles.ADMIN):
        page = board_page(page_for, role)
        page.goto(f"{page.base_url}/board/")
        wait_for_charts(page)
        assert page.locator(".tile").count() == 8
        assert page.console_errors == []
    visitor = page_for(None)
    visitor.goto(f"{visitor.base_url}/board/")
    assert "/login/" in visitor.url
