"""The referral rules of METRICS.md, pure: plain values and DataFrames in, no ORM.

The reference implementation (and the path SQLite takes for the per-customer figures);
PostgreSQL runs the same rules set-based (metrics.referrals.selectors)."""

from __future__ import annotations

from .rules import (
    COUNTED,
    NEWER,
    PENDING,
    SELF,
    UNKNOWN,
    ReferralFigures,
    counted_referrals,
    referral_figures,
    referral_status,
    referral_statuses,
    referrals_by_referrer,
)

__all__ = [
    "COUNTED", "NEWER", "PENDING", "SELF", "UNKNOWN", "ReferralFigures", "counted_referrals", "referral_figures",
    "referral_status", "referral_statuses", "referrals_by_referrer",
]
