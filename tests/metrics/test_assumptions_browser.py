"""The assumptions page in a real Chromium: an admin changes the assumptions; Chinese works."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clv_dashboard import roles
from metrics.models import AssumptionSet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def assumptions_v1(transactional_db: None, settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    AssumptionSet.objects.get_or_create(version=1, defaults={"note": "Defaults of METRICS.md"})


def test_an_admin_changes_the_assumptions_and_sees_the_new_version(
    assumptions_v1: None, page_for: Callable[..., Any], artifacts_dir: Path
) -> None:
    page = page_for(roles.ADMIN)
    page.goto(f"{page.base_url}/assumptions/")
    page.fill("#id_annual_discount_rate_percent", "12")
    page.fill("#id_note", "")
    page.click("button[type=submit].primary")
    assert "the note is required" in page.inner_text(".assumptions-form")
    page.fill("#id_note", "Cost of capital reviewed by the CFO")
    page.click("button[type=submit].primary")
    page.wait_for_selector(".message.success")
    assert "Saved as version 2" in page.inner_text(".messages")
    assert "Cost of capital reviewed by the CFO" in page.inner_text("table.history")
    assert "12.00%" in page.inner_text(".assumption-list")
    page.screenshot(path=str(artifacts_dir / "assumptions-admin-en.png"), full_page=True)
    assert not page.console_errors


def test_an_executive_sees_the_page_read_only_in_chinese(
    assumptions_v1: None, page_for: Callable[..., Any], artifacts_dir: Path
) -> None:
    page = page_for(roles.EXECUTIVE, language="zh-hans")
    page.goto(f"{page.base_url}/assumptions/")
    assert page.inner_text("h1") == "假设参数"
    assert page.locator("form.assumptions-form").count() == 0
    assert "只有管理员可以修改假设参数" in page.content()
    page.screenshot(path=str(artifacts_dir / "assumptions-executive-zh.png"), full_page=True)
    assert not page.console_errors
