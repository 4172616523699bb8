"""Import pages: permissions for every role and a logged-out visitor, upload, progress, report, undo."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from clv_dashboard import roles
from customers.models import ImportJob, Transaction
from tests.factories import ImportJobFactory
from tests.responses import streamed_body

TX = b"customer_id,order_id,order_date,revenue\nC1,O1,2024-01-05,100\nC2,O2,2024-01-06,bad\n"


def _pages(job: ImportJob) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("get", reverse("imports:list"), {}),
        ("post", reverse("imports:list"), {"kind": "transactions",
                                           "file": SimpleUploadedFile("t.csv", TX, content_type="text/csv")}),
        ("get", reverse("imports:detail", args=[job.pk]), {}),
        ("get", reverse("imports:progress", args=[job.pk]), {}),
        ("get", reverse("imports:report", args=[job.pk]), {}),
        ("post", reverse("imports:undo", args=[job.pk]), {}),
        ("post", reverse("imports:rerun", args=[job.pk]), {}),
    ]


@pytest.mark.parametrize(
    ("role", "allowed"), [(None, False), (roles.EXECUTIVE, False), (roles.ANALYST, True), (roles.ADMIN, True)]
)
def test_every_import_page_checks_the_permission(
    role: str | None, allowed: bool, client_as: Callable[[str | None], Client]
) -> None:
    client = client_as(role)
    job = cast(ImportJob, ImportJobFactory(status=ImportJob.Status.REJECTED))
    for method, url, data in _pages(job):
        response = getattr(client, method)(url, data)
        if role is None and method == "post":
            # The test client posts multipart: refused from the headers for anyone who may not upload.
            assert response.status_code == 403, url
        elif role is None:
            assert response.status_code == 302 and response["Location"].startswith("/login/"), url
        elif not allowed:
            assert response.status_code == 403, url
        else:
            assert response.status_code not in (302, 403) or (method == "post" and response.status_code == 302), url
    if not allowed:
        assert ImportJob.objects.count() == 1  # nothing was uploaded


def test_the_list_shows_an_empty_state_and_the_upload_form(client_as: Callable[[str | None], Client]) -> None:
    html = client_as(roles.ANALYST).get("/imports/").content.decode()
    assert 'id="imports-empty"' in html and 'id="upload-form"' in html


def test_an_upload_is_stored_and_processed_and_the_detail_shows_the_errors(
    client_as: Callable[[str | None], Client], django_capture_on_commit_callbacks: Any
) -> None:
    client = client_as(roles.ANALYST)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/imports/", {
            "kind": "transactions", "file": SimpleUploadedFile("t.csv", TX, content_type="application/x-msexcel"),
        })
    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/imports/{job.pk}/"
    job.refresh_from_db()
    assert job.created_by is not None
    assert job.status == ImportJob.Status.REJECTED and job.created_by.groups.filter(name=roles.ANALYST).exists()
    html = client.get(f"/imports/{job.pk}/").content.decode()
    assert "bad" in html and "is not an amount" in html and 'id="error-report-link"' in html
    report = client.get(f"/imports/{job.pk}/errors.csv")
    assert report.status_code == 200
    body = streamed_body(report).decode("utf-8-sig")
    assert body.splitlines()[1].startswith("3,revenue,bad,")
    progress = client.get(f"/imports/{job.pk}/progress/").json()
    assert progress["finished"] is True and progress["status"] == "rejected" and progress["rows_invalid"] == 1
    # Run it again, skipping the invalid row.
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{job.pk}/rerun/", {"map_customer_id": "customer_id", "map_order_date": "order_date",
                                                  "map_revenue": "revenue", "map_order_id": "order_id",
                                                  "skip_invalid": "on"})
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert list(Transaction.objects.values_list("order_id", flat=True)) == ["O1"]
    response = client.post(f"/imports/{job.pk}/undo/")
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == ImportJob.Status.UNDONE and Transaction.objects.count() == 0


def test_a_wrong_file_type_is_refused_on_the_page(client_as: Callable[[str | None], Client]) -> None:
    response = client_as(roles.ANALYST).post("/imports/", {
        "kind": "transactions", "file": SimpleUploadedFile("t.pdf", TX, content_type="text/csv")})
    assert response.status_code == 400
    assert "Only .csv, .txt, .tsv and Excel (.xlsx, .xls) files" in response.content.decode()
    assert ImportJob.objects.count() == 0


def test_an_oversized_upload_is_refused_before_it_is_read(
    client_as: Callable[[str | None], Client], settings: Any
) -> None:
    settings.CLV_MAX_UPLOAD_BYTES = 100
    big = SimpleUploadedFile("t.csv", b"customer_id,date,revenue\n" + b"C1,2024-01-01,1\n" * 10_000)
    response = client_as(roles.ANALYST).post("/imports/", {"kind": "transactions", "file": big})
    assert response.status_code == 413
    assert "larger than the limit of 0 MB" in response.content.decode()
    assert ImportJob.objects.count() == 0
    assert not (settings.MEDIA_ROOT / "imports" / "uploads").exists()


def test_the_page_offers_a_column_mapping_when_recognition_fails(
    client_as: Callable[[str | None], Client], django_capture_on_commit_callbacks: Any
) -> None:
    client = client_as(roles.ANALYST)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/imports/", {"kind": "transactions", "file": SimpleUploadedFile(
            "cd.txt", b"cust date dollars\n1 19970101 5.00\n")})
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.REJECTED
    html = client.get(f"/imports/{job.pk}/").content.decode()
    assert 'name="map_revenue"' in html and '<option value="dollars">dollars</option>' in html
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/imports/{job.pk}/rerun/", {"map_customer_id": "cust", "map_order_date": "date",
                                                  "map_revenue": "dollars"})
    job.refresh_from_db()
    assert job.status == ImportJob.Status.SUCCEEDED, job.message


def test_a_mapping_typed_on_the_upload_form_is_used(
    client_as: Callable[[str | None], Client], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        client_as(roles.ANALYST).post("/imports/", {
            "kind": "transactions", "mapping": "revenue=dollars\ncustomer_id=cust",
            "file": SimpleUploadedFile("cd.tsv", b"cust\tdate\tdollars\n1\t19970101\t5.00\n")})
    job = ImportJob.objects.get()
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["columns"]["revenue"] == "dollars"


def test_the_import_pages_speak_chinese(
    client_as: Callable[[str | None], Client], django_capture_on_commit_callbacks: Any
) -> None:
    client = client_as(roles.ANALYST)
    client.cookies["django_language"] = "zh-hans"
    assert "上传 CSV 文件" in client.get("/imports/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/imports/", {"kind": "transactions", "file": SimpleUploadedFile(
            "t.csv", "客户编号;订单日期;金额\nC1;2024-01-05;1,5\nC2;2024-01-06;坏\n".encode("gbk"))})
    job = ImportJob.objects.get()
    html = client.get(f"/imports/{job.pk}/").content.decode()
    assert "分号" in html and "GB18030/GBK" in html
    assert "不是金额" in html  # the row error, in the uploader's language
    assert "有 1 行无效，因此没有导入任何数据" in job.message


def test_the_error_report_neutralises_values_a_spreadsheet_would_run(
    client_as: Callable[[str | None], Client], django_capture_on_commit_callbacks: Any
) -> None:
    client = client_as(roles.ANALYST)
    evil = b"customer_id,order_id,order_date,revenue\nC1,O1,2024-01-05,=1+2\n"
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/imports/", {"kind": "transactions", "file": SimpleUploadedFile("t.csv", evil)})
    job = ImportJob.objects.get()
    body = streamed_body(client.get(f"/imports/{job.pk}/errors.csv")).decode("utf-8-sig")
    assert body.splitlines()[1].startswith("2,revenue,'=1+2,")
