"""An amount whose own cell names another currency (US$12.50, €100, 5 USD under the CNY default)
is read as it is, and the import says how many there were, with the first one and its line:
the board counts in one currency and the import converts none (docs/csv-formats.md)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from customers.models import CostEntry, ImportJob, Transaction
from customers.services import parsing as p

Run = Callable[..., ImportJob]


@pytest.mark.parametrize(("raw", "code"), [
    ("US$12.50", "USD"), ("$5", "USD"), ("-$5", "USD"), ("($5.00)", "USD"), ("HK$ 8", "HKD"), ("NT$100", "TWD"),
    ("€12,50", "EUR"), ("£3", "GBP"), ("5 USD", "USD"), ("5美元", "USD"), ("3港币", "HKD"), ("JP¥300", "JPY"),
    ("¥3", "CNY"), ("￥3", "CNY"), ("CN¥3", "CNY"), ("RMB 3", "CNY"), ("3元", "CNY"), ("3 人民币", "CNY"),
    ("12.50", None), ("1,234.50", None), ("1.5万", None),
])
def test_the_currency_an_amount_cell_names(raw: str, code: str | None) -> None:
    assert p.amount_currency(raw) == code


def _plain_rows(n: int) -> str:
    return "".join(f"C{i % 7},O{i:05d},2024-0{i % 9 + 1}-05,{i}.25\n" for i in range(n))


@pytest.mark.parametrize("reader", ["columnar", "rows"])
def test_amounts_in_another_currency_are_read_and_noted_with_the_first_line(run_import: Run, reader: str) -> None:
    header = "customer_id,order_id,order_date,revenue" + (",note\n" if reader == "rows" else "\n")
    extra = ',"two\nlines"' if reader == "rows" else ""
    marked = (f"A,X1,2024-02-01,¥3.00{extra}\n" f"A,X2,2024-02-02,US$12.50{extra}\n" f"B,X3,2024-02-03,5 USD{extra}\n"
              f"B,X4,2024-02-04,3元{extra}\n" f"B,X5,2024-02-05,-€4{extra}\n")
    job = run_import("transactions", header + marked + (_plain_rows(50) if reader == "columnar" else ""))
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["reader"] == reader
    revenue = dict(Transaction.objects.filter(order_id__startswith="X").values_list("order_id", "revenue"))
    assert revenue == {"X1": Decimal("3.00"), "X2": Decimal("12.50"), "X3": Decimal("5.00"), "X4": Decimal("3.00"),
                       "X5": Decimal("-4.00")}
    note = job.detected["currency_mark_note"]
    # The first marked amount is on the file's third line (the header, a ¥ amount, then US$).
    line = 3 if reader == "columnar" else 4  # a quoted line break makes each row two lines
    assert note.startswith(f'3 amounts are written with another currency\'s sign or code ("US$12.50" on line {line})')
    assert "read as an amount in CNY" in note


def test_a_file_in_the_boards_own_currency_has_no_note(run_import: Run) -> None:
    job = run_import("transactions", "customer_id,order_id,order_date,revenue\n"
                     "A,O1,2024-02-01,¥3.00\nA,O2,2024-02-02,RMB 4\nA,O3,2024-02-03,5元\nA,O4,2024-02-04,6\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert "currency_mark_note" not in job.detected


def test_under_another_board_currency_its_own_sign_is_plain_and_the_yuan_is_noted(run_import: Run, settings: Any) -> None:
    settings.CLV_CURRENCY = "USD"
    job = run_import("transactions", "customer_id,order_id,order_date,revenue\n"
                     + "".join(f"A,O{i},2024-02-01,${i}.50\n" for i in range(30)) + "B,Y1,2024-02-02,¥7\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["reader"] == "columnar"
    assert job.detected["currency_mark_note"].startswith('An amount is written with another currency\'s sign or code ("¥7" on line 32)')
    assert "read as an amount in USD" in job.detected["currency_mark_note"]


def test_a_cost_file_notes_them_too_and_the_page_and_the_command_show_the_note(
    run_import: Run, client_as: Callable[[str | None], Client]
) -> None:
    job = run_import("costs", "month,kind,amount\n2024-01,acquisition,€100\n2024-01,retention,200\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert CostEntry.objects.get(kind="acquisition").amount == Decimal("100.00")
    assert '("€100" on line 2)' in job.detected["currency_mark_note"]
    from clv_dashboard import roles

    page = client_as(roles.ANALYST).get(f"/imports/{job.pk}/").content.decode()
    assert 'id="currency-mark-note"' in page and "€100" in page
