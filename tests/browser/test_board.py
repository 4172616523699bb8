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
from metrics.models import CustomerProfitability, MonthlySnapshot
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


# What a phone's width does to a chart: a title cut at the chart's edge (or wrapped so that a
# line starts with a separator), a bar's amount scaled down or turned on its side to fit the bar.
SQUEEZED_JS = """(selector) => {
  const found = {cut: [], squeezed: []};
  const stranded = /^\\s*[\u00b7\u2022|\u2013\u2014:;,.\u3001\u3002\uff0c\uff1b\uff1a]/;
  document.querySelectorAll(selector).forEach(div => {
    const svg = div.querySelector('.main-svg').getBoundingClientRect();
    div.querySelectorAll('.gtitle, .gtitle-subtitle').forEach(t => {
      if (t.getBoundingClientRect().right > svg.right + 1) found.cut.push(t.textContent);
      // A wrapped line that starts with a separator reads as a cut too.
      t.querySelectorAll('tspan.line').forEach(l => {
        if (stranded.test(l.textContent)) found.cut.push('line starts with a separator: ' + l.textContent);
      });
    });
    div.querySelectorAll('.bartext').forEach(t => {
      if (/rotate\\((?!0[ ,)])|scale\\(0\\./.test(t.getAttribute('transform') || '')
          || t.getBoundingClientRect().height < 8) found.squeezed.push(t.textContent);
    });
  });
  return found;
}"""


def squeezed(page: Any, chart: str) -> dict[str, list[str]]:
    """The titles cut at the chart's edge and the bar amounts squeezed, of the chart with id
    `chart` (or of every chart a CSS selector starting with '.' picks); both empty when it reads well."""
    found: dict[str, list[str]] = page.evaluate(SQUEEZED_JS, chart if chart.startswith(".") else f"#{chart}")
    return found


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
    assert drawn == 8  # seven board charts (net profit to date among them) and the tornado
    assert page.locator(".tile").count() == 9
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
    assert "CLV = m × r / (1 + d − r)" in this.inner_text()
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
        assert page.locator(".tile").count() == 9
        assert page.console_errors == []
    visitor = page_for(None)
    visitor.goto(f"{visitor.base_url}/board/")
    assert "/login/" in visitor.url


def test_the_referrals_tile_and_referral_equity_in_the_acquisition_chart_in_both_languages(
    demo_board: None, page_for: Callable[..., Any], artifacts_dir: Path
) -> None:
    """The demo's referrals: the tile shows the stored rate with the rate's and the share's change
    against the previous month; the acquisition chart draws referral equity inside acquisition
    equity; the tile's explanation opens on the referral rate. Screenshots in both languages."""
    company = MonthlySnapshot.objects.filter(scope_dimension="company").order_by("month")
    latest = company.last()
    assert latest is not None and latest.referred_new_customers > 0, "the demo has no referrals"
    top = CustomerProfitability.objects.order_by("-referrals_made", "customer_id").first()
    assert top is not None and top.referrals_made >= 3, "the demo has no prolific referrer"
    texts = {"en": ("Referrals", "of new customers referred", "of which from referrals"),
             "zh-hans": ("推荐", "由老客户推荐", "其中来自推荐")}
    for language, (label, note, trace) in texts.items():
        page = board_page(page_for, roles.EXECUTIVE, language=language)
        page.goto(f"{page.base_url}/board/")
        wait_for_charts(page)
        tile = page.locator('.tile[data-metric="referral_rate"]')
        assert tile.locator(".tile-label").inner_text() == label
        assert tile.get_attribute("data-value") == str(latest.referral_rate)
        for against in ("previous", "previous-share"):
            change = tile.locator(f'li[data-against="{against}"]')
            assert change.is_visible() and change.locator(".change-abs").inner_text(), against
        assert note in tile.locator("[data-role=note]").inner_text()
        names = page.evaluate("() => document.querySelector('[data-figure=\"acquisition_retention\"]')"
                              ".data.map(t => t.name)")
        assert names[1] == trace, names
        drawn = page.evaluate("() => document.querySelector('[data-figure=\"acquisition_retention\"]').data[1].y")
        assert drawn == pytest.approx([float(s.referral_equity) for s in company], abs=0.005)
        tile.locator(".js-explain").click()
        page.locator("#explain-dialog").wait_for(state="visible")
        assert page.locator("#explain-body > *").first.get_attribute("data-metric") == "referral_rate"
        page.keyboard.press("Escape")
        page.locator("#explain-dialog").wait_for(state="hidden")
        page.locator(".tiles").screenshot(path=str(artifacts_dir / f"board-referrals-tiles-{language}.png"))
        page.locator("#chart-acquisition_retention").scroll_into_view_if_needed()
        page.locator("#chart-acquisition_retention").screenshot(
            path=str(artifacts_dir / f"board-referrals-acquisition-{language}.png"))
        # The most prolific referrer's page lists the customers they referred, each counting.
        page.goto(f"{page.base_url}/customers/{top.customer_id}/")
        section = page.locator("#referrals")
        assert section.locator("#referred-customers tbody tr").count() == top.referrals_made
        assert section.locator('tr[data-status="counted"]').count() == top.referrals_made
        section.screenshot(path=str(artifacts_dir / f"customer-referrals-{language}.png"))
        assert page.console_errors == []


