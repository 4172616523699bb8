"""An analyst uploads a file in a real browser, watches the progress bar move, and sees the result."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from clv_dashboard import roles
from clv_dashboard.celery import app as celery_app
from customers.models import ImportJob, Transaction

ROWS = int(__import__("os").environ.get("IMPORTS_BROWSER_ROWS", "300000"))


@pytest.mark.browser
@pytest.mark.worker
def test_an_analyst_uploads_a_file_and_watches_it_load(
    start_worker: Callable[[], Any], page_for: Callable[..., Any], tmp_path: Path, artifacts_dir: Path
) -> None:
    start_worker()
    # Shared tasks follow the current Celery app; a test that built another app may have left
    # that one current.
    celery_app.set_current()
    path = tmp_path / "orders.csv"
    with path.open("w", encoding="utf-8") as f:
        f.write("客户编号,订单号,订单日期,金额,成本,区域\n")
        for i in range(ROWS):
            f.write(f"C{i % 7000},O{i},2024-{i % 12 + 1:02d}-{i % 28 + 1:02d},\"{i % 3000:,}.50\",{i % 90},R{i % 4}\n")
        f.write("C1,O1,2024-01-01,1.00,1,R1\n")  # a line item of order O1: summed into it

    page = page_for(roles.ANALYST)
    page.console_errors.clear()
    page.on("response", lambda r: r.status >= 400 and page.console_errors.append(f"{r.status} {r.url}"))
    page.goto(f"{page.base_url}/imports/")
    assert page.locator("#imports-empty").is_visible()
    page.select_option("#id_kind", "transactions")
    page.set_input_files("#id_file", str(path))
    # The upload's own progress bar: what it shows is logged, since the page moves on when done.
    uploaded: list[str] = []
    page.on("console", lambda m: uploaded.append(m.text) if m.text.startswith("upload:") else None)
    page.evaluate("""() => {
      const bar = document.getElementById("upload-progress-bar");
      new MutationObserver(() => console.log("upload:" + bar.getAttribute("aria-valuenow")))
        .observe(bar, {attributes: true, attributeFilter: ["aria-valuenow"]});
    }""")
    page.click("#upload-button")
    try:
        page.wait_for_url("**/imports/*/")
    finally:
        page.screenshot(path=str(artifacts_dir / "imports-after-upload.png"), full_page=True)

    assert uploaded and uploaded[-1] == "upload:100", uploaded

    seen: list[int] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if page.locator("#import-result").count():
            break
        try:
            value = page.get_attribute("#import-progress", "aria-valuenow", timeout=2000)
        except Exception:  # noqa: BLE001 - the page reloads itself when the import finishes
            continue
        if value is not None:
            seen.append(int(value))
        time.sleep(0.15)
    page.wait_for_selector("#import-result", timeout=30_000)
    page.screenshot(path=str(artifacts_dir / "imports-result.png"), full_page=True)

    assert any(0 < v < 100 for v in seen), f"the progress bar never showed a value between 0 and 100: {seen}"
    assert seen == sorted(seen), f"the progress bar went backwards: {seen}"
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert Transaction.objects.count() == ROWS
    result = page.locator("#import-result").inner_text()
    assert "300,000" in result and "7,000" in result  # transactions added, new customers
    assert page.locator("#import-status-label").inner_text() == "Loaded"
    assert page.console_errors == []


@pytest.mark.browser
def test_a_refused_upload_shows_why_on_the_same_page(page_for: Callable[..., Any], tmp_path: Path) -> None:
    workbook = tmp_path / "orders.pdf"
    workbook.write_bytes(b"%PDF-1.4 not a CSV file")
    page = page_for(roles.ANALYST)
    page.goto(f"{page.base_url}/imports/")
    page.set_input_files("#id_file", str(workbook))
    page.console_errors.clear()
    with page.expect_response(lambda r: r.request.method == "POST") as answer:
        page.click("#upload-button")
    assert answer.value.status == 400
    error = page.locator("#upload-form .error[role=alert]").first
    error.wait_for()
    assert "Only .csv, .txt, .tsv and Excel (.xlsx, .xls) files can be imported" in error.inner_text()
    assert page.url.rstrip("/").endswith("/imports")
    assert not page.locator("#upload-button").is_disabled()
    assert ImportJob.objects.count() == 0
    # The 400 is the refusal itself, not a fault of the page.
    assert [e for e in page.console_errors if "400" not in e] == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_import_page_lists_the_referrals_that_cannot_count_in_both_languages(
    page_for: Callable[..., Any], artifacts_dir: Path
) -> None:
    from customers.services import import_claim, import_create, import_run

    content = ("customer_id,order_id,order_date,revenue,推荐人\nA,O1,2024-01-05,10,\nB,O2,2024-02-05,10,A\n"
               "C,O3,2024-02-05,10,C\nD,O4,2024-02-05,10,nobody\nE,O5,2024-01-02,10,B\n")
    job = import_create(kind="transactions", chunks=[content.encode()], original_name="referrals.csv",
                        enqueue=False, language="en")
    claimed = import_claim(job_id=job.pk)
    assert claimed is not None
    job = import_run(job=claimed)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    expected = {"en": ("Referrals that cannot count as things stand", "names themself", "not a known customer",
                       "first purchase is later than theirs"),
                "zh-hans": ("按现有数据无法计入的推荐", "把自己填为推荐人", "不是已知客户", "首次购买晚于其本人")}
    for language, (title, *kinds) in expected.items():
        page = page_for(roles.ANALYST, language=language)
        page.goto(f"{page.base_url}/imports/{job.pk}/")
        box = page.locator("#referral-warnings")
        assert title in box.inner_text()
        for kind, text in zip(("self", "unknown", "newer"), kinds, strict=True):
            assert text in box.locator(f"#referral-warning-{kind}").inner_text(), kind
        assert "E ← B" in box.locator("#referral-warning-newer").inner_text()
        order = box.locator("li").evaluate_all("ls => ls.map(l => l.id)")
        assert order == ["referral-warning-self", "referral-warning-unknown", "referral-warning-newer"]
        box.screenshot(path=str(artifacts_dir / f"imports-referral-warnings-{language}.png"))
        assert page.console_errors == []
