"""What keeps the board from misleading, in a real Chromium on the demo data: the warm-up shaded
and captioned, the month where retention starts being measured marked, a closed month's tiles
with their published figure and restatement, and the bridge of the next month starting from the
published equity. Screenshots in English and Chinese, at desktop and phone widths, are saved under
test-artifacts/ to be looked at."""

from __future__ import annotations

import io
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from clv_dashboard import roles
from metrics.calculations import month_from_index, month_index
from metrics.closing.services import month_close
from metrics.models import MonthlySnapshot, PublishedSnapshot
from metrics.services import assumptions_record
from tests.browser.test_board import wait_for_charts
from tests.metrics.board.builders import default_assumptions
from tests.metrics.board.conftest import private_cache

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo_closed(transactional_db: None, settings: Any) -> dict[str, Any]:
    """The demo (24 months, W = 12), its second-last month closed, then the discount rate raised."""
    settings.CACHES = private_cache()
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    default_assumptions()
    call_command("seed_demo", customers=400, months=24, stdout=io.StringIO())
    months = list(MonthlySnapshot.objects.filter(scope_dimension="company").order_by("month")
                  .values_list("month", flat=True))
    closed = months[-2]
    close = month_close(month=closed, note="board pack")
    published = close.snapshots.get(scope_dimension="company").customer_equity
    assumptions_record(user=None, note="cost of capital up", annual_discount_rate=Decimal("0.15"))
    current = MonthlySnapshot.objects.get(scope_dimension="company", month=closed).customer_equity
    assert current != published
    return {"months": months, "closed": closed, "latest": months[-1], "published": published, "current": current}


def _shapes(page: Any, name: str) -> list[dict[str, Any]]:
    return page.evaluate(f"() => document.querySelector('[data-figure=\"{name}\"]').layout.shapes")


def _annotations(page: Any, name: str) -> list[str]:
    return page.evaluate(
        f"() => (document.querySelector('[data-figure=\"{name}\"]').layout.annotations || []).map(a => a.text)")


