"""An analyst uploads an Excel workbook choosing its sheet; an admin maps a new segment value.
Both in English and in Chinese, on a desktop and a phone width; screenshots saved."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from aliases.models import SegmentAlias
from clv_dashboard import roles
from customers.models import Customer, ImportJob


def _workbook(path: Path) -> None:
    book = Workbook()
    notes = book.active
    notes.title = "说明"
    notes.append(["这个工作簿的第二个工作表是订单"])
    orders = book.create_sheet("Orders")
    orders.append(["Orders exported 2024-04-01"])
    orders.append([])
    orders.append(["客户编号", "订单号", "订单日期", "金额", "区域"])
    for i in range(30):
        orders.append([f"C{i % 12}", f"O{i}", f"2024-03-{i % 28 + 1:02d}", 10 + i, "华北" if i % 3 else "East"])
    orders.append(["C99", "O99", "2024-03-05", "abc", "East"])
    book.save(path)


def _wait_finished(page: Any) -> None:
    """Wait for the import page to settle by itself: it reloads when the import ends and again
    when the board's recompute ends (a reload of our own could meet one of those)."""
    page.wait_for_selector("#import-recompute[data-status=succeeded], #import-recompute[data-status=failed],"
                           " #import-next-step", timeout=120_000)


@pytest.mark.browser
@pytest.mark.parametrize(("language", "viewport"), [("en", (1440, 900)), ("zh-hans", (390, 844))])
def test_an_analyst_uploads_a_workbook_choosing_the_sheet_and_an_admin_maps_the_new_value(
    tasks_in_thread: None, page_for: Callable[..., Any], tmp_path: Path, artifacts_dir: Path, language: str,
    viewport: tuple[int, int],
) -> None:
    path = tmp_path / "orders.xlsx"
    _workbook(path)
    page = page_for(roles.ANALYST, language=language, viewport=viewport)
    page.goto(f"{page.base_url}/imports/")
    page.set_input_files("#id_file", str(path))
    page.fill("#id_sheet", "Orders")
    page.check("#id_skip_invalid")
    page.click("#upload-button")
    page.wait_for_url("**/imports/*/")
    _wait_finished(page)
    page.screenshot(path=str(artifacts_dir / f"workbook-import-{language}.png"), full_page=True)
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.rows_written == 30 and job.rows_skipped == 1
    assert page.locator("#workbook-read").is_visible()
    assert "Orders" in page.locator("#workbook-read").inner_text()
    # The skipped row is named by its sheet cell.
    assert "Orders!D34" in page.locator("#import-errors").inner_text()
    new_values = page.locator("#new-segment-values")
    assert "华北" in new_values.inner_text()
    assert not page.console_errors, page.console_errors

    admin = page_for(roles.ADMIN, language=language, viewport=viewport)
    admin.goto(page.base_url + new_values.locator("a").first.get_attribute("href"))
    assert admin.input_value("#id_value") == "华北"
    admin.select_option("#id_dimension", "region")
    admin.fill("#id_canonical", "North")
    admin.click("#alias-save")
    admin.wait_for_load_state()
    admin.screenshot(path=str(artifacts_dir / f"aliases-{language}.png"), full_page=True)
    assert SegmentAlias.objects.get().canonical == "North"
    assert set(Customer.objects.values_list("region", flat=True)) == {"East", "North"}
    assert "North" in admin.locator("#alias-list").inner_text()
    assert not admin.console_errors, admin.console_errors
