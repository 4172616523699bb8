"""The referral figures the recompute stores, on a hand-worked business (METRICS.md, Referrals).

W = 3, data January..June 2024. Customers (region; first purchase; referred by):
  R1 (North; Jan)            R2 (South; Mar)
  A  (North; Feb; R1)  counts: R1 first bought in Jan
  B  (South; Mar; R2)  counts: same month
  C  (North; Feb; R2)  does not count: R2 first bought in Mar, after C
  D  (South; Apr; D)   does not count: self
  E  (North; Apr; ghost) does not count: no such customer
  F  (South; Apr; R1)  counts
  G  (-; refunds only; R1) never a new customer: nothing to count
Active at close (a purchase in t-2..t): Jan {R1}; Feb {R1,A,C}; Mar {R1,A,C,R2,B};
Apr {A,C,R2,B,D,E,F}; May {R2,B,D,E,F}; Jun {D,E,F}.
Company: new Jan 1, Feb 2 (A, C), Mar 2 (R2, B), Apr 3 (D, E, F); referred Feb 1 (A), Mar 1
(B), Apr 1 (F). customers_start: Jan 0, Feb 1, Mar 3, Apr 5, May 7, Jun 5.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

import pytest

from customers.models import Customer, Transaction
from metrics.models import AssumptionSet, CustomerProfitability, MonthlySnapshot
from metrics.services import snapshots_recompute


@pytest.fixture(autouse=True)
def _quick(settings: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    settings.CLV_VALUATION_AFTER_RECOMPUTE = False


def buy(customer: Customer, day: dt.date, revenue: str, cost: str) -> None:
    Transaction.objects.create(customer=customer, order_date=day, revenue=Decimal(revenue), cost=Decimal(cost),
                               order_id=f"O{Transaction.objects.count() + 1}")


@pytest.fixture
def business(db: None) -> dict[str, Customer]:
    AssumptionSet.objects.create(version=AssumptionSet.objects.count() + 1, note="test", activity_window_months=3)
    people = {}
    for external_id, region, referred_by in [
        ("R1", "North", None), ("R2", "South", None), ("A", "North", "R1"), ("B", "South", "R2"),
        ("C", "North", "R2"), ("D", "South", "D"), ("E", "North", "ghost"), ("F", "South", "R1"), ("G", "", "R1"),
    ]:
        people[external_id] = Customer.objects.create(external_id=external_id, region=region, referred_by=referred_by)
    buy(people["R1"], dt.date(2024, 1, 10), "100", "50")
    buy(people["R2"], dt.date(2024, 3, 3), "100", "50")
    buy(people["A"], dt.date(2024, 2, 5), "100", "60")  # margin 40
    buy(people["B"], dt.date(2024, 3, 28), "80", "30")  # margin 50
    buy(people["C"], dt.date(2024, 2, 7), "10", "5")
    buy(people["D"], dt.date(2024, 4, 1), "10", "5")
    buy(people["E"], dt.date(2024, 4, 2), "10", "5")
    buy(people["F"], dt.date(2024, 4, 3), "50", "20")  # margin 30
    buy(people["F"], dt.date(2024, 6, 30), "-10", "-4")  # a refund: margin 30 - 6 = 24
    buy(people["G"], dt.date(2024, 5, 3), "-10", "-5")
    return people


def snap(month: int, dimension: str = "company", value: str = "") -> MonthlySnapshot:
    return MonthlySnapshot.objects.get(month=dt.date(2024, month, 1), scope_dimension=dimension, scope_value=value)


def referral_figures(s: MonthlySnapshot) -> tuple[Any, ...]:
    return (s.new_customers, s.customers_start, s.referred_new_customers, s.referral_share, s.referral_rate)


def test_the_company_counts_only_the_referrals_that_count(business: dict[str, Customer]) -> None:
    snapshots_recompute(trigger="test")
    assert referral_figures(snap(1)) == (1, 0, 0, 0.0, None)  # nobody at the start: no rate
    assert referral_figures(snap(2)) == (2, 1, 1, 0.5, 1.0)  # A counts, C does not (R2 newer)
    assert referral_figures(snap(3)) == (2, 3, 1, 0.5, pytest.approx(1 / 3))  # B: same month as R2
    assert referral_figures(snap(4)) == (3, 5, 1, pytest.approx(1 / 3), 0.2)  # F; D self, E unknown
    assert referral_figures(snap(5)) == (0, 7, 0, None, 0.0)  # no new customers: no share
    assert referral_figures(snap(6)) == (0, 5, 0, None, 0.0)


def test_referral_equity_is_the_referred_new_customers_at_the_clv(business: dict[str, Customer]) -> None:
    snapshots_recompute(trigger="test")
    for month in range(1, 7):
        s = snap(month)
        # The CLV is stored in cents; the equity is computed from the unrounded CLV.
        assert abs(s.referral_equity - s.referred_new_customers * s.clv) <= Decimal("0.01") * s.referred_new_customers
    assert snap(5).referral_equity == Decimal("0.00")
    assert snap(2).referral_equity == snap(2).clv or abs(snap(2).referral_equity - snap(2).clv) <= Decimal("0.01")


def test_each_segment_counts_the_referrals_of_its_own_new_customers(business: dict[str, Customer]) -> None:
    snapshots_recompute(trigger="test")
    # The scope is the referred customer's: A (North) counts for North though R1 is North too,
    # F (South) for South though R1 is North.
    assert referral_figures(snap(2, "region", "North")) == (2, 1, 1, 0.5, 1.0)
    assert referral_figures(snap(3, "region", "South")) == (2, 0, 1, 0.5, None)
    assert referral_figures(snap(4, "region", "South")) == (2, 2, 1, 0.5, 0.5)
    assert referral_figures(snap(4, "region", "North")) == (1, 3, 0, 0.0, 0.0)
    # G has no purchase: never new, so the unassigned segment counts no referral.
    assert not MonthlySnapshot.objects.filter(scope_dimension="region", scope_value="unassigned",
                                              referred_new_customers__gt=0).exists()
    # A dimension's referred new customers add up to the company's.
    for month in range(1, 7):
        total = sum(MonthlySnapshot.objects.filter(month=dt.date(2024, month, 1), scope_dimension="region")
                    .values_list("referred_new_customers", flat=True))
        assert total == snap(month).referred_new_customers


def test_each_customer_gets_the_referrals_they_made_and_the_margin_of_those_customers(
        business: dict[str, Customer]) -> None:
    snapshots_recompute(trigger="test")
    stored = {p.customer.external_id: (p.referrals_made, p.referral_margin)
              for p in CustomerProfitability.objects.select_related("customer")}
    # R1: A (40.00) and F (30.00 - 6.00 refund); G has no purchase. R2: B (50.00); C does not count.
    assert stored["R1"] == (2, Decimal("64.00"))
    assert stored["R2"] == (1, Decimal("50.00"))
    for external_id in ("A", "B", "C", "D", "E", "F", "G"):
        assert stored[external_id] == (0, Decimal("0.00"))


def test_a_later_purchase_file_can_make_a_referral_count(business: dict[str, Customer]) -> None:
    """Whether a referral counts is decided on the data as a whole: an earlier purchase of R2
    (January) makes C's referral (February) count after the next recompute."""
    snapshots_recompute(trigger="test")
    assert snap(2).referred_new_customers == 1
    buy(business["R2"], dt.date(2024, 1, 20), "10", "5")
    snapshots_recompute(trigger="test")
    assert snap(2).referred_new_customers == 2  # A and C
    # R2 is no longer new in March: B is the only new customer there, and referred.
    assert (snap(3).new_customers, snap(3).referred_new_customers, snap(3).referral_share) == (1, 1, 1.0)
    assert CustomerProfitability.objects.get(customer=business["R2"]).referrals_made == 2  # B and C