def rendered_lines(page: Any) -> list[dict[str, Any]]:
    """Every line of the open explanation as the reader sees it: kind, text, numbers."""
    return page.evaluate(
        """() => Array.from(document.querySelectorAll('#explain-body .explain-line')).map(p => ({
             kind: p.getAttribute('data-kind'), text: p.innerText,
             parts: Array.from(p.querySelectorAll('.explain-num')).map(s => ({text: s.innerText, num: true})),
             wrapped: Array.from(p.querySelectorAll('.explain-num')).filter(s => s.getClientRects().length > 1)
                        .map(s => s.innerText),
             nowrap: Array.from(p.querySelectorAll('.explain-num')).every(
                        s => getComputedStyle(s).whiteSpace === 'nowrap'),
           }))"""
    )


def check_every_explanation(page: Any, shot: Path | None = None) -> int:
    """Open each tile's explanation: its own step first, every line adds up, no number wraps."""
    from tests.metrics.test_explain import assert_line_adds_up

    checked = 0
    metrics = page.locator(".tile[data-metric]").evaluate_all("ts => ts.map(t => t.dataset.metric)")
    for metric in metrics:
        page.locator(f'.tile[data-metric="{metric}"] .js-explain').click()
        page.locator("#explain-dialog").wait_for(state="visible")
        first = page.locator("#explain-body > *").first
        assert first.get_attribute("data-metric") == metric, metric
        assert page.locator(f'#explain-body tr.highlight[data-metric="{metric}"]').count() == 1, metric
        lines = rendered_lines(page)
        assert lines
        for line in lines:
            assert line["nowrap"] and line["wrapped"] == [], line
            if line["kind"] in ("numbers", "rounding"):
                assert_line_adds_up(line)
                checked += 1
        if shot is not None and metric == "customer_equity":
            page.screenshot(path=str(shot))
        page.keyboard.press("Escape")
        page.locator("#explain-dialog").wait_for(state="hidden")
    return checked


def stored_deltas_hidden(page: Any, metric: str) -> bool:
    return page.locator(f'.tile[data-metric="{metric}"] li[data-against="previous"]').is_hidden()


