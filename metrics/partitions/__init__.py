"""Partitioned recompute: the per-customer pass of a recompute in customer-hash partitions.

A recompute's stage (metrics.selectors.stage_build) is one pass over every transaction that
builds per-customer tables and their pre-aggregates by segment. Every one of those tables is a
function of each customer's own rows, so the pass splits by customer: partition k of n holds the
customers whose id modulo n is k (selectors.stage_build_partition, one Celery task each,
tasks.recompute_stage_partition). A last step sums them (selectors.stage_combine,
tasks.recompute_stage_combine): the pre-aggregates are added (counts and exact NUMERIC sums,
so the result equals the single pass to the cent), the per-customer tables become views over the
partitions' tables, and the referrals, which join two customers who may sit in different
partitions, are counted once on the whole. The scope groups then run as in a single-pass run.

`CLV_RECOMPUTE_PARTITIONS` (default 1: the single pass) sets n; docs/scaling.md says what to
expect from more workers and why.
"""
