"""Header shapes of cost files, and column mappings learned from an analyst's hand mapping."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from customers.models import CostEntry, HeaderMapping, ImportJob
from customers.services import import_claim, import_rerun, import_run
from customers.services.headers import header_key
from customers.services.parsing import REASON_SEGMENT_TWICE

Run = Callable[..., ImportJob]


def entries() -> list[tuple[str, str, Decimal]]:
    return sorted(CostEntry.objects.values_list("segment_dimension", "segment_value", "amount"))


@pytest.mark.parametrize("header", [
    "month,kind,amount,dimension,value",
    "month,kind,amount,segment,segment value",
    "月份,类型,金额,维度,值",
    "Month,Type,Spend,Segment Dimension,Segment Value",
])
def test_a_generic_dimension_and_value_pair(run_import: Run, header: str) -> None:
    job = run_import("costs", f"{header}\n2024-01,acquisition,100,region,East\n2024-01,retention,40,渠道,Online\n"
                              "2024-02,acquisition,7,,\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert entries() == [("", "", Decimal("7.00")), ("acquisition_channel", "Online", Decimal("40.00")),
                         ("region", "East", Decimal("100.00"))]


@pytest.mark.parametrize(("column", "dimension"), [
    ("region", "region"), ("区域", "region"), ("Product Line", "product_line"), ("cost centre", "business_unit"),
    ("Cost Center", "business_unit"), ("成本中心", "business_unit"), ("渠道", "acquisition_channel"),
])
def test_a_segment_column_named_by_its_dimension(run_import: Run, column: str, dimension: str) -> None:
    job = run_import("costs", f"month,kind,amount,{column}\n2024-01,获客,100,East\n2024-01,获客,30,\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert entries() == [("", "", Decimal("30.00")), (dimension, "East", Decimal("100.00"))]


def test_two_segments_for_one_cost_are_refused_naming_both_columns(run_import: Run) -> None:
    job = run_import("costs", "month,kind,amount,region,channel\n2024-01,acquisition,100,East,Online\n"
                              "2024-01,acquisition,5,,Online\n")
    assert job.status == ImportJob.Status.REJECTED
    assert [(e["line"], e["column"], e["value"], e["reason"]) for e in job.error_report] == [
        (2, "channel", "Online", str(REASON_SEGMENT_TWICE).format(other="region"))]


def test_the_header_key_ignores_order_case_and_spacing() -> None:
    assert header_key(["Customer", "dollar_value", "Date"]) == header_key(["date", "DOLLAR VALUE", "customer"])
    assert header_key(["customer", "dollar_value"]) != header_key(["customer", "euro_value"])


def test_a_hand_mapping_is_learned_and_the_next_file_with_those_columns_is_mapped_the_same(run_import: Run) -> None:
    header = "client ref,placed,dollar_value\n"
    job = run_import("transactions", header + "C1,2024-01-05,10\n")
    assert job.status == ImportJob.Status.REJECTED and "revenue" in job.message
    # The analyst picks a column for each required field on the import page, and runs it again.
    import_rerun(job=job, mapping={"customer_id": "client ref", "order_date": "placed", "revenue": "dollar_value"},
                 enqueue=False)
    claimed = import_claim(job_id=job.pk)
    assert claimed is not None
    job = import_run(job=claimed)
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    assert HeaderMapping.objects.get().mapping == {"customer_id": "client ref", "order_date": "placed",
                                                   "revenue": "dollar_value"}
    # The same columns in another order and case: mapped as last time, and said so.
    nxt = run_import("transactions", "Dollar_Value,Client Ref,Placed\n20,C2,2024-02-05\n")
    assert nxt.status == ImportJob.Status.SUCCEEDED, nxt.message
    assert nxt.detected["learned_mapping"] == {"customer_id": "client ref", "order_date": "placed",
                                               "revenue": "dollar_value"}
    assert nxt.detected["columns"] == {"customer_id": "Client Ref", "order_date": "Placed", "revenue": "Dollar_Value"}
    assert HeaderMapping.objects.get().times_applied == 1
    # Another header set is not touched by it, and a costs file of the same columns neither.
    other = run_import("transactions", "client ref,placed,dollar_value,extra\nC3,2024-01-05,10,x\n")
    assert other.status == ImportJob.Status.REJECTED and "learned_mapping" not in other.detected


def test_the_detail_page_shows_the_learned_mapping(run_import: Run, client_as: Callable[[str | None], object]) -> None:
    HeaderMapping.objects.create(kind="transactions", header_key=header_key(["who", "when", "dollar_value"]),
                                 header=["who", "when", "dollar_value"],
                                 mapping={"customer_id": "who", "order_date": "when", "revenue": "dollar_value"})
    job = run_import("transactions", "who,when,dollar_value\nC1,2024-01-05,10\n")
    assert job.status == ImportJob.Status.SUCCEEDED, job.message
    page = client_as("Analyst").get(f"/imports/{job.pk}/")  # type: ignore[attr-defined]
    text = page.content.decode()
    assert 'id="learned-mapping"' in text and "Columns mapped as last time" in text and "dollar_value" in text