def test_the_warm_up_the_source_change_and_a_restated_month_are_shown(
    page_for: Callable[..., Any], demo_closed: dict[str, Any], artifacts_dir: Path
) -> None:
    months = demo_closed["months"]
    first_measured = month_from_index(month_index(months[0]) + 12)
    warm = months[11]

    # A warm-up month: the notice, the tile note, the shaded band and the caption under the series.
    page = page_for(roles.EXECUTIVE)
    page.goto(f"{page.base_url}/board/?month={warm:%Y-%m}")
    wait_for_charts(page)
    assert "Warm-up month." in page.locator("#warm-up-notice").inner_text()
    assert "nobody can have lapsed yet" in page.locator('.tile[data-metric="retention_rate"] [data-role=note]').inner_text()
    for name in ("equity_clv", "acquisition_retention"):
        bands = [s for s in _shapes(page, name) if s.get("type") == "rect"]
        assert bands and bands[0]["x0"] < f"{months[0]:%Y-%m-%d}" < bands[0]["x1"] < f"{first_measured:%Y-%m-%d}"
        assert "Retention measured from here" in _annotations(page, name)
    captions = page.locator("[data-role=warm-up-caption]")
    assert captions.count() == 2 and "Shaded: the warm-up" in captions.first.inner_text()
    # The band and the source-change label are drawn, not only declared.
    assert page.locator("#chart-equity_clv .shapelayer path, #chart-equity_clv .layer-below path").count() > 0
    assert page.locator("#chart-equity_clv text", has_text="Retention measured from here").count() == 1
    page.screenshot(path=str(artifacts_dir / "trust-warm-up-en.png"), full_page=True)

    # The closed, restated month: its tiles show the published figure and the split.
    page.goto(f"{page.base_url}/board/?month={demo_closed['closed']:%Y-%m}")
    wait_for_charts(page)
    notice = page.locator("#closed-notice").inner_text()
    assert "was closed on" in notice and "restated since" in notice
    published = page.locator('.tile[data-metric="customer_equity"] [data-role=published]').inner_text()
    assert published.startswith("Published: ¥") and "restated" in published and "data" in published
    assert f"{int(demo_closed['published']):,}"[:5] in published.replace("¥", "")
    page.locator('.tile[data-metric="customer_equity"]').screenshot(path=str(artifacts_dir / "trust-restated-tile-en.png"))
    # The referrals tile says its referred new customers as published (a new rate changes the
    # referral equity, not the count: no restatement line on the tile).
    referred = PublishedSnapshot.objects.get(close__month=demo_closed["closed"], scope_dimension="company",
                                             close__reopened_at__isnull=True).referred_new_customers
    assert referred
    referral = page.locator('.tile[data-metric="referral_rate"] [data-role=published]').inner_text()
    assert referral == f"Published: {referred:,} referred"

    # The next month: the bridge starts from the published equity and steps through the restatement.
    page.goto(f"{page.base_url}/board/?month={demo_closed['latest']:%Y-%m}")
    wait_for_charts(page)
    bridge = page.evaluate("() => document.querySelector('[data-figure=\"equity_bridge\"]').data[0]")
    assert bridge["x"][0].startswith("Published") and bridge["x"][1].startswith("Restated:")
    assert bridge["y"][0] == pytest.approx(float(demo_closed["published"]), abs=0.01)
    assert all("Discount" not in label for label in bridge["x"])
    assert sum(bridge["y"][:-1]) == pytest.approx(
        float(MonthlySnapshot.objects.get(scope_dimension="company", month=demo_closed["latest"]).customer_equity),
        abs=0.02)
    page.locator("#chart-equity_bridge").screenshot(path=str(artifacts_dir / "trust-bridge-en.png"))
    assert page.console_errors == []

    # The same in Chinese, on a phone: nothing sticks out sideways.
    phone = page_for(roles.EXECUTIVE, language="zh-hans", viewport=(390, 844))
    phone.goto(f"{page.base_url}/board/?month={demo_closed['closed']:%Y-%m}")
    wait_for_charts(phone)
    assert "已发布" in phone.locator('.tile[data-metric="customer_equity"] [data-role=published]').inner_text()
    assert "结账" in phone.locator("#closed-notice").inner_text()
    assert "推荐" in phone.locator('.tile[data-metric="referral_rate"] [data-role=published]').inner_text()
    phone.screenshot(path=str(artifacts_dir / "trust-restated-zh-phone.png"), full_page=True)
    phone.goto(f"{page.base_url}/board/?month={first_measured:%Y-%m}")
    wait_for_charts(phone)
    assert phone.locator("#chart-equity_clv text", has_text="自此开始实测留存率").count() == 1
    phone.screenshot(path=str(artifacts_dir / "trust-source-change-zh-phone.png"), full_page=True)
    assert phone.console_errors == []


def test_the_pack_of_a_closed_month_prints_as_published_or_current(
    page_for: Callable[..., Any], demo_closed: dict[str, Any], artifacts_dir: Path
) -> None:
    page = page_for(roles.EXECUTIVE)
    page.goto(f"{page.base_url}/board/pack/?month={demo_closed['closed']:%Y-%m}")
    wait_for_charts(page)
    assert page.locator("#pack-figures").inner_text() == "as published"
    equity = page.locator('.tile[data-metric="customer_equity"] [data-role=value]').inner_text()
    assert equity == f"¥{int(demo_closed['published'].quantize(Decimal(1))):,}"
    assert "restated since" in page.locator("#closed-notice").inner_text()
    page.click("#pack-current")
    wait_for_charts(page)
    assert page.locator("#pack-figures").inner_text() == "current figures"
    assert page.locator('.tile[data-metric="customer_equity"] [data-role=value]').inner_text() == (
        f"¥{int(demo_closed['current'].quantize(Decimal(1))):,}")
    page.pdf(path=str(artifacts_dir / "trust-pack-as-published.pdf"), format="A4", landscape=True)
    assert page.console_errors == []
