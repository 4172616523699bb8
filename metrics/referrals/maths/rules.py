"""Which referrals count, and the referral figures (METRICS.md, "Referrals").

A customer names the customer who referred them (`referred_by`, a customer id, as written). The
referral counts when the referrer is another known customer whose first purchase month is no
later than the referred customer's first purchase month. Months are indexes (year * 12 +
month - 1); a customer without a purchase has no first purchase month (None or NaN).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

COUNTED = "counted"
SELF = "self"  # the customer names themself
UNKNOWN = "unknown"  # no customer has that id
NEWER = "newer"  # the referrer's first purchase is later than the referred's (or they have none)
PENDING = "pending"  # the referred customer has not bought yet: nothing to judge

CUSTOMER_COLUMNS = ["customer_id", "external_id", "referred_by", "first_m"]


def _month(value: float | int | None) -> int | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value)


def referral_status(*, external_id: str, referred_by: str | None, first_month: float | int | None,
                    first_months: Mapping[str, float | int | None]) -> str | None:
    """The status of one customer's referral: None without one, else COUNTED, SELF, UNKNOWN,
    NEWER or PENDING. `first_months`: every known customer id -> first purchase month (None
    without a purchase)."""
    if referred_by is None or referred_by == "":
        return None
    if referred_by == external_id:
        return SELF
    if referred_by not in first_months:
        return UNKNOWN
    mine = _month(first_month)
    if mine is None:
        return PENDING
    theirs = _month(first_months[referred_by])
    if theirs is None or theirs > mine:
        return NEWER
    return COUNTED


def referral_statuses(customers: pd.DataFrame) -> pd.Series:
    """referral_status for every customer of `customers` (CUSTOMER_COLUMNS: customer_id, the pk;
    external_id; referred_by, None or blank without one; first_m), indexed by customer_id;
    customers without a referral are left out."""
    first_months = dict(zip(customers["external_id"], customers["first_m"], strict=True))
    out: dict[int, str] = {}
    for pk, external_id, referred_by, first_m in customers[CUSTOMER_COLUMNS].itertuples(index=False, name=None):
        value = None if referred_by is None or (isinstance(referred_by, float) and math.isnan(referred_by)) else referred_by
        status = referral_status(external_id=external_id, referred_by=value, first_month=first_m,
                                 first_months=first_months)
        if status is not None:
            out[int(pk)] = status
    return pd.Series(out, dtype="object")


def counted_referrals(customers: pd.DataFrame) -> pd.DataFrame:
    """The referrals that count: customer_id (the referred), referrer_id, first_m (the referred
    customer's first purchase month, when the referral shows in the snapshots)."""
    statuses = referral_statuses(customers)
    counted = statuses[statuses == COUNTED].index
    by_external = dict(zip(customers["external_id"], customers["customer_id"], strict=True))
    rows = customers.set_index("customer_id").loc[list(counted)] if len(counted) else customers.iloc[0:0].set_index(
        "customer_id")
    return pd.DataFrame({
        "customer_id": [int(pk) for pk in rows.index],
        "referrer_id": [int(by_external[r]) for r in rows["referred_by"]],
        "first_m": [int(m) for m in rows["first_m"]],
    }, columns=["customer_id", "referrer_id", "first_m"])


def referrals_by_referrer(counted: pd.DataFrame, margins: Mapping[int, Any]) -> pd.DataFrame:
    """Per referrer with a counted referral (by pk): referrals_made and referral_margin, the sum
    of the margin to date of the customers they referred (`margins` by customer pk, missing = 0;
    Decimals stay Decimals, so the sum of stored cents is exact)."""
    made: dict[int, int] = {}
    margin: dict[int, Any] = {}
    for referred, referrer in zip(counted["customer_id"].tolist(), counted["referrer_id"].tolist(), strict=True):
        made[int(referrer)] = made.get(int(referrer), 0) + 1
        margin[int(referrer)] = margin.get(int(referrer), 0) + margins.get(int(referred), 0)
    return pd.DataFrame(
        [(pk, made[pk], margin[pk]) for pk in sorted(made)],
        columns=["referrer_id", "referrals_made", "referral_margin"],
    )


@dataclass(frozen=True)
class ReferralFigures:
    """The referral figures of one scope and month."""

    referred_new_customers: int
    referral_share: float | None
    referral_rate: float | None
    referral_equity: float


def referral_figures(*, referred_new_customers: int, new_customers: int, customers_start: int,
                     clv: float) -> ReferralFigures:
    """share = referred / new customers (none without new customers); rate = referred /
    customers_start (none when nobody was active at the start); equity = referred x CLV."""
    referred = int(referred_new_customers)
    return ReferralFigures(
        referred_new_customers=referred,
        referral_share=referred / new_customers if new_customers > 0 else None,
        referral_rate=referred / customers_start if customers_start > 0 else None,
        referral_equity=referred * float(clv),
    )
