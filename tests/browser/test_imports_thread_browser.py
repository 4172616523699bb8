"""The demo's imports (in-process tasks in a background thread): the upload answers at once, the
progress bar moves, and the page then says the board was recomputed, all without a worker."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Error as PlaywrightError

from clv_dashboard import roles
from customers.models import ImportJob

ROWS = 250_000  # long enough for several of the page's polls (every 0.7 s) on a fast machine


@pytest.mark.browser
def test_in_the_demo_the_upload_returns_at_once_and_the_progress_bar_moves(
    tasks_in_thread: None, settings: Any, page_for: Callable[..., Any], tmp_path: Path, artifacts_dir: Path,
) -> None:
    assert settings.CELERY_TASK_ALWAYS_EAGER  # no worker: the web process runs the import
    path = tmp_path / "orders.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("customer_id,order_id,order_date,revenue\n")
        for i in range(ROWS):
            f.write(f"C{i % 900},O{i},2024-{i % 12 + 1:02d}-{i % 28 + 1:02d},{10 + i % 90}\n")
    page = page_for(roles.ANALYST)
    page.goto(f"{page.base_url}/imports/")
    page.set_input_files("#id_file", str(path))
    started = time.monotonic()
    page.click("#upload-button")
    page.wait_for_url("**/imports/*/")
    job = ImportJob.objects.get()
    assert job.status in (ImportJob.Status.PENDING, ImportJob.Status.RUNNING), job.status  # not done in the request
    seen: list[str] = []
    deadline = started + 180
    while time.monotonic() < deadline and not page.locator("#import-recompute").count():
        try:
            value = page.evaluate("() => { const b = document.getElementById('import-progress');"
                                  " return b ? b.getAttribute('aria-valuenow') : null; }")
        except PlaywrightError:  # the page reloads itself when the import ends: read it again
            value = None
        if value is not None and (not seen or seen[-1] != value):
            seen.append(value)
        time.sleep(0.1)
    assert len(seen) >= 2 and seen[-1] != seen[0], seen  # the bar moved while the import ran
    page.wait_for_selector('#import-recompute[data-status="succeeded"]', timeout=120_000)
    page.screenshot(path=str(artifacts_dir / "imports-thread-done.png"), full_page=True)
    assert "The board was recomputed" in page.text_content("#import-recompute")
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED and job.rows_written == ROWS
    assert page.console_errors == []
