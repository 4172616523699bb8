"""Allocation of cost entries to customers (METRICS.md, "Customer profitability").

Inputs (months are indexes, year * 12 + month - 1; money in currency units):
- customers: customer_id, first_m (month of the first purchase, NaN without one), margin
  (gross margin of all transactions to t), and one column per segment dimension holding the
  customer's value as a scope (trimmed, "unassigned" when blank);
- activity: customer_id, m, purchases: one row per month s <= t at whose close the customer is
  active, with their purchases in s (0 in a month they are active without buying);
- entries: m, kind ("acquisition" or "retention"), dimension ("" untagged), value (as a scope),
  amount: the cost entries of the months <= t.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pandas as pd

DRIVER_EQUAL = "equal"
DRIVER_PURCHASE = "purchase"
DIMENSIONS = ["region", "product_line", "business_unit", "acquisition_channel"]
ACQUISITION = "acquisition"
RETENTION = "retention"
ERROR_UNKNOWN_DRIVER = "Unknown cost-to-serve driver {driver!r}: use equal or purchase."
CENT = Decimal("0.01")
# Float sums of exact shares are snapped to this many decimals before the one rounding to
# cents, so that a share of exactly half a cent is not lost to binary noise.
SNAP_DECIMALS = 8


def cents(value: float) -> Decimal:
    """A float amount rounded half up to cents, once."""
    return Decimal(repr(round(float(value), SNAP_DECIMALS))).quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class Allocation:
    """Per customer (customer_id, margin_to_date, acquisition_cost_allocated,
    retention_cost_allocated, net_profit_to_date, all Decimal cents) and the entries' totals:
    spent, shared out, and applying to nobody (unallocated)."""

    customers: pd.DataFrame
    acquisition_cost: float
    retention_cost: float
    acquisition_unallocated: float
    retention_unallocated: float

    @property
    def acquisition_allocated(self) -> float:
        return self.acquisition_cost - self.acquisition_unallocated

    @property
    def retention_allocated(self) -> float:
        return self.retention_cost - self.retention_unallocated


def active_months(*, purchases: pd.DataFrame, window: int, last_month: int) -> pd.DataFrame:
    """From customer-month purchase counts (customer_id, m, purchases; months with refunds only
    carry 0), the months s <= last_month at whose close each customer is active (a purchase in
    s - W + 1 .. s), with their purchases in s."""
    bought = purchases.loc[purchases["purchases"] > 0, ["customer_id", "m"]]
    spans = [bought.assign(m=bought["m"] + k) for k in range(window)]
    active = pd.concat(spans, ignore_index=True) if spans else bought
    active = active.loc[active["m"] <= last_month].drop_duplicates()
    counts = purchases.loc[purchases["purchases"] > 0, ["customer_id", "m", "purchases"]]
    active = active.merge(counts, on=["customer_id", "m"], how="left")
    active["purchases"] = active["purchases"].fillna(0).astype("int64")
    return active.sort_values(["customer_id", "m"]).reset_index(drop=True)


def _applies(frame: pd.DataFrame, *, dimension: str, value: str) -> np.ndarray:
    if not dimension:
        return np.ones(len(frame), dtype=bool)
    return (frame[dimension] == value).to_numpy()


def allocate(*, customers: pd.DataFrame, activity: pd.DataFrame, entries: pd.DataFrame, driver: str) -> Allocation:
    """Share every cost entry among the customers it applies to.

    1. Acquisition entry of month m: equally among the customers whose first purchase is in m
       and to whom it applies (untagged, or tagged with one of their values).
    2. Retention entry of month s: among the customers it applies to who are active at the
       close of s, equally (`equal`) or in proportion to their purchases in s (`purchase`; an
       entry whose customers made no purchase in s is shared equally).
    3. An entry that applies to nobody stays unallocated. Each customer's two totals are
       rounded half up to cents once; net profit is margin less both."""
    if driver not in (DRIVER_EQUAL, DRIVER_PURCHASE):
        raise ValueError(ERROR_UNKNOWN_DRIVER.format(driver=driver))
    ids = customers["customer_id"].to_numpy()
    position = pd.Series(np.arange(len(ids)), index=ids)
    acquisition = np.zeros(len(ids))
    retention = np.zeros(len(ids))
    unallocated = {ACQUISITION: 0.0, RETENTION: 0.0}
    spent = {ACQUISITION: 0.0, RETENTION: 0.0}
    first_m = customers["first_m"].to_numpy(dtype=float)
    attributes = customers.set_index("customer_id")[DIMENSIONS]
    active = activity.join(attributes, on="customer_id")
    active_by_month = {int(m): frame for m, frame in active.groupby("m")}
    for m, kind, dimension, value, amount in entries[["m", "kind", "dimension", "value", "amount"]].itertuples(
        index=False, name=None
    ):
        amount = float(amount)
        spent[kind] += amount
        if kind == ACQUISITION:
            mask = (first_m == m) & _applies(customers, dimension=dimension, value=value)
            n = int(mask.sum())
            if n == 0:
                unallocated[kind] += amount
                continue
            acquisition[mask] += amount / n
            continue
        month_frame = active_by_month.get(int(m))
        if month_frame is None:
            unallocated[kind] += amount
            continue
        applying = month_frame.loc[_applies(month_frame, dimension=dimension, value=value)]
        if applying.empty:
            unallocated[kind] += amount
            continue
        where = position.loc[applying["customer_id"].to_numpy()].to_numpy()
        weights = applying["purchases"].to_numpy(dtype=float)
        if driver == DRIVER_EQUAL or weights.sum() == 0:
            weights = np.ones(len(applying))
        np.add.at(retention, where, amount * weights / weights.sum())
    out = pd.DataFrame({"customer_id": ids})
    out["margin_to_date"] = [cents(v) for v in customers["margin"].to_numpy(dtype=float)]
    out["acquisition_cost_allocated"] = [cents(v) for v in acquisition]
    out["retention_cost_allocated"] = [cents(v) for v in retention]
    out["net_profit_to_date"] = (
        out["margin_to_date"] - out["acquisition_cost_allocated"] - out["retention_cost_allocated"]
    )
    return Allocation(
        customers=out,
        acquisition_cost=spent[ACQUISITION], retention_cost=spent[RETENTION],
        acquisition_unallocated=unallocated[ACQUISITION], retention_unallocated=unallocated[RETENTION],
    )
