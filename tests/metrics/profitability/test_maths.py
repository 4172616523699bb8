"""The allocation rules of METRICS.md on hand-worked inputs (pure: no database)."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.profitability.maths import (
    DIMENSIONS,
    ERROR_UNKNOWN_DRIVER,
    active_months,
    allocate,
    cents,
    whale_curve,
)

M0 = 2024 * 12  # January 2024


def customers(*rows: tuple[int, float | None, float, str]) -> pd.DataFrame:
    """(id, first purchase month or None, margin, region); other dimensions unassigned."""
    frame = pd.DataFrame(
        [(cid, np.nan if first is None else first, margin, region) for cid, first, margin, region in rows],
        columns=["customer_id", "first_m", "margin", "region"],
    )
    for d in DIMENSIONS[1:]:
        frame[d] = "unassigned"
    return frame


def activity(*rows: tuple[int, int, int]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["customer_id", "m", "purchases"])


def entries(*rows: tuple[int, str, str, str, float]) -> pd.DataFrame:
    return pd.DataFrame(list(rows), columns=["m", "kind", "dimension", "value", "amount"])


def by_id(result: pd.DataFrame, column: str) -> dict[int, Decimal]:
    return dict(zip(result["customer_id"], result[column], strict=True))


def test_untagged_acquisition_entry_is_shared_equally_among_that_months_new_customers() -> None:
    people = customers((1, M0, 500, "North"), (2, M0, 200, "South"), (3, M0 + 1, 100, "North"))
    out = allocate(customers=people, activity=activity(), entries=entries((M0, "acquisition", "", "", 300)),
                   driver="equal")
    assert by_id(out.customers, "acquisition_cost_allocated") == {1: Decimal("150.00"), 2: Decimal("150.00"),
                                                                  3: Decimal("0.00")}
    assert by_id(out.customers, "net_profit_to_date") == {1: Decimal("350.00"), 2: Decimal("50.00"),
                                                          3: Decimal("100.00")}
    assert out.acquisition_unallocated == 0


def test_tagged_acquisition_entry_goes_only_to_new_customers_with_that_value() -> None:
    people = customers((1, M0, 0, "North"), (2, M0, 0, "South"), (3, M0, 0, "North"))
    out = allocate(
        customers=people, activity=activity(),
        entries=entries((M0, "acquisition", "region", "North", 100), (M0, "acquisition", "", "", 30)), driver="equal",
    )
    assert by_id(out.customers, "acquisition_cost_allocated") == {1: Decimal("60.00"), 2: Decimal("10.00"),
                                                                  3: Decimal("60.00")}


def test_entries_that_apply_to_nobody_are_reported_unallocated() -> None:
    people = customers((1, M0, 0, "North"))
    out = allocate(
        customers=people, activity=activity((1, M0, 1)),
        entries=entries(
            (M0 + 1, "acquisition", "", "", 50),  # nobody new in February
            (M0, "acquisition", "region", "West", 20),  # no new customer in the West
            (M0 + 1, "retention", "", "", 70),  # nobody active in February
            (M0, "retention", "region", "South", 5),  # nobody active in the South
            (M0, "retention", "", "", 8),
        ),
        driver="equal",
    )
    assert out.acquisition_unallocated == 70
    assert out.retention_unallocated == 75
    assert out.acquisition_allocated == 0
    assert out.retention_allocated == 8
    assert by_id(out.customers, "retention_cost_allocated") == {1: Decimal("8.00")}


def test_retention_entry_with_the_equal_driver_is_shared_per_active_customer() -> None:
    people = customers((1, M0, 0, "North"), (2, M0, 0, "South"), (3, M0, 0, "North"), (4, M0, 0, "North"))
    # In February 1 bought twice, 2 once, 3 is active without buying, 4 is not active.
    out = allocate(
        customers=people, activity=activity((1, M0 + 1, 2), (2, M0 + 1, 1), (3, M0 + 1, 0)),
        entries=entries((M0 + 1, "retention", "", "", 90), (M0 + 1, "retention", "region", "North", 10)),
        driver="equal",
    )
    assert by_id(out.customers, "retention_cost_allocated") == {
        1: Decimal("35.00"), 2: Decimal("30.00"), 3: Decimal("35.00"), 4: Decimal("0.00")
    }


def test_retention_entry_with_the_purchase_driver_is_shared_per_purchase() -> None:
    people = customers((1, M0, 0, "North"), (2, M0, 0, "South"), (3, M0, 0, "North"))
    out = allocate(
        customers=people, activity=activity((1, M0 + 1, 2), (2, M0 + 1, 1), (3, M0 + 1, 0)),
        entries=entries((M0 + 1, "retention", "", "", 90)), driver="purchase",
    )
    assert by_id(out.customers, "retention_cost_allocated") == {1: Decimal("60.00"), 2: Decimal("30.00"),
                                                                3: Decimal("0.00")}


def test_purchase_driver_shares_equally_an_entry_whose_customers_made_no_purchase() -> None:
    # Tagged North: the North customers active in February (1 and 3) made no purchase then.
    people = customers((1, M0, 0, "North"), (2, M0, 0, "South"), (3, M0, 0, "North"))
    out = allocate(
        customers=people, activity=activity((1, M0 + 1, 0), (2, M0 + 1, 4), (3, M0 + 1, 0)),
        entries=entries((M0 + 1, "retention", "region", "North", 11)), driver="purchase",
    )
    assert by_id(out.customers, "retention_cost_allocated") == {1: Decimal("5.50"), 2: Decimal("0.00"),
                                                                3: Decimal("5.50")}


def test_refund_only_customer_carries_no_cost_and_keeps_their_negative_margin() -> None:
    people = customers((1, M0, 100, "North"), (2, None, -40, "North"))
    out = allocate(
        customers=people, activity=activity((1, M0, 1)),
        entries=entries((M0, "acquisition", "", "", 10), (M0, "retention", "", "", 6)), driver="equal",
    )
    assert by_id(out.customers, "net_profit_to_date") == {1: Decimal("84.00"), 2: Decimal("-40.00")}


def test_each_customers_totals_are_rounded_half_up_to_cents_once() -> None:
    people = customers((1, M0, 0, "North"), (2, M0, 0, "North"), (3, M0, 0, "South"))
    # 100 / 3 = 33.333...: 33.33 each. Two entries of 0.01 / 3 each: 0.00666... -> 0.01 once
    # (rounding each share first would give 0.00). 0.05 / 2 = 0.025 -> 0.03 (half up).
    out = allocate(
        customers=people, activity=activity((1, M0, 1), (2, M0, 1), (3, M0, 1)),
        entries=entries(
            (M0, "acquisition", "", "", 100), (M0, "retention", "", "", 0.01), (M0, "retention", "region", "South", 0.01),
            (M0, "retention", "region", "North", 0.05),
        ),
        driver="equal",
    )
    assert by_id(out.customers, "acquisition_cost_allocated") == {1: Decimal("33.33"), 2: Decimal("33.33"),
                                                                  3: Decimal("33.33")}
    # 1 and 2: 0.01/3 + 0.05/2 = 0.028333 -> 0.03; 3: 0.01/3 + 0.01 = 0.013333 -> 0.01.
    assert by_id(out.customers, "retention_cost_allocated") == {1: Decimal("0.03"), 2: Decimal("0.03"),
                                                                3: Decimal("0.01")}
    allocated = out.customers["acquisition_cost_allocated"].sum()
    assert abs(allocated - Decimal("100.00")) <= Decimal("0.01") * len(people)


def test_half_a_cent_share_rounds_up() -> None:
    assert cents(0.025) == Decimal("0.03")
    assert cents(0.01 / 3 + 0.01 / 6) == Decimal("0.01")
    assert cents(0.0049) == Decimal("0.00")


def test_unknown_driver_is_refused() -> None:
    with pytest.raises(ValueError, match=ERROR_UNKNOWN_DRIVER.format(driver="revenue").replace("(", r"\(")
                       .replace(")", r"\)")):
        allocate(customers=customers(), activity=activity(), entries=entries(), driver="revenue")


def test_active_months_span_the_activity_window_and_stop_at_t() -> None:
    purchases = pd.DataFrame([(1, M0, 2), (1, M0 + 1, 1), (2, M0 + 2, 0), (3, M0 + 3, 1)],
                             columns=["customer_id", "m", "purchases"])
    active = active_months(purchases=purchases, window=3, last_month=M0 + 4)
    assert list(active.itertuples(index=False, name=None)) == [
        (1, M0, 2), (1, M0 + 1, 1), (1, M0 + 2, 0), (1, M0 + 3, 0), (3, M0 + 3, 1), (3, M0 + 4, 0),
    ]


def test_whale_curve_reports_its_peak_and_the_loss_makers() -> None:
    curve = whale_curve([50, -20, 100, -30, 0])
    assert curve.x == [0.2, 0.4, 0.6, 0.8, 1.0]
    assert curve.y == pytest.approx([1.0, 1.5, 1.5, 1.3, 1.0])
    assert curve.peak == pytest.approx(1.5)
    assert curve.peak_share == pytest.approx(0.4)
    assert (curve.loss_making_customers, curve.loss, curve.total_net_profit) == (2, -50.0, 100.0)


def test_whale_curve_has_no_shares_when_the_total_profit_is_not_positive() -> None:
    curve = whale_curve([10, -30])
    assert curve.y is None and curve.peak is None
    assert (curve.loss_making_customers, curve.loss) == (1, -30.0)


people_st = st.lists(st.tuples(st.one_of(st.none(), st.integers(0, 4)), st.sampled_from(["N", "S", "unassigned"])),
                     min_size=1, max_size=12)
entries_st = st.lists(
    st.tuples(st.integers(0, 5), st.sampled_from(["acquisition", "retention"]), st.integers(1, 10**7),
              st.sampled_from([("", ""), ("region", "N"), ("region", "W")])),
    max_size=10,
)


@settings(max_examples=150, deadline=None)
@given(people=people_st, spend=entries_st, driver=st.sampled_from(["equal", "purchase"]),
       buys=st.lists(st.integers(0, 3), min_size=12, max_size=12))
def test_per_customer_allocations_sum_to_the_allocated_totals(
    people: list[tuple[int | None, str]], spend: list[tuple[int, str, int, tuple[str, str]]], driver: str,
    buys: list[int],
) -> None:
    frame = customers(*[(i, None if first is None else M0 + first, 0.0, region)
                        for i, (first, region) in enumerate(people)])
    purchases = pd.DataFrame(
        [(i, M0 + first + k, buys[(i + k) % 12] if k else max(1, buys[i])) for i, (first, _r) in enumerate(people)
         if first is not None for k in range(0, 3, 2)],
        columns=["customer_id", "m", "purchases"],
    )
    act = active_months(purchases=purchases, window=2, last_month=M0 + 5)
    costs = entries(*[(M0 + m, kind, dim, value, cents_ / 100) for m, kind, cents_, (dim, value) in spend])
    out = allocate(customers=frame, activity=act, entries=costs, driver=driver)
    n = len(frame)
    for column, allocated in (("acquisition_cost_allocated", out.acquisition_allocated),
                              ("retention_cost_allocated", out.retention_allocated)):
        total = float(out.customers[column].sum())
        assert abs(total - allocated) <= 0.005 * n + 1e-9
    # Every entry is either shared out or reported unallocated.
    assert out.acquisition_allocated + out.retention_allocated + out.acquisition_unallocated + \
        out.retention_unallocated == pytest.approx(float(costs["amount"].sum()) if len(costs) else 0.0)
    assert out.acquisition_unallocated >= -1e-9 and out.retention_unallocated >= -1e-9