def test_a_recompute_from_a_month_gives_the_referral_figures_of_a_full_one(business: dict[str, Customer]) -> None:
    snapshots_recompute(trigger="test")
    late = Customer.objects.create(external_id="H", region="North", referred_by="A")
    buy(late, dt.date(2024, 6, 2), "20", "10")
    snapshots_recompute(trigger="test", from_month=dt.date(2024, 6, 1))
    fields = ["scope_dimension", "scope_value", "month", "referred_new_customers", "referral_share",
              "referral_rate", "referral_equity"]
    incremental = list(MonthlySnapshot.objects.order_by("scope_dimension", "scope_value", "month").values_list(*fields))
    assert snap(6).referred_new_customers == 1
    snapshots_recompute(trigger="test")
    full = list(MonthlySnapshot.objects.order_by("scope_dimension", "scope_value", "month").values_list(*fields))
    assert incremental == full


def test_a_close_publishes_the_referral_figures_and_keeps_them_when_the_data_change(
        business: dict[str, Customer]) -> None:
    from metrics.closing.selectors import published_series
    from metrics.closing.services import month_close
    from metrics.models import PublishedSnapshot

    snapshots_recompute(trigger="test")
    april = dt.date(2024, 4, 1)
    month_close(month=april, today=dt.date(2024, 7, 15))
    published = PublishedSnapshot.objects.get(month=april, scope_dimension="company")
    assert (published.referred_new_customers, published.referral_share, published.referral_rate) == (
        1, pytest.approx(1 / 3), 0.2)
    assert published.referral_equity == snap(4).referral_equity > 0
    # D turns out to have been referred by R1 after all: the current April counts two, the
    # published April still the one the board read.
    Customer.objects.filter(pk=business["D"].pk).update(referred_by="R1")
    snapshots_recompute(trigger="test")
    assert snap(4).referred_new_customers == 2
    (row,) = [r for r in published_series(dimension="company", value="") if r["month"] == april]
    assert (row["referred_new_customers"], row["referral_rate"]) == (1, 0.2)
    # A month closed before referral figures were published has none to show, not zeros.
    PublishedSnapshot.objects.filter(pk=published.pk).update(
        referred_new_customers=None, referral_share=None, referral_rate=None, referral_equity=None)
    (row,) = [r for r in published_series(dimension="company", value="") if r["month"] == april]
    assert row["referred_new_customers"] is None and row["referral_equity"] is None


