"""Every screen on a phone (390 x 844), in English and Chinese: the page never scrolls sideways
(a wide table scrolls inside its card), and a short Chinese column heading is not broken one
character per line."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from aliases.services import alias_add
from clv_dashboard import roles
from customers.models import Customer, ImportJob
from customers.services import import_claim, import_create, import_run
from metrics.closing.services import month_close
from metrics.models import MonthlySnapshot, PredictiveFit
from tests.browser.test_board import wait_for_charts
from tests.metrics.board.builders import default_assumptions
from tests.metrics.board.conftest import private_cache

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = (390, 844)

# The elements that stick out of the screen while their parent does not, and that no scrolling
# box of the screen's width holds: what makes the page itself scroll sideways.
OVERFLOWING = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const el of document.querySelectorAll('body *')) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 || box.right <= width + 1) continue;
    if (el.parentElement.getBoundingClientRect().right > width + 1) continue;
    let held = false;
    for (let a = el.parentElement; a; a = a.parentElement) {
      if (getComputedStyle(a).overflowX !== 'visible' && a.getBoundingClientRect().right <= width + 1) { held = true; break; }
    }
    if (!held) out.push(`${el.tagName.toLowerCase()}${el.id ? '#' + el.id : ''} (${Math.round(box.right)} px): `
                        + el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 50));
  }
  return {page: [document.documentElement.scrollWidth, width], out};
}"""

# Column headings of at most four characters that the browser set on more than one line.
BROKEN_HEADINGS = """() => Array.from(document.querySelectorAll('th')).filter(th => {
  const text = th.textContent.trim();
  if (!text || text.length > 4) return false;
  const range = document.createRange();
  range.selectNodeContents(th);
  return new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top))).size > 1;
}).map(th => th.textContent.trim())"""


@pytest.fixture
def demo_everything(transactional_db: None, settings: Any) -> dict[str, int]:
    """The demo with a fitted model, a closed month, an alias and an import on record: a customer's
    id and the import's."""
    settings.CACHES = private_cache()
    default_assumptions()
    call_command("seed_demo", customers=400, months=24, stdout=io.StringIO())
    if not PredictiveFit.objects.filter(status=PredictiveFit.Status.SUCCEEDED).exists():
        call_command("fit_clv_models", stdout=io.StringIO())
    months = list(MonthlySnapshot.objects.filter(scope_dimension="company").order_by("month")
                  .values_list("month", flat=True))
    month_close(month=months[-2], note="board pack")
    alias_add(dimension="region", value="华东", canonical="East")  # the aliases page shows its table
    customer = Customer.objects.order_by("pk").first()
    job = ImportJob.objects.order_by("pk").first()
    assert customer is not None and job is not None
    # An upload with its result table and reading notes (a totals row, an Excel day number).
    upload = import_create(kind="transactions", original_name="订单.csv", enqueue=False, chunks=[
        "订单编号,买家会员名,订单创建时间,买家实际支付金额（元）\nP1,淘宝用户甲,46300,88.50\n合计,,,88.50\n".encode()])
    claimed = import_claim(job_id=upload.pk)
    assert claimed is not None and import_run(job=claimed).status == ImportJob.Status.SUCCEEDED
    # A customers file that moves two customers to new regions, one given two values in the file.
    first, second = Customer.objects.order_by("pk")[:2]
    moving = import_create(kind="customers", original_name="客户区域.csv", enqueue=False, chunks=[
        f"客户编号,区域\n{first.external_id},西南大区\n{second.external_id},华北\n{second.external_id},东北大区\n".encode()])
    claimed = import_claim(job_id=moving.pk)
    assert claimed is not None
    moved = import_run(job=claimed)
    assert moved.status == ImportJob.Status.SUCCEEDED and moved.result["segment_conflicts"], moved.result
    assert moved.result["segment_moves"][0]["customers"] == 2, moved.result
    return {"customer": int(customer.pk), "import": int(job.pk), "loaded": int(upload.pk), "moved": int(moving.pk)}


def test_no_screen_scrolls_sideways_on_a_phone(page_for: Callable[..., Any], demo_everything: dict[str, int],
                                               artifacts_dir: Path) -> None:
    problems = {language: _screens_checked(page_for(roles.ADMIN, language=language, viewport=PHONE),
                                           demo_everything, artifacts_dir, language)
                for language in ("en", "zh-hans")}
    assert problems == {"en": {}, "zh-hans": {}}


def _screens_checked(page: Any, demo: dict[str, int], artifacts_dir: Path, language: str) -> dict[str, Any]:
    """What sticks out on each screen (none expected); a screenshot of each that has something."""
    urls = ["/board/", "/board/?scope=region:North", f"/customers/{demo['customer']}/", "/customers/",
            "/customers/model-check/", "/profitability/", "/valuation/", "/imports/", f"/imports/{demo['import']}/",
            f"/imports/{demo['loaded']}/", f"/imports/{demo['moved']}/", "/assumptions/", "/audit/", "/aliases/"]
    # The pages whose tables were wider than a phone before they scrolled inside their cards.
    must_hold = {"/customers/": "#parameter-errors", "/profitability/": "#most-table",
                 "/imports/": ".imports-table", "/assumptions/": "table.history"}
    problems: dict[str, Any] = {}
    for url in urls:
        response = page.goto(f"{page.base_url}{url}")
        assert response is not None and response.status == 200, url
        page.wait_for_load_state("networkidle")
        if page.locator("[data-figure]").count():
            wait_for_charts(page)
        found = page.evaluate(OVERFLOWING)
        broken = page.evaluate(BROKEN_HEADINGS)
        if found["out"] or found["page"][0] > found["page"][1] or broken:
            problems[url] = {"page width": found["page"], "sticking out": found["out"], "headings broken": broken}
            page.screenshot(path=str(artifacts_dir / f"phone-{language}-{url.strip('/').replace('/', '-')}.png"),
                            full_page=True)
        if url == f"/imports/{demo['loaded']}/":
            # The result's counts are on the screen, not scrolled out of sight beside their labels.
            counts = page.evaluate("() => Array.from(document.querySelectorAll('.imports-result td')).map("
                                   "td => [td.textContent.trim(), td.getBoundingClientRect().right])")
            assert counts and all(text and right <= PHONE[0] for text, right in counts), (language, counts)
        if url == f"/imports/{demo['moved']}/":
            # The moves and the conflict are listed, in the reader's language.
            moves = page.locator("#segment-moves-region").inner_text()
            assert "大区" in moves and ("区域" if language == "zh-hans" else "Region") in moves, moves
            assert page.locator("#segment-conflicts-region code").count() == 1
        if url == "/customers/":
            # Each customer's predicted CLV is on the screen, beside its label (no scrolling sideways).
            cells = page.evaluate("() => Array.from(document.querySelectorAll('#predictions td[data-label]')).map("
                                  "td => [getComputedStyle(td, '::before').content, td.getBoundingClientRect().right])")
            assert cells and all(label not in ("none", '""') and right <= PHONE[0] for label, right in cells), (
                language, cells[:8])
        if url in must_hold:
            table = page.locator(must_hold[url]).first
            assert table.count() == 1, (url, must_hold[url])
            # The table is wider than the screen and scrolls inside its box.
            assert page.evaluate("t => t.parentElement.scrollWidth > t.parentElement.clientWidth",
                                 table.element_handle()), url
    assert page.console_errors == []
    return problems
