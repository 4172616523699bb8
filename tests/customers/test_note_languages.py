"""The reading notes of an import (customers.services.imports._note) are kept as message parts,
so that each reader sees them in their own language, whatever language the import ran in: an
import run from the command line (English) reads in Chinese on a Chinese reader's page."""

from __future__ import annotations

from collections.abc import Callable

from django.test import Client
from django.utils import translation
from django.utils.html import escape

from clv_dashboard import roles
from customers.models import NOTE_PARTS, ImportJob
from customers.services import parsing as p

Run = Callable[..., ImportJob]


def _in(language: str, template: object, **params: object) -> str:
    with translation.override(language):
        return str(template).format(**params)


def _html(text: str) -> str:
    return str(escape(text))


def _page(client: Client, job: ImportJob, language: str) -> str:
    client.cookies["django_language"] = language
    return client.get(f"/imports/{job.pk}/").content.decode()


def test_a_note_written_in_english_reads_in_chinese_on_a_chinese_page(
    run_import: Run, client_as: Callable[[str | None], Client]
) -> None:
    # run_import runs in English, as the command line does: an amount with another currency's
    # sign, a date as an Excel day number (45356 = 2024-03-05).
    job = run_import("transactions", "customer_id,order_id,order_date,revenue\n"
                     "A,O1,2024-02-01,US$12.50\nA,O2,45356,3\nB,O3,2024-02-03,4\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    mark = {"count": "1", "example": "US$12.50", "line": 2, "currency": "CNY"}
    day = {"example": "45356", "line": 3, "date": "2024-03-05", "field": "order_date"}
    english_mark = _in("en", p.NOTE_CURRENCY_MARK, **mark)
    chinese_mark = _in("zh-hans", p.NOTE_CURRENCY_MARK, **mark)
    chinese_day = _in("zh-hans", p.NOTE_EXCEL_DAY_NUMBERS, **day)
    assert chinese_mark != english_mark, "the note has a Chinese translation"
    # Stored as written (the command's report) and as parts (the pages).
    assert job.detected["currency_mark_note"] == english_mark
    assert set(job.detected[NOTE_PARTS]) == {"currency_mark_note", "date_note"}

    client = client_as(roles.ANALYST)
    chinese = _page(client, job, "zh-hans")
    assert _html(chinese_mark) in chinese and _html(chinese_day) in chinese
    assert _html(english_mark) not in chinese
    english = _page(client, job, "en")
    assert _html(english_mark) in english and _html(_in("en", p.NOTE_EXCEL_DAY_NUMBERS, **day)) in english
    assert _html(chinese_mark) not in english


def test_a_note_without_parts_is_shown_as_stored(run_import: Run, client_as: Callable[[str | None], Client]) -> None:
    # An import from before the parts were kept: its note is shown as it was written.
    job = run_import("transactions", "customer_id,order_id,order_date,revenue\nA,O1,2024-02-01,US$12.50\n")
    detected = dict(job.detected)
    detected.pop(NOTE_PARTS)
    detected["currency_mark_note"] = "Stored before: one amount in dollars."
    ImportJob.objects.filter(pk=job.pk).update(detected=detected)
    page = _page(client_as(roles.ANALYST), job, "zh-hans")
    assert "Stored before: one amount in dollars." in page


def test_a_western_encoding_note_follows_the_reader_too(
    run_import: Run, client_as: Callable[[str | None], Client]
) -> None:
    body = "".join(f"C{i},O{i},2024-01-{i % 28 + 1:02d},{i}.50,Zürich\n" for i in range(300))
    job = run_import("transactions", ("customer_id,order_id,order_date,revenue,region\n" + body).encode("cp1252"))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    chinese = _in("zh-hans", p.NOTE_WESTERN_ENCODING, example="Zürich")
    assert chinese != _in("en", p.NOTE_WESTERN_ENCODING, example="Zürich")
    assert _html(chinese) in _page(client_as(roles.ANALYST), job, "zh-hans")


def test_the_chinese_import_page_writes_full_width_colons_and_semicolons(
    run_import: Run, client_as: Callable[[str | None], Client]
) -> None:
    job = run_import("transactions", "customer_id,order_id,order_date,revenue\nA,O1,2024-02-01,3\n")
    page = _page(client_as(roles.ANALYST), job, "zh-hans")
    with translation.override("zh-hans"):
        encoding, delimiter = translation.gettext("Encoding"), translation.gettext("delimiter")
    assert f"{encoding}：UTF-8；{delimiter}：" in page
    assert "Encoding: UTF-8; delimiter: " in _page(client_as(roles.ANALYST), job, "en")
