"""The Model check page in a browser: an analyst reads the holdout check of the three models on
the CDNOW sample, in English and in Chinese, and tries a split with too little history."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clv_dashboard import roles
from metrics.models import AssumptionSet
from tests.metrics.predictive.db import cdnow_load

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
SPLIT = "/customers/model-check/?calibration_end=1997-09-30&holdout_end=1998-06-30"


@pytest.fixture
def cdnow(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    # A transactional test may start from flushed tables: the assumptions of the migration.
    AssumptionSet.objects.get_or_create(version=1, defaults={"note": "defaults"})
    cdnow_load()


def _drawn(page: Any) -> None:
    page.wait_for_selector("#tracking-chart[data-rendered=true]")
    page.wait_for_selector("#conditional-chart[data-rendered=true]")


def test_an_analyst_reads_the_model_check_with_its_plots_and_table(
    cdnow: None, page_for: Callable[..., Any], artifacts_dir: Path,
) -> None:
    page = page_for(roles.ANALYST)
    page.goto(f"{page.base_url}{SPLIT}")
    _drawn(page)
    assert "They made 1,882 repeat purchases in the holdout" in page.locator("#model-check-summary").inner_text()
    # Actual and the three models in each plot.
    assert page.locator("#tracking-chart .scatterlayer .trace").count() == 4
    assert page.locator("#conditional-chart .scatterlayer .trace").count() == 4
    assert page.locator("#model-table tbody tr").count() == 3
    assert page.locator("#frequency-table tbody tr").count() == 8
    assert page.locator("#frequency-table tbody tr").last.locator("th").inner_text() == "7+"
    assert page.locator("#model-table .badge").count() == 1
    page.screenshot(path=str(artifacts_dir / "model-check.png"), full_page=True)
    page.locator("#tracking-chart").screenshot(path=str(artifacts_dir / "model-check-tracking.png"))

    # A split the history cannot support: the reason and what to do.
    page.fill("#id_calibration_end", "1997-01-01")
    page.click("#split-form button[type=submit]")
    page.wait_for_selector("#model-check-empty")
    text = page.locator("#model-check-empty").inner_text()
    assert "Too little history for this split" in text and "No customer bought again by 1997-01-01" in text
    page.screenshot(path=str(artifacts_dir / "model-check-empty.png"), full_page=True)
    assert page.console_errors == []


def test_the_model_check_reads_in_chinese(cdnow: None, page_for: Callable[..., Any], artifacts_dir: Path) -> None:
    page = page_for(roles.ANALYST, language="zh-hans")
    page.goto(f"{page.base_url}{SPLIT}")
    _drawn(page)
    assert page.locator("h1").inner_text() == "模型检验"
    assert "1,882" in page.locator("#model-check-summary").inner_text()
    assert "跟踪图" in page.content()
    page.screenshot(path=str(artifacts_dir / "model-check-zh.png"), full_page=True)
    assert page.console_errors == []


def test_an_executive_is_not_shown_the_model_check(cdnow: None, page_for: Callable[..., Any]) -> None:
    page = page_for(roles.EXECUTIVE)
    response = page.goto(f"{page.base_url}{SPLIT}")
    assert response is not None and response.status == 403
