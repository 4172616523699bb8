"""The import_csv command, and the CDNOW transaction log through the documented path."""

from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count, Min, Sum

from customers.models import Customer, ImportJob, Transaction

CDNOW = Path(__file__).resolve().parents[1] / "data" / "cdnow" / "CDNOW_master.txt"


def _cdnow_path() -> Path:
    if not CDNOW.is_file():
        pytest.fail(f"the CDNOW log is expected at {CDNOW}")
    return CDNOW


def test_the_command_prints_the_report_and_fails_on_a_refused_file(db: None, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("customer_id,order_date,revenue\nC1,2024-01-01,12x\nC2,2024-01-01,5\n")
    out = io.StringIO()
    with pytest.raises(CommandError, match="Refused"):
        call_command("import_csv", "transactions", str(bad), stdout=out)
    assert "line 2, column 'revenue', value '12x': is not an amount" in out.getvalue()
    assert Transaction.objects.count() == 0
    out = io.StringIO()
    call_command("import_csv", "transactions", str(bad), "--skip-invalid", stdout=out)
    assert "Loaded 1 row(s); 1 invalid row(s) skipped" in out.getvalue()
    assert Transaction.objects.count() == 1


def test_an_import_by_the_command_is_on_the_audit_record(db: None, tmp_path: Path) -> None:
    from audit.models import AuditEvent

    good = tmp_path / "orders.csv"
    good.write_text("customer_id,order_date,revenue\nC1,2024-01-01,12\n")
    call_command("import_csv", "transactions", str(good), stdout=io.StringIO())
    job = ImportJob.objects.get()
    event = AuditEvent.objects.get(action=AuditEvent.Action.IMPORT_UPLOAD)
    assert (event.target_type, event.target_id) == ("customers.importjob", str(job.pk))
    assert event.details["file"] == "orders.csv" and event.username == ""


def test_the_command_refuses_a_missing_file_and_a_bad_mapping(db: None, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_csv", "costs", str(tmp_path / "nope.csv"))
    good = tmp_path / "c.csv"
    good.write_text("month,kind,amount\n2024-01,acquisition,5\n")
    with pytest.raises(CommandError, match="FIELD=COLUMN"):
        call_command("import_csv", "costs", str(good), "--map", "amount")


def test_the_cdnow_log_imports_through_the_documented_path(db: None) -> None:
    """69,659 purchase rows for 23,570 customers: no order ids, so every row of the log is one
    transaction, including the several rows one customer has on one day."""
    path = _cdnow_path()
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_csv", "transactions", str(path), stdout=out)  # dollar_value is not a known name
    assert "Required column(s) missing: revenue" in out.getvalue()

    out = io.StringIO()
    call_command("import_csv", "transactions", str(path), "--map", "revenue=dollar_value", stdout=out)
    job = ImportJob.objects.filter(status=ImportJob.Status.SUCCEEDED).get()
    assert job.detected["delimiter"] == "whitespace" and job.detected["ignored"] == ["number_of_cds"]
    assert (job.rows_total, job.rows_written) == (69_659, 69_659)
    purchases = Transaction.objects.filter(revenue__gte=0)  # METRICS.md: revenue >= 0 is a purchase
    assert purchases.count() == Transaction.objects.count() == 69_659
    assert Customer.objects.count() == 23_570
    assert purchases.values("customer").distinct().count() == 23_570

    # Checked against the file itself: the same total, and the same rows per customer-day.
    lines = [line.split() for line in path.read_text().splitlines()[1:] if line.strip()]
    # (SQLite sums decimals as floats: compare to the cent.)
    total = Transaction.objects.aggregate(s=Sum("revenue"))["s"]
    assert Decimal(total).quantize(Decimal("0.01")) == sum(Decimal(v[3]) for v in lines)
    per_day: dict[tuple[str, str], int] = {}
    for v in lines:
        per_day[(v[0], v[1])] = per_day.get((v[0], v[1]), 0) + 1
    stored = Transaction.objects.values("customer__external_id", "order_date").annotate(n=Count("id"))
    assert sum(1 for r in stored if r["n"] > 1) == sum(1 for n in per_day.values() if n > 1) > 0
    assert Customer.objects.filter(external_id="00001").exists()  # leading zeros kept
    assert str(Transaction.objects.aggregate(m=Min("order_date"))["m"]) == "1997-01-01"

    # The identical log again is refused, naming the import that loaded it.
    out = io.StringIO()
    with pytest.raises(CommandError):
        call_command("import_csv", "transactions", str(path), "--map", "revenue=dollar_value", stdout=out)
    assert f"identical (SHA-256) to import #{job.pk}" in out.getvalue()
    assert Transaction.objects.count() == 69_659
