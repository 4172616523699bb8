"""An import's page: a refused import says what to do and shows no progress bar; a loaded one
says the board was recomputed."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from clv_dashboard import roles
from customers.models import ImportJob
from metrics.models import RecomputeRun

pytestmark = pytest.mark.django_db

BAD = b"customer_id,order_id,order_date,revenue\nC1,O1,2024-01-05,100\nC2,O2,2024-01-06,bad\n"
GOOD = b"customer_id,order_id,order_date,revenue\nC1,O1,2024-01-05,100\nC2,O2,2024-02-06,50\n"


@pytest.fixture
def upload(django_capture_on_commit_callbacks: Any) -> Callable[[Client, bytes], ImportJob]:
    def run(client: Client, content: bytes) -> ImportJob:
        with django_capture_on_commit_callbacks(execute=True):
            job = _upload(client, content)
        job.refresh_from_db()
        return job

    return run


def _upload(client: Client, content: bytes) -> ImportJob:
    response = client.post("/imports/", {"kind": "transactions",
                                         "file": SimpleUploadedFile("t.csv", content, content_type="text/csv")})
    assert response.status_code == 302
    return ImportJob.objects.get(pk=int(response["Location"].rstrip("/").rsplit("/", 1)[1]))


def test_a_refused_import_shows_no_progress_bar_and_says_what_to_do(client_as: Callable[[str | None], Client],
        upload: Callable[[Client, bytes], ImportJob]) -> None:
    client = client_as(roles.ANALYST)
    job = upload(client, BAD)
    assert job.status == ImportJob.Status.REJECTED
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert 'id="import-progress"' not in page
    assert 'id="import-next-step"' in page and "upload it again" in page
    assert 'id="import-recompute"' not in page


def test_a_refused_import_says_what_to_do_in_chinese(client_as: Callable[[str | None], Client],
        upload: Callable[[Client, bytes], ImportJob]) -> None:
    client = client_as(roles.ANALYST)
    job = upload(client, BAD)
    client.cookies["django_language"] = "zh-hans"
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert "没有载入任何数据。" in page and "upload it again" not in page


def test_a_loaded_import_says_whether_the_board_was_recomputed(
        client_as: Callable[[str | None], Client], upload: Callable[[Client, bytes], ImportJob],
        recompute_calls: list[dict[str, Any]]) -> None:
    # The recompute the import asks for is recorded (tests/customers/conftest.py); its run is
    # written here as the task would write it (the real one: tests/foundation/test_background_thread.py).
    client = client_as(roles.ANALYST)
    job = upload(client, GOOD)
    assert job.status == ImportJob.Status.SUCCEEDED and recompute_calls
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert 'id="import-progress"' in page
    assert 'data-status=""' in page and "The board is being recomputed" in page
    progress = f"/imports/{job.pk}/progress/"
    assert client.get(progress).json()["recompute_status"] is None  # the page keeps polling
    run = RecomputeRun.objects.create(trigger="import", status=RecomputeRun.Status.RUNNING)
    assert "The board is being recomputed" in client.get(f"/imports/{job.pk}/").content.decode()
    assert client.get(progress).json()["recompute_status"] == "running"
    RecomputeRun.objects.filter(pk=run.pk).update(status=RecomputeRun.Status.SUCCEEDED)
    assert client.get(progress).json()["recompute_status"] == "succeeded"  # the page reloads
    page = client.get(f"/imports/{job.pk}/").content.decode()
    assert 'data-status="succeeded"' in page and "The board was recomputed" in page