def test_a_closed_month_restates_its_referral_figures_in_data_and_assumptions(
        business: dict[str, Customer]) -> None:
    """Referred new customers and referral equity are a count and money: current - published =
    data + assumptions (METRICS.md, Closing a month), on the board's tile and in the export. A
    change of referrer alone is a change of the data (the basis is recomputed for it)."""
    from metrics.board.assemble import board_get
    from metrics.board.selectors import COMPANY_SCOPE
    from metrics.closing.selectors import restatement_for, restatements_by_key
    from metrics.closing.services import month_close
    from metrics.services import assumptions_record

    april = dt.date(2024, 4, 1)
    snapshots_recompute(trigger="test")
    month_close(month=april, today=dt.date(2024, 7, 15))
    published = snap(4).referral_equity
    # Data: D was referred by R1 after all (same assumption version: basis = current).
    Customer.objects.filter(pk=business["D"].pk).update(referred_by="R1")
    snapshots_recompute(trigger="test")
    basis = snap(4).referral_equity
    # Assumptions: a higher discount rate lowers the CLV, so the referral equity, not the count.
    assumptions_record(user=None, note="rate up", recompute=False, annual_discount_rate=Decimal("0.30"))
    snapshots_recompute(trigger="test")
    current = snap(4).referral_equity
    assert snap(4).referred_new_customers == 2 and published < basis and current < basis

    restatement = restatement_for(month=april)
    assert restatement is not None and restatement.restated
    referred = restatement.splits["referred_new_customers"]
    assert (referred.published, referred.current, referred.data, referred.assumptions) == (1, 2, 1, 0)
    equity = restatement.splits["referral_equity"]
    assert (equity.published, equity.current) == (published, current)
    assert (equity.data, equity.assumptions) == (basis - published, current - basis)
    parts = restatements_by_key()[(april, "company", "")].parts()
    assert parts["referred_new_customers"] == {"data": 1, "assumptions": 0}
    assert parts["referral_equity"] == {"data": str(basis - published), "assumptions": str(current - basis)}

    tile = board_get(scope=COMPANY_SCOPE, month=april, dimension=None).tiles[-1]
    assert tile.metric == "referral_rate"
    assert (tile.published, tile.restated, tile.restated_parts) == ("1 referred", "+1", "data +1, assumptions ±0")
    # As published, the tile shows the published figures themselves, with no restatement line.
    printed = board_get(scope=COMPANY_SCOPE, month=april, dimension=None, as_published=True).tiles[-1]
    assert (printed.published, printed.restated) == ("", "")
    assert printed.raw == "0.2"
    # A month closed before referral figures were published has no referral split to show.
    # (Published rows never change; the board's cache is keyed on the data, so it is emptied.)
    from django.core.cache import cache

    from metrics.models import PublishedSnapshot

    PublishedSnapshot.objects.filter(month=april).update(
        referred_new_customers=None, referral_share=None, referral_rate=None, referral_equity=None)
    cache.clear()
    restatement = restatement_for(month=april)
    assert restatement is not None and restatement.splits["referred_new_customers"].total is None
    assert board_get(scope=COMPANY_SCOPE, month=april, dimension=None).tiles[-1].published == ""
