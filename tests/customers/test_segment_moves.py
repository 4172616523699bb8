"""An import that moves stored customers between segments says so, and so does a file that gives
one customer two values of a dimension (the last one is kept): counts, the largest flows and
examples on the job, its page and the command's report (customers/services/moves.py)."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from aliases.services import alias_add
from clv_dashboard import roles
from customers.models import Customer, ImportJob
from customers.services import moves

Run = Callable[..., ImportJob]


def regions() -> dict[str, str]:
    return dict(Customer.objects.values_list("external_id", "region"))


def test_a_customers_file_reports_every_customer_it_moves_with_the_largest_flows_first(run_import: Run) -> None:
    first = run_import("customers", "customer_id,region,acquisition_channel\n"
                       "A,North,web\nB,North,web\nC,North,\nD,South,shop\nE,,shop\nF,West,web\n")
    assert first.status == ImportJob.Status.SUCCEEDED, first.message
    # New customers are not moves.
    assert "segment_moves" not in first.result and "segment_conflicts" not in first.result
    job = run_import("customers", "customer_id,region,acquisition_channel\n"
                     "A,East,web\nB,East,\nC,East,web\nD,South,shop\nE,East,shop\nF,,\nG,East,web\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert regions() == {"A": "East", "B": "East", "C": "East", "D": "South", "E": "East", "F": "West", "G": "East"}
    assert job.result["customers_updated"] == 4
    # A blank stored value is the unassigned segment; a blank cell moves nobody (F stays West).
    assert job.result["segment_moves"] == [
        {"dimension": "region", "customers": 4, "changes": [["North", "East", 3], ["unassigned", "East", 1]]},
        {"dimension": "acquisition_channel", "customers": 1, "changes": [["unassigned", "web", 1]]},
    ]


def test_only_the_largest_flows_are_kept_but_every_customer_is_counted(run_import: Run) -> None:
    stored = "".join(f"C{i},R{i}\n" for i in range(8))
    assert run_import("customers", "customer_id,region\n" + stored).status == ImportJob.Status.SUCCEEDED
    moved = "".join(f"C{i},{'Big' if i < 3 else f'S{i}'}\n" for i in range(8))
    job = run_import("customers", "customer_id,region\n" + moved)
    (move,) = job.result["segment_moves"]
    assert move["customers"] == 8 and len(move["changes"]) == moves.MOVE_EXAMPLES
    assert move["changes"][0] == ["R0", "Big", 1]  # ties in the order of the values


def test_a_transactions_file_with_segment_columns_reports_its_moves_and_conflicts(run_import: Run) -> None:
    assert run_import("customers", "customer_id,region\nA,North\nB,North\n").status == ImportJob.Status.SUCCEEDED
    job = run_import("transactions", "customer_id,order_id,order_date,revenue,region\n"
                     "A,O1,2024-01-05,10,East\nA,O2,2024-02-05,10,West\nA,O3,2024-03-05,10,\n"
                     "B,O4,2024-01-05,10,North\nB,O5,2024-02-05,10,north\nC,O6,2024-03-05,10,South\n"
                     "C,O7,2024-03-06,10,South\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    # The last non-blank value wins, as before; values differing only in case are two values.
    assert regions() == {"A": "West", "B": "north", "C": "South"}
    assert job.result["segment_moves"] == [
        {"dimension": "region", "customers": 2, "changes": [["North", "West", 1], ["North", "north", 1]]}]
    assert job.result["segment_conflicts"] == [
        {"dimension": "region", "customers": 2, "examples": [["A", ["East", "West"]], ["B", ["North", "north"]]]}]


def test_aliases_apply_before_the_comparison(run_import: Run) -> None:
    alias_add(dimension="region", value="华东", canonical="East")
    assert run_import("customers", "customer_id,region\nA,East\nB,North\n").status == ImportJob.Status.SUCCEEDED
    job = run_import("customers", "客户编号,区域\nA,华东\nB,华东\nB,East\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    # A's 华东 is its stored East: no move, no conflict; B moves once, and 华东 = East is one value.
    assert job.result["segment_moves"] == [{"dimension": "region", "customers": 1, "changes": [["North", "East", 1]]}]
    assert "segment_conflicts" not in job.result


def test_a_file_that_changes_no_segment_reports_nothing(run_import: Run) -> None:
    assert run_import("customers", "customer_id,name,region\nA,Ann,North\n").status == ImportJob.Status.SUCCEEDED
    job = run_import("customers", "customer_id,name,region\nA,Anna,North\nA,Anna,\n")
    assert job.result["customers_updated"] == 1
    assert "segment_moves" not in job.result and "segment_conflicts" not in job.result
    job = run_import("transactions", "customer_id,order_id,order_date,revenue\nA,O1,2024-01-05,10\n")
    assert "segment_moves" not in job.result


def test_the_import_page_and_the_command_name_the_moves_and_conflicts(
    run_import: Run, client_as: Callable[[str | None], Client], tmp_path: Path
) -> None:
    assert run_import("customers", "customer_id,region\nA,\nB,North\n").status == ImportJob.Status.SUCCEEDED
    job = run_import("customers", "customer_id,region,acquisition_channel\nA,East,\nB,South,web\nB,West,shop\n")
    client = client_as(roles.ANALYST)
    page = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert 'id="segment-moves"' in page and "Customers moved to another segment" in page
    assert "unassigned → East (1)" in page and "North → West (1)" in page
    assert 'id="segment-conflicts-region"' in page and "<code>B</code>: South → West" in page
    assert 'id="segment-conflicts-acquisition_channel"' in page and "web → shop" in page
    client.cookies["django_language"] = "zh-hans"
    page = client.get(reverse("imports:detail", args=[job.pk])).content.decode()
    assert "区域" in page and "未分配 → East (1)" in page and "移到了另一个分组的客户" in page

    path = tmp_path / "again.csv"
    path.write_text("customer_id,region\nA,North\nA,South\n")
    out = io.StringIO()
    call_command("import_csv", "customers", str(path), stdout=out)
    report = out.getvalue()
    assert "moved to another segment (region): 1 customer(s): East -> South (1)" in report
    assert "given different values in the file (region): 1 customer(s), the last kept: A: North -> South" in report
    assert "segment moves:" not in report


@pytest.mark.parametrize("kind", ["customers", "transactions"])
def test_a_refused_file_moves_nobody_and_reports_nothing(run_import: Run, kind: str) -> None:
    assert run_import("customers", "customer_id,region\nA,North\n").status == ImportJob.Status.SUCCEEDED
    rows = ("customer_id,region\nA,East\n,West\n" if kind == "customers"
            else "customer_id,order_id,order_date,revenue,region\nA,O1,2024-01-05,10,East\nA,O2,not a date,10,East\n")
    job = run_import(kind, rows)
    assert job.status == ImportJob.Status.REJECTED
    assert regions() == {"A": "North"} and not (job.result or {}).get("segment_moves")
