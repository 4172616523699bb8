"""In-process tasks in a background thread (the demo): the upload returns at once, the import
runs in a thread of the same process and the page can follow its progress."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from clv_dashboard import roles
from clv_dashboard.background import in_process_submit, tasks_in_thread
from customers.models import ImportJob
from metrics.models import RecomputeRun

ROWS = 30_000


def _big_file() -> bytes:
    lines = ["customer_id,order_id,order_date,revenue"]
    lines += [f"C{i % 500},O{i},2024-{1 + i % 12:02d}-{1 + i % 28:02d},{10 + i % 90}" for i in range(ROWS)]
    return ("\n".join(lines) + "\n").encode()


def test_thread_mode_is_off_in_the_tests_and_on_in_the_local_settings(settings: Any) -> None:
    assert settings.CELERY_TASK_ALWAYS_EAGER and not tasks_in_thread()
    local = (Path(__file__).resolve().parents[2] / "clv_dashboard" / "settings" / "local.py").read_text()
    assert 'CLV_TASKS_IN_THREAD = env.bool("CLV_TASKS_IN_THREAD", default=True)' in local


def test_a_submitted_job_runs_in_another_thread() -> None:
    seen: list[str] = []
    in_process_submit(lambda: seen.append(threading.current_thread().name)).result(timeout=10)
    assert seen and seen[0] != threading.current_thread().name and seen[0].startswith("clv-task")


@pytest.mark.django_db(transaction=True)
def test_the_upload_returns_before_the_import_runs_and_the_board_is_recomputed(
    tasks_in_thread: None, settings: Any, tmp_path: Path, client_as: Callable[[str | None], Client],
) -> None:
    settings.MEDIA_ROOT = tmp_path / "media"
    client = client_as(roles.ANALYST)
    started = time.monotonic()
    response = client.post("/imports/", {"kind": "transactions",
                                         "file": SimpleUploadedFile("big.csv", _big_file(), content_type="text/csv")})
    answered = time.monotonic() - started
    assert response.status_code == 302
    job = ImportJob.objects.get()
    # The request did not wait for the import: the job was still waiting or running.
    assert job.status in (ImportJob.Status.PENDING, ImportJob.Status.RUNNING), (job.status, answered)
    progress_seen = set()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        data = client.get(f"/imports/{job.pk}/progress/").json()
        progress_seen.add(data["progress"])
        if data["finished"]:
            break
        time.sleep(0.05)
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.rows_written == ROWS
    assert len(progress_seen) >= 2  # the page saw the bar move, not just 0 then done
    # The board recompute runs in the same thread after the import.
    while time.monotonic() < deadline and not RecomputeRun.objects.filter(
            trigger="import", status=RecomputeRun.Status.SUCCEEDED).exists():
        time.sleep(0.1)
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert 'data-status="succeeded"' in page and "The board was recomputed" in page