def test_the_explanations_add_up_and_the_whatif_shows_differences_against_the_stored_figures(
    demo_board: None, page_for: Callable[..., Any], artifacts_dir: Path
) -> None:
    from metrics.board.whatif import ERROR_RETENTION
    from metrics.calculations import clv, monthly_discount_rate
    from metrics.explain import snapshot_explain

    page = board_page(page_for, roles.EXECUTIVE)
    page.goto(f"{page.base_url}/board/")
    wait_for_charts(page)
    assert check_every_explanation(page, artifacts_dir / "board-explain-equity-en.png") >= 8 * 8

    month = page.locator("#board").get_attribute("data-month")
    stored = MonthlySnapshot.objects.select_related("assumption_set").get(
        month=f"{month}-01", scope_dimension="company", scope_value="")
    inputs = {i["name"]: i["value"] for i in snapshot_explain(snapshot=stored)["inputs"]}
    margin = inputs["window_gross_margin"] / inputs["window_customers_end"]
    d = monthly_discount_rate(float(stored.assumption_set.annual_discount_rate))

    # Retention 99%: retention itself and the money tiles show their new values and the
    # difference against the stored figure; the stored month-on-month changes are hidden.
    page.fill("#whatif-retention", "99")
    page.wait_for_selector('.tile[data-metric="retention_rate"].is-whatif', timeout=10_000)
    assert tile_text(page, "retention_rate") == "99.0%"
    expected_clv = clv(margin, 0.99, d)
    equity_change = expected_clv * stored.customers_end - float(stored.customer_equity)
    equity_tile = page.locator('.tile[data-metric="customer_equity"]')
    assert tile_text(page, "customer_equity") == f"¥{expected_clv * stored.customers_end:,.0f}"
    assert equity_tile.locator(".change-whatif .change-abs").inner_text() == f"+¥{equity_change:,.0f}"
    assert f"vs the stored figure (¥{stored.customer_equity:,.0f})" in equity_tile.locator(".change-whatif").inner_text()
    points = (0.99 - stored.retention_rate) * 100
    retention_tile = page.locator('.tile[data-metric="retention_rate"]')
    assert retention_tile.locator(".change-whatif .change-abs").inner_text() == f"+{points:.1f} pt"
    for metric in ("customer_equity", "clv", "retention_rate", "acquisition_equity", "retention_equity"):
        assert stored_deltas_hidden(page, metric), metric
        assert page.locator(f'.tile[data-metric="{metric}"] .change-whatif').count() == 1, metric
    for metric in ("customers_end", "cac"):  # not moved by the what-if: stored, with the stored changes
        assert page.locator(f'.tile[data-metric="{metric}"]').get_attribute("class") == "tile"
        assert not stored_deltas_hidden(page, metric)
    page.locator("#whatif").scroll_into_view_if_needed()
    page.screenshot(path=str(artifacts_dir / "board-whatif-en.png"), full_page=True)

    # Margin alone: retention goes back to its stored figure, the money tiles move with the margin.
    page.click("#whatif-reset")
    page.wait_for_function("() => !document.querySelector('.tile.is-whatif')")
    page.fill("#whatif-margin", f"{round(margin * 1.1, 2)}")
    page.wait_for_selector('.tile[data-metric="clv"].is-whatif', timeout=10_000)
    assert page.locator('.tile[data-metric="retention_rate"]').get_attribute("class") == "tile"
    assert not stored_deltas_hidden(page, "retention_rate")

    # 100 in a percent field: the message speaks in percent, and the tiles show the stored figures.
    page.fill("#whatif-retention", "100")
    page.wait_for_function("() => document.getElementById('board').dataset.whatifState === 'error'")
    assert page.locator("#whatif-status").inner_text() == str(ERROR_RETENTION)
    assert page.locator(".tile.is-whatif").count() == 0
    page.click("#whatif-reset")
    page.wait_for_function("() => document.getElementById('board').dataset.whatifState === 'stored'")
    assert all("/board/whatif/" in e or "400" in e for e in page.console_errors), page.console_errors

    # Chinese, on a phone: the same checks of the explanations, the what-if and its message.
    phone = board_page(page_for, roles.EXECUTIVE, language="zh-hans", viewport=(390, 844))
    phone.goto(f"{phone.base_url}/board/")
    wait_for_charts(phone)
    assert check_every_explanation(phone, artifacts_dir / "board-explain-zh-hans-phone.png") >= 8 * 8
    phone.fill("#whatif-retention", "99")
    phone.wait_for_selector('.tile[data-metric="retention_rate"].is-whatif', timeout=10_000)
    assert "相对存储值" in phone.locator('.tile[data-metric="customer_equity"] .change-whatif').inner_text()
    # Every what-if value shows whole on a phone (not cut off with an ellipsis).
    cut = phone.evaluate("() => Array.from(document.querySelectorAll('.tile-value'))"
                         ".filter(v => v.scrollWidth > v.clientWidth).map(v => v.textContent)")
    assert cut == [], cut
    phone.locator(".tiles").screenshot(path=str(artifacts_dir / "board-whatif-tiles-zh-hans-phone.png"))
    phone.fill("#whatif-retention", "100")
    phone.wait_for_function("() => document.getElementById('board').dataset.whatifState === 'error'")
    message = phone.locator("#whatif-status").inner_text()
    assert "0 至 99.9" in message and "0.999" not in message and "0.85" not in message
    phone.locator("#whatif").screenshot(path=str(artifacts_dir / "board-whatif-error-zh-hans-phone.png"))
