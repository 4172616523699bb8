"""The optional referred_by column of customers and transactions files: recognised under its
English and Chinese names, stored as written, and the referrals that cannot count as things
stand reported on the import (never refused)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.core.management import call_command

from customers.models import Customer, ImportJob
from customers.services import parsing as p

Run = Callable[..., ImportJob]


def referred_by() -> dict[str, str | None]:
    return dict(Customer.objects.values_list("external_id", "referred_by"))


@pytest.mark.parametrize(
    "header",
    ["referred_by", "Referred By", "referrer", "Referrer ID", "Referral code of the referrer", "referring customer",
     "推荐人", "推荐客户", "介绍人", "推荐人编号", "介绍人ID", "ＲＥＦＥＲＲＥＲ"],
)
def test_the_referred_by_column_is_recognised_under_its_names(header: str) -> None:
    for kind in ("customers", "transactions"):
        needed = ["customer_id", "order_date", "revenue"] if kind == "transactions" else ["customer_id"]
        plan = p.columns_resolve(kind=kind, header=[*needed, header])
        assert plan.column_label("referred_by") == header


@pytest.mark.parametrize("header", ["推荐人", "Referred by", "referrer"])
def test_a_customers_file_stores_the_referrer_as_written(run_import: Run, header: str) -> None:
    job = run_import("customers", f"客户编号,{header}\nA,\nB, A \nC,x-99\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["columns"]["referred_by"] == header
    # Blank is "none given" (NULL); a value is kept as written (trimmed like every cell).
    assert referred_by() == {"A": None, "B": "A", "C": "x-99"}


def test_a_transactions_file_stores_the_referrer_on_the_customer_the_last_value_winning(run_import: Run) -> None:
    job = run_import("transactions", "customer_id,order_id,order_date,revenue,referrer\n"
                     "A,O1,2024-01-05,10,\nB,O2,2024-02-05,10,A\nB,O3,2024-03-05,10,\nC,O4,2024-03-05,10,X\n"
                     "C,O5,2024-04-05,10,A\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["reader"] == "columnar"
    assert referred_by() == {"A": None, "B": "A", "C": "A"}


def test_the_row_by_row_reader_stores_the_referrer_too(run_import: Run) -> None:
    # A quoted line break sends the file to the row-by-row reader.
    job = run_import("transactions", 'customer_id,order_id,order_date,revenue,name,推荐人\n'
                     'A,O1,2024-01-05,10,"two\nlines",\nB,O2,2024-02-05,"¥1,234.50",,A\n')
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.detected["reader"] == "rows"
    assert referred_by() == {"A": None, "B": "A"}


def test_a_blank_cell_or_a_file_without_the_column_keeps_the_stored_referrer(run_import: Run) -> None:
    run_import("customers", "customer_id,referred_by\nA,\nB,A\n")
    again = run_import("customers", "customer_id,referred_by,region\nB,,North\n")
    assert again.status == ImportJob.Status.SUCCEEDED, again.message
    run_import("transactions", "customer_id,order_id,order_date,revenue\nB,O1,2024-01-05,10\n")
    assert referred_by() == {"A": None, "B": "A"}
    assert Customer.objects.get(external_id="B").region == "North"
    changed = run_import("customers", "customer_id,referred_by\nB,C\n")
    assert changed.result["customers_updated"] == 1
    assert referred_by()["B"] == "C"


def test_a_referrer_longer_than_a_customer_id_is_an_invalid_row(run_import: Run) -> None:
    job = run_import("customers", "customer_id,referred_by\nA," + "x" * 101 + "\n")
    assert job.status == ImportJob.Status.REJECTED
    assert job.error_report[0]["column"] == "referred_by"
    assert job.error_report[0]["reason"] == str(p.REASON_TOO_LONG).format(limit=100)


def test_referrals_that_cannot_count_are_reported_with_examples_and_the_file_still_loads(run_import: Run) -> None:
    run_import("transactions", "customer_id,order_id,order_date,revenue\n"
               "OLD,O0,2024-01-10,10\nLATE,O1,2024-06-10,10\nIDLE,O2,2024-03-10,-5\n")
    job = run_import(
        "transactions",
        "customer_id,order_id,order_date,revenue,referred_by\n"
        # Self, twice (S1, S2); unknown ids (U1, U2, U3); a referrer newer than the referred (N1),
        # and one who has only a refund, no purchase (N2); counted (OK1: same month, OK2: older).
        "S1,A1,2024-03-01,10,S1\nS2,A2,2024-03-01,10,S2\nU1,A3,2024-03-01,10,nobody\nU2,A4,2024-03-01,10,ghost\n"
        "U3,A5,2024-03-01,10,ghost\nN1,A6,2024-03-01,10,LATE\nN2,A7,2024-04-01,10,IDLE\n"
        "OK1,A8,2024-01-31,10,OLD\nOK2,A9,2024-05-01,10,OLD\n"
        # A referred customer without a purchase yet is not judged (the referral may count later).
        "NOBUY,A10,2024-05-01,-3,LATE\n",
    )
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert job.rows_written == 10
    job.refresh_from_db()  # as stored: the kinds keep their order
    assert job.result["referral_warnings"] == [
        {"kind": "self", "customers": 2, "examples": [["S1", "S1"], ["S2", "S2"]]},
        {"kind": "unknown", "customers": 3, "examples": [["U1", "nobody"], ["U2", "ghost"], ["U3", "ghost"]]},
        {"kind": "newer", "customers": 2, "examples": [["N1", "LATE"], ["N2", "IDLE"]]},
    ]
    # Stored as written, whether or not they count.
    assert referred_by()["U1"] == "nobody" and referred_by()["S1"] == "S1"


def test_at_most_five_examples_of_a_kind_are_kept(run_import: Run) -> None:
    rows = "".join(f"C{i},O{i},2024-03-01,10,Z{i}\n" for i in range(8))
    job = run_import("transactions", "customer_id,order_id,order_date,revenue,referred_by\n" + rows)
    [found] = job.result["referral_warnings"]
    assert found["kind"] == "unknown" and found["customers"] == 8 and len(found["examples"]) == 5


def test_a_later_file_that_adds_the_referrer_leaves_nothing_to_report(run_import: Run) -> None:
    first = run_import("customers", "customer_id,referred_by\nB,A\n")
    assert first.result["referral_warnings"] == [{"kind": "unknown", "customers": 1, "examples": [["B", "A"]]}]
    run_import("transactions", "customer_id,order_id,order_date,revenue\nA,O1,2024-01-05,10\nB,O2,2024-02-05,10\n")
    again = run_import("customers", "customer_id,referred_by\nB,A\n")
    assert again.result["referral_warnings"] == []


def test_a_file_without_the_column_reports_no_referrals(run_import: Run) -> None:
    job = run_import("customers", "customer_id\nB\n")
    assert job.result["referral_warnings"] == []


def test_the_import_page_and_the_command_show_the_warnings(run_import: Run, client_as: Callable[[str | None], object],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    job = run_import("customers", "customer_id,推荐人\nB,A\nC,C\n")
    page = client_as("Analyst").get(f"/imports/{job.pk}/")  # type: ignore[attr-defined]
    text = page.content.decode()
    assert 'id="referral-warnings"' in text
    assert "1 customer names a referrer who is not a known customer (yet)" in text
    assert "1 customer names themself as their referrer" in text
    assert "<code>B</code> ← <code>A</code>" in text
    plain = run_import("customers", "customer_id\nD\n")
    assert 'id="referral-warnings"' not in client_as("Analyst").get(f"/imports/{plain.pk}/").content.decode()  # type: ignore[attr-defined]


def test_the_import_command_prints_the_warnings(db: None, tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "customers.csv"
    path.write_text("customer_id,referred_by\nB,A\n", encoding="utf-8")
    call_command("import_csv", "customers", str(path))
    out = capsys.readouterr().out
    assert "referrals that cannot count yet (unknown): 1 customer(s), e.g. B <- A" in out
