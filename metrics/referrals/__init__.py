"""Referrals (METRICS.md, "Referrals"): who referred whom, which referrals count, and the
referral figures of the snapshots and of each customer."""
