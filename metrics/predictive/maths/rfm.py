"""The per-customer RFM summary that the BG/NBD and Gamma-Gamma models take.

Definitions (the SQL path in metrics/predictive/selectors.py computes exactly the same):
1. Only transactions dated on or before the observation end count.
2. A purchase is a transaction with revenue >= 0 (METRICS.md: a zero-value order still shows
   activity); a transaction with negative revenue is a refund, never a purchase.
3. Purchases on the same day are summed into one purchase day.
4. frequency = number of distinct purchase days - 1 (repeat purchases);
   recency = (last purchase day - first purchase day) in days / 7;
   T = (observation end - first purchase day) in days / 7. The time unit is the week.
5. Spend per repeat purchase = mean over the repeat purchase days (every purchase day but the
   first) of the day's summed purchase revenue, netted for refunds: multiplied by
   (1 - refunds / purchase revenue) over the customer's whole history, floored at 0. Refunds
   cannot be tied to the order they return, so they are spread over all purchases in proportion.
6. historic_margin = sum of the gross margin of every transaction, refunds included (revenue - cost,
   or revenue x the default margin rate where cost is missing). margin_rate = the customer's own
   gross margin rate on purchases (purchase margin / purchase revenue), or the default rate when
   their purchases have no value; it is clipped to [-1, 1].
7. Customers with no purchase by the observation end (only refunds) have no first purchase and
   are left out: the models describe customers from their first purchase on.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from .errors import INVALID_INPUT, ModelFitError

DAYS_PER_UNIT = 7.0
RFM_COLUMNS = [
    "frequency",
    "recency",
    "T",
    "monetary_value",
    "first_purchase",
    "last_purchase",
    "purchase_revenue",
    "repeat_revenue",
    "refunds",
    "historic_revenue",
    "historic_margin",
    "purchase_margin",
    "margin_rate",
]
REQUIRED_COLUMNS = ("customer_id", "order_date", "revenue")


def rfm_summary(
    transactions: pd.DataFrame, *, observation_end: dt.date, default_margin_rate: float
) -> pd.DataFrame:
    """One row per customer with a purchase, indexed by customer_id, columns RFM_COLUMNS.

    `transactions` has customer_id, order_date (date or datetime64), revenue and optionally cost
    (NaN or None where missing)."""
    missing = [c for c in REQUIRED_COLUMNS if c not in transactions.columns]
    if missing:
        raise ModelFitError(INVALID_INPUT, detail=f"transactions lack the column(s) {', '.join(missing)}")
    end = pd.Timestamp(observation_end)
    frame = pd.DataFrame(
        {
            "customer_id": transactions["customer_id"].to_numpy(),
            "day": pd.to_datetime(transactions["order_date"]).to_numpy(dtype="datetime64[ns]"),
            "revenue": pd.to_numeric(transactions["revenue"]).to_numpy(dtype=float),
        }
    )
    if "cost" in transactions.columns:
        cost = pd.to_numeric(transactions["cost"]).to_numpy(dtype=float)
    else:
        cost = np.full(len(frame), np.nan)
    if not np.isfinite(frame["revenue"].to_numpy()).all():
        raise ModelFitError(INVALID_INPUT, detail="a transaction has a missing or infinite revenue")
    revenue = frame["revenue"].to_numpy()
    frame["margin"] = np.where(np.isnan(cost), revenue * default_margin_rate, revenue - cost)
    frame = frame[frame["day"] <= end]
    is_purchase = frame["revenue"].to_numpy() >= 0
    frame["purchase"] = np.where(is_purchase, frame["revenue"], 0.0)
    frame["purchase_margin"] = np.where(is_purchase, frame["margin"], 0.0)
    frame["refund"] = np.where(is_purchase, 0.0, frame["revenue"])
    frame["is_purchase"] = is_purchase

    days = frame.groupby(["customer_id", "day"], sort=False).agg(
        purchase=("purchase", "sum"),
        purchase_margin=("purchase_margin", "sum"),
        refund=("refund", "sum"),
        margin=("margin", "sum"),
        revenue=("revenue", "sum"),
        is_purchase=("is_purchase", "any"),
    )
    days = days.reset_index()
    purchase_days = days[days["is_purchase"]]
    first = purchase_days.groupby("customer_id")["day"].min()
    days = days[days["customer_id"].isin(first.index)]
    # reindex, not map: mapping an empty column onto dates fails in pandas 3 (no purchase at all).
    days = days.assign(first_day=first.reindex(days["customer_id"]).to_numpy())
    days["repeat"] = np.where(days["is_purchase"] & (days["day"] > days["first_day"]), days["purchase"], 0.0)
    days["repeat_day"] = days["is_purchase"] & (days["day"] > days["first_day"])

    grouped = days.groupby("customer_id")
    out = pd.DataFrame(
        {
            "frequency": grouped["repeat_day"].sum().astype(np.int64),
            "first_purchase": first,
            "last_purchase": purchase_days.groupby("customer_id")["day"].max(),
            "purchase_revenue": grouped["purchase"].sum(),
            "repeat_revenue": grouped["repeat"].sum(),
            "refunds": grouped["refund"].sum(),
            "historic_revenue": grouped["revenue"].sum(),
            "historic_margin": grouped["margin"].sum(),
            "purchase_margin": grouped["purchase_margin"].sum(),
        }
    )
    out.index.name = "customer_id"
    return rfm_finish(out, observation_end=observation_end, default_margin_rate=default_margin_rate)


def rfm_finish(summary: pd.DataFrame, *, observation_end: dt.date, default_margin_rate: float) -> pd.DataFrame:
    """Derive recency, T, monetary_value and margin_rate from the per-customer sums.

    Shared by the pandas path above and the SQL path (which returns the sums and dates)."""
    end = pd.Timestamp(observation_end)
    first = pd.to_datetime(summary["first_purchase"])
    last = pd.to_datetime(summary["last_purchase"])
    out = summary.copy()
    out["frequency"] = out["frequency"].astype(np.int64)
    out["recency"] = (last - first).dt.days.to_numpy(dtype=float) / DAYS_PER_UNIT
    out["T"] = (end - first).dt.days.to_numpy(dtype=float) / DAYS_PER_UNIT
    for column in ("purchase_revenue", "repeat_revenue", "refunds", "historic_revenue", "historic_margin",
                   "purchase_margin"):
        out[column] = out[column].astype(float)
    frequency = out["frequency"].to_numpy(dtype=float)
    purchase_revenue = out["purchase_revenue"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_repeat = np.where(frequency > 0, out["repeat_revenue"].to_numpy() / np.maximum(frequency, 1), 0.0)
        kept = np.where(purchase_revenue > 0, 1.0 + out["refunds"].to_numpy() / purchase_revenue, 1.0)
        own_rate = np.where(purchase_revenue > 0, out["purchase_margin"].to_numpy() / purchase_revenue,
                            default_margin_rate)
    out["monetary_value"] = np.maximum(mean_repeat * np.clip(kept, 0.0, 1.0), 0.0)
    out["margin_rate"] = np.clip(own_rate, -1.0, 1.0)
    out["first_purchase"] = first.dt.date
    out["last_purchase"] = last.dt.date
    return out[RFM_COLUMNS]
