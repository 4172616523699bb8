"""The board on any screen and in the reader's language, in a real Chromium on the demo data.

A phone (390 x 844) and a full-HD screen or projector (1920 x 1080), in English and Chinese:
no horizontal scroll, no clipped tile value, no labels running into each other; the projector
view; the charts' dates, months and amounts in the reader's language (万/亿 in Chinese); the
print pack as a PDF whose every page is rendered to a PNG (pdftoppm) to be looked at.
Screenshots go to test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clv_dashboard import roles
from customers.models import Customer
from metrics.services import snapshots_recompute
from tests.browser.test_board import board_page, demo_board, pdf_pages, squeezed, wait_for_charts

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
__all__ = ["demo_board"]

PHONE = (390, 844)
FULL_HD = (1920, 1080)
LANGUAGES = ("en", "zh-hans")
ENGLISH_MONTH = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)[a-z]*\b")

FITS_JS = """() => ({
  page: [document.documentElement.scrollWidth, document.documentElement.clientWidth],
  clipped: Array.from(document.querySelectorAll('.tile-value'))
    .filter(v => v.scrollWidth > v.clientWidth)
    .map(v => [v.closest('.tile').dataset.metric, v.textContent, v.scrollWidth, v.clientWidth]),
  values: document.querySelectorAll('.tile-value').length,
  // Rows of the tile grid holding one narrow tile (a ninth tile left alone on its row).
  lonely: (() => {
    const grid = document.querySelector('.tiles');
    const rows = {};
    grid.querySelectorAll('.tile').forEach(t => {
      const b = t.getBoundingClientRect();
      (rows[Math.round(b.top)] = rows[Math.round(b.top)] || []).push(b.width);
    });
    const width = grid.getBoundingClientRect().width;
    return Object.values(rows).filter(r => r.length === 1 && r[0] < 0.6 * width).length;
  })(),
})"""

# Pairs of text boxes of one chart that overlap: the x tick labels among themselves, and the
# bar labels against the y tick labels and each other (assert_no_overlaps adds the titles cut and
# the amounts squeezed: test_board.squeezed).
OVERLAPS_JS = """(id) => {
  const div = document.getElementById(id);
  if (!div) return null;
  const boxes = sel => Array.from(div.querySelectorAll(sel)).map(t => {
    const b = t.getBoundingClientRect();
    return {text: t.textContent, l: b.left, r: b.right, t: b.top, b: b.bottom};
  }).filter(b => b.r > b.l && b.text.trim() !== '');
  const hit = (a, b) => a.l < b.r - 1 && b.l < a.r - 1 && a.t < b.b - 1 && b.t < a.b - 1;
  const pairs = (xs, ys, same) => {
    const out = [];
    xs.forEach((a, i) => ys.forEach((b, j) => { if ((!same || j > i) && hit(a, b)) out.push([a.text, b.text]); }));
    return out;
  };
  const xt = boxes('.xtick text'), yt = boxes('.ytick text'), bars = boxes('.bartext, .textpoint text');
  const notes = boxes('.annotation-text');
  const svg = div.querySelector('.main-svg').getBoundingClientRect();
  const cut = bars.filter(b => b.l < svg.left - 1 || b.r > svg.right + 1).map(b => b.text);
  return {xticks: pairs(xt, xt, true), bars_ticks: pairs(bars, yt, false), bars: pairs(bars, bars, true),
          notes: pairs(notes, notes, true), cut: cut, counts: [xt.length, yt.length, bars.length]};
}"""


def assert_fits(page: Any) -> dict[str, Any]:
    fit = page.evaluate(FITS_JS)
    scroll, client = fit["page"]
    assert scroll <= client, f"horizontal scroll: {scroll} > {client}"
    assert fit["values"] == 9
    assert fit["clipped"] == [], fit["clipped"]
    assert fit["lonely"] == 0, "a tile alone on its row"
    return fit


def assert_no_overlaps(page: Any, chart_id: str) -> None:
    found = page.evaluate(OVERLAPS_JS, chart_id)
    assert found is not None, chart_id
    assert found["xticks"] == [] and found["bars_ticks"] == [] and found["bars"] == [], (chart_id, found)
    assert found["cut"] == [] and found["notes"] == [], (chart_id, found)
    assert squeezed(page, chart_id) == {"cut": [], "squeezed": []}, chart_id


def test_the_board_fits_a_phone_and_a_full_hd_screen_in_both_languages(
    demo_board: None, page_for: Callable[..., Any], artifacts_dir: Path
) -> None:
    # A small segment beside the large ones, as real data have: its bars are short, and their
    # amounts must stay readable (not shrunk to fit the bar).
    Customer.objects.filter(pk__in=Customer.objects.order_by("pk").values("pk")[:4]).update(region="Islands")
    snapshots_recompute(trigger="test")
    for language in LANGUAGES:
        for width, height in (PHONE, FULL_HD):
            page = board_page(page_for, roles.EXECUTIVE, language=language, viewport=(width, height))
            page.goto(f"{page.base_url}/board/")
            assert wait_for_charts(page) == 8  # the demo data have profitability: its chart too
            page.wait_for_timeout(300)
            assert_fits(page)
            for chart in ("chart-equity_bridge", "chart-customer_bridge", "chart-tornado", "chart-segments",
                          "chart-profitability"):
                assert_no_overlaps(page, chart)
            name = f"board-{language}-{width}x{height}"
            page.screenshot(path=str(artifacts_dir / f"{name}.png"), full_page=True)
            page.screenshot(path=str(artifacts_dir / f"{name}-top.png"))
            for chart in ("equity_clv", "equity_bridge", "tornado", "segments"):
                page.locator(f"#chart-{chart}").screenshot(path=str(artifacts_dir / f"{name}-{chart}.png"))
            # The what-if's larger numbers still fit their tiles.
            page.fill("#whatif-margin", "900")
            page.wait_for_function("() => document.getElementById('board').dataset.whatifState === 'changed'",
                                   timeout=10_000)
            assert_fits(page)
            assert page.console_errors == []
    # The board pack opened on a phone (it is made for paper): every chart is drawn, and the
    # sheet takes the phone's layout (two tiles a row, no value cut, no sideways scroll).
    for language in LANGUAGES:
        page = board_page(page_for, roles.EXECUTIVE, language=language, viewport=PHONE)
        page.goto(f"{page.base_url}/board/pack/")
        wait_for_charts(page)
        page.wait_for_timeout(300)
        assert_fits(page)
        page.screenshot(path=str(artifacts_dir / f"pack-{language}-{PHONE[0]}x{PHONE[1]}.png"), full_page=True)
        assert page.console_errors == [], page.console_errors
    # The narrowest phone the board is made for.
    page = board_page(page_for, roles.EXECUTIVE, language="zh-hans", viewport=(360, 740))
    page.goto(f"{page.base_url}/board/")
    wait_for_charts(page)
    assert_fits(page)
    page.screenshot(path=str(artifacts_dir / "board-zh-hans-360x740.png"), full_page=True)
    # A laptop: the nine tiles in three rows of three.
    page.set_viewport_size({"width": 1280, "height": 800})
    page.wait_for_timeout(600)
    assert_fits(page)
    page.screenshot(path=str(artifacts_dir / "board-zh-hans-1280x800-top.png"))


def test_the_projector_view_shows_the_tiles_and_three_charts_in_large_type(
    demo_board: None, page_for: Callable[..., Any], artifacts_dir: Path
) -> None:
    for language in LANGUAGES:
        page = board_page(page_for, roles.EXECUTIVE, language=language, viewport=FULL_HD)
        page.goto(f"{page.base_url}/board/")
        wait_for_charts(page)
        board_size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.tile-value')).fontSize)")
        page.click("#board-projector-link")
        page.wait_for_load_state()
        assert "view=projector" in page.url
        assert wait_for_charts(page) == 3
        names = page.eval_on_selector_all("[data-figure]", "ds => ds.map(d => d.dataset.figure)")
        assert names == ["equity_clv", "equity_bridge", "acquisition_retention"]
        assert page.locator(".tile").count() == 9
        assert page.locator("#whatif, #predictions, .js-explain, #board-controls").count() == 0
        size = page.evaluate("() => parseFloat(getComputedStyle(document.querySelector('.tile-value')).fontSize)")
        assert size >= 40 and size > board_size, (size, board_size)
        assert_fits(page)
        page.screenshot(path=str(artifacts_dir / f"board-projector-{language}-1920x1080.png"), full_page=True)
        # The projector view on a phone still fits.
        page.set_viewport_size({"width": PHONE[0], "height": PHONE[1]})
        page.wait_for_timeout(600)
        assert_fits(page)
        page.click("#board-back-link")
        page.wait_for_load_state()
        assert "view=projector" not in page.url
        assert page.console_errors == []


LAST_POINT_JS = """(id) => {
  const points = document.querySelectorAll('#' + id + ' .scatterlayer .trace .points path, #' + id + ' .barlayer .trace .point path');
  const box = points[points.length - 1].getBoundingClientRect();
  return [box.left + box.width / 2, box.top + Math.min(box.height / 2, 4)];
}"""


def hover_texts(page: Any, chart_id: str) -> list[str]:
    """The hover label's lines when the mouse is on the chart's last point."""
    page.locator(f"#{chart_id}").scroll_into_view_if_needed()
    page.mouse.move(0, 0)
    x, y = page.evaluate(LAST_POINT_JS, chart_id)
    page.mouse.move(x, y)
    page.wait_for_function(f"() => document.querySelectorAll('#{chart_id} .hoverlayer text').length > 0",
                           timeout=5_000)
    return page.eval_on_selector_all(f"#{chart_id} .hoverlayer text", "ts => ts.map(t => t.textContent)")


TICKS_JS = """(id) => {
  const div = document.getElementById(id);
  const read = sel => Array.from(div.querySelectorAll(sel)).map(t => t.textContent);
  return {x: read('.xtick text'), y: read('.ytick text'), all: read('.main-svg text'),
          yvals: (div.layout.yaxis || {}).tickvals || [], ytext: (div.layout.yaxis || {}).ticktext || []};
}"""


def test_a_chinese_board_reads_its_dates_and_amounts_in_chinese(
    demo_board: None, page_for: Callable[..., Any], artifacts_dir: Path
) -> None:
    page = board_page(page_for, roles.EXECUTIVE, language="zh-hans", viewport=(1440, 900))
    page.goto(f"{page.base_url}/board/")
    wait_for_charts(page)
    assert page.evaluate("() => window.clvPlotLocale") == "zh-CN"
    assert page.evaluate("() => document.getElementById('chart-equity_clv')._context.locale") == "zh-CN"
    texts: list[str] = []
    for chart in page.eval_on_selector_all(".js-plotly-plot", "ds => ds.map(d => d.id)"):
        ticks = page.evaluate(TICKS_JS, chart)
        texts += ticks["all"]
    texts += page.locator(".chart-caption, .board-context").all_inner_texts()
    hover = hover_texts(page, "chart-equity_clv")
    assert hover, "no hover label"
    hover += hover_texts(page, "chart-acquisition_retention")
    english = [t for t in texts + hover if ENGLISH_MONTH.search(t)]
    assert english == [], english
    # Money ticks: in 万 where the values pass 10,000, with the currency.
    equity = page.evaluate(TICKS_JS, "chart-equity_clv")
    big = [text for value, text in zip(equity["yvals"], equity["ytext"], strict=True) if value >= 10_000]
    assert big and all("万" in t or "亿" in t for t in big), equity
    assert all(t.startswith(("¥", "−¥")) for t in equity["ytext"]), equity["ytext"]
    drawn = set(equity["y"])
    assert any("万" in t for t in drawn), drawn
    # The hover: the month as a month, the amount with ¥ in 万, no day and no month twice.
    assert any(re.fullmatch(r"\d{4}-\d{2}", t.strip()) for t in hover), hover
    assert not any(re.search(r"\d{4}-\d{2}-\d{2}", t) for t in hover), hover
    assert any("¥" in t and "万" in t for t in hover), hover
    page.screenshot(path=str(artifacts_dir / "board-zh-hans-hover.png"))

    # The same board in English: K/M with the currency, months as 2024-12, no 万.
    page_en = board_page(page_for, roles.EXECUTIVE, language="en", viewport=(1440, 900))
    page_en.goto(f"{page_en.base_url}/board/")
    wait_for_charts(page_en)
    equity_en = page_en.evaluate(TICKS_JS, "chart-equity_clv")
    assert any(t.endswith(("M", "K")) for t in equity_en["ytext"]) and not any("万" in t for t in equity_en["ytext"])
    hover_en = hover_texts(page_en, "chart-equity_clv")
    assert any(re.fullmatch(r"\d{4}-\d{2}", t.strip()) for t in hover_en), hover_en
    assert any(re.search(r"¥[\d,]+", t) for t in hover_en), hover_en
    assert page.console_errors == [] and page_en.console_errors == []


def test_every_page_of_the_print_pack_is_rendered_without_collisions(
    demo_board: None, page_for: Callable[..., Any], artifacts_dir: Path, tmp_path: Path
) -> None:
    for language in LANGUAGES:
        page = board_page(page_for, roles.EXECUTIVE, language=language, viewport=(1123, 794))
        page.goto(f"{page.base_url}/board/pack/")
        wait_for_charts(page)
        page.emulate_media(media="print")
        page.wait_for_timeout(300)
        ids = page.evaluate(
            "() => Array.from(document.querySelectorAll('.js-plotly-plot')).map((d, i) => d.id = d.id || 'pack-' + d.dataset.figure)"
        )
        for chart in ids:
            assert_no_overlaps(page, chart)
        # Each change is one line ("vs a year earlier" never sits alone) that fits its tile.
        split = page.evaluate(
            """() => Array.from(document.querySelectorAll('.tile-changes li')).filter(li =>
                 li.getBoundingClientRect().height > 1.9 * parseFloat(getComputedStyle(li).fontSize)
                 || li.scrollWidth > li.clientWidth).map(li => li.textContent.trim().replace(/\\s+/g, ' '))"""
        )
        assert split == [], split
        # Tiles and equity; acquisition, bridges, sensitivity; segments and cohorts; profitability.
        assert page.locator("#pack-profitability-page [data-figure=profitability] svg.main-svg").count() >= 1
        assert page.locator("#pack-profitability-page #profitability-panel").count() == 1
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
        assert len(pdf_pages(pdf)) == 4
        path = tmp_path / f"pack-{language}.pdf"
        path.write_bytes(pdf)
        (artifacts_dir.parent / f"board-pack-{language}.pdf").write_bytes(pdf)
        prefix = artifacts_dir / f"board-pack-{language}-page"
        subprocess.run(["pdftoppm", "-png", "-r", "70", str(path), str(prefix)], check=True, timeout=120)
        page.emulate_media(media="screen")
        page.screenshot(path=str(artifacts_dir / f"board-pack-{language}-screen.png"), full_page=True)
        pngs = sorted(artifacts_dir.glob(f"board-pack-{language}-page-*.png"))
        assert len(pngs) == 4, pngs
        assert all(p.stat().st_size > 20_000 for p in pngs), [(p, p.stat().st_size) for p in pngs]
        assert page.console_errors == []
