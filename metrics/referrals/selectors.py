"""Reads of referrals: the SQL that decides which referrals count, on the data as a whole.

A referral counts (METRICS.md, Referrals) when `referred_by` names another known customer whose
first purchase month is no later than the referred customer's. Both sides need a first purchase
month, so the statements join a table of first purchase months (the recompute's stage `fp`,
the allocation's `p_c`) twice; the customers are joined on their unique external id.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pandas as pd

from customers.models import Customer


def counted_referrals_select(*, first_months: str, month_column: str = "first_m") -> str:
    """SELECT customer_id (the referred), referrer_id, m (the referred's first purchase month)
    of the referrals that count, given a table of (customer_id, first purchase month)."""
    return f"""SELECT c.id AS customer_id, r.id AS referrer_id, fc.{month_column} AS m
        FROM customers_customer c
        JOIN customers_customer r ON r.external_id = c.referred_by
        JOIN {first_months} fc ON fc.customer_id = c.id
        JOIN {first_months} fr ON fr.customer_id = r.id
        WHERE c.referred_by IS NOT NULL AND r.id <> c.id
          AND fc.{month_column} IS NOT NULL AND fr.{month_column} IS NOT NULL
          AND fr.{month_column} <= fc.{month_column}"""


# At most this many referred customers are listed on a customer's page.
REFERRED_SHOWN = 200
# The per-customer referral columns (METRICS.md, Referrals), after the allocation's RESULT_COLUMNS.
REFERRAL_COLUMNS = ["referrals_made", "referral_margin"]


def referrals_per_customer_select(*, first_months: str, margins: str) -> str:
    """SELECT referrer_id, referrals_made, referral_margin: per customer, the counted referrals
    naming them and the sum of the referred customers' margin_to_date (from `margins`)."""
    return f"""SELECT k.referrer_id, COUNT(*) AS referrals_made, COALESCE(SUM(p.margin_to_date), 0) AS referral_margin
        FROM ({counted_referrals_select(first_months=first_months)}) k
        LEFT JOIN {margins} p ON p.customer_id = k.customer_id
        GROUP BY k.referrer_id"""


def referrals_per_customer_frame(*, month: int, margins: dict[int, Any]) -> pd.DataFrame:
    """The same to the close of `month` by the pure maths (SQLite, and the reference): referrer_id,
    referrals_made, referral_margin."""
    from metrics.referrals.maths import counted_referrals, referrals_by_referrer

    customers = referral_customers()
    first = first_purchase_months(month=month)
    customers["first_m"] = [first.get(int(pk)) for pk in customers["customer_id"]]
    return referrals_by_referrer(counted_referrals(customers), margins)


def first_purchase_months(*, month: int) -> dict[int, int]:
    """Each customer's first purchase month (revenue >= 0) up to the close of `month`, by pk."""
    from django.db.models import Min

    from customers.models import Transaction
    from metrics.calculations import month_from_index, month_index

    found = (Transaction.objects.filter(revenue__gte=0, order_date__lt=month_from_index(month + 1))
             .values("customer_id").annotate(first=Min("order_date")).values_list("customer_id", "first"))
    return {int(pk): month_index(first) for pk, first in found.iterator(chunk_size=20_000)}


def referral_customers() -> pd.DataFrame:
    """customer_id (pk), external_id, referred_by of every customer (the pure maths' input)."""
    rows = list(Customer.objects.values_list("id", "external_id", "referred_by").iterator(chunk_size=20_000))
    return pd.DataFrame(rows, columns=["customer_id", "external_id", "referred_by"])


@dataclass(frozen=True)
class CustomerReferrals:
    """What a customer's page shows of referrals: who they name (and whether that counts), the
    customers who name them, and their stored referrals_made and referral_margin."""

    referred_by: str | None
    referred_by_pk: int | None
    referred_by_status: str | None
    referred: list[dict[str, Any]]
    referrals_made: int | None
    referral_margin: Decimal | None


def customer_referrals(*, customer_pk: int) -> CustomerReferrals:
    """The referrals of one customer, judged on the data as it is now (METRICS.md, Referrals)."""
    from metrics.models import CustomerProfitability
    from metrics.referrals.maths import referral_status

    me = Customer.objects.filter(pk=customer_pk).values_list("external_id", "referred_by").first()
    if me is None:
        return CustomerReferrals(None, None, None, [], None, None)
    external_id, referred_by = me
    referrer = (Customer.objects.filter(external_id=referred_by).values_list("pk", flat=True).first()
                if referred_by else None)
    named = list(Customer.objects.filter(referred_by=external_id).exclude(pk=customer_pk).order_by("external_id")
                 .values_list("pk", "external_id", "profitability__margin_to_date")[:REFERRED_SHOWN])
    first = _first_months([customer_pk, *([referrer] if referrer else []), *(pk for pk, *_rest in named)])
    status = None
    if referred_by:
        known = {referred_by: first.get(referrer)} if referrer else {}
        status = referral_status(external_id=external_id, referred_by=referred_by, first_month=first.get(customer_pk),
                                 first_months={**known, external_id: first.get(customer_pk)})
    rows = [{"pk": pk, "customer_id": other, "margin_to_date": margin,
             "status": referral_status(external_id=other, referred_by=external_id, first_month=first.get(pk),
                                       first_months={external_id: first.get(customer_pk)})}
            for pk, other, margin in named]
    stored = CustomerProfitability.objects.filter(customer_id=customer_pk).values_list(
        "referrals_made", "referral_margin").first()
    return CustomerReferrals(
        referred_by=referred_by, referred_by_pk=referrer, referred_by_status=status, referred=rows,
        referrals_made=stored[0] if stored else None, referral_margin=stored[1] if stored else None,
    )


def _first_months(pks: list[int]) -> dict[int, int]:
    from django.db.models import Min

    from customers.models import Transaction
    from metrics.calculations import month_index

    found = (Transaction.objects.filter(customer_id__in=pks, revenue__gte=0).values("customer_id")
             .annotate(first=Min("order_date")).values_list("customer_id", "first"))
    return {int(pk): month_index(first) for pk, first in found}
