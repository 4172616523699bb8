"""Each referral rule of METRICS.md ("Referrals") on plain values, worked by hand."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from metrics.referrals.maths import (
    COUNTED,
    NEWER,
    PENDING,
    SELF,
    UNKNOWN,
    counted_referrals,
    referral_figures,
    referral_status,
    referral_statuses,
    referrals_by_referrer,
)

# Known customers and their first purchase months (month indexes); IDLE has not bought.
FIRST = {"R": 100, "LATER": 103, "IDLE": None, "A": 102, "NOBUY": None}


def status(external_id: str, referred_by: str | None) -> str | None:
    return referral_status(external_id=external_id, referred_by=referred_by, first_month=FIRST.get(external_id),
                           first_months=FIRST)


def test_no_referrer_is_no_referral() -> None:
    assert status("A", None) is None
    assert status("A", "") is None


def test_a_referrer_whose_first_purchase_is_earlier_counts() -> None:
    assert status("A", "R") == COUNTED  # R first bought in month 100, A in 102


def test_a_referrer_whose_first_purchase_is_in_the_same_month_counts() -> None:
    assert referral_status(external_id="A", referred_by="R", first_month=100, first_months=FIRST) == COUNTED


def test_a_customer_naming_themself_does_not_count() -> None:
    assert status("A", "A") == SELF


def test_an_id_no_customer_has_does_not_count() -> None:
    assert status("A", "nobody") == UNKNOWN
    # Ids are compared as written: another case or a space is another id.
    assert status("A", "r") == UNKNOWN
    assert status("A", "R ") == UNKNOWN


def test_a_referrer_newer_than_the_referred_does_not_count() -> None:
    assert status("A", "LATER") == NEWER  # LATER first bought in 103, after A's 102


def test_a_referrer_who_has_not_bought_yet_does_not_count() -> None:
    assert status("A", "IDLE") == NEWER


def test_a_referred_customer_who_has_not_bought_yet_is_pending() -> None:
    assert status("NOBUY", "R") == PENDING


def customers_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [(1, "R", None, 100.0), (2, "A", "R", 102.0), (3, "B", "R", 100.0), (4, "C", "C", 101.0),
         (5, "D", "ghost", 101.0), (6, "E", "A", 101.0), (7, "F", "A", float("nan")), (8, "G", "A", 104.0)],
        columns=["customer_id", "external_id", "referred_by", "first_m"],
    )


def test_the_statuses_of_a_whole_customer_table() -> None:
    statuses = referral_statuses(customers_frame())
    # R has no referrer; E names A, who first bought after E (102 > 101); F has not bought.
    assert statuses.to_dict() == {2: COUNTED, 3: COUNTED, 4: SELF, 5: UNKNOWN, 6: NEWER, 7: PENDING, 8: COUNTED}


def test_the_counted_referrals_name_the_referrer_and_the_month_they_show_in() -> None:
    counted = counted_referrals(customers_frame())
    assert counted.to_dict("records") == [
        {"customer_id": 2, "referrer_id": 1, "first_m": 102},
        {"customer_id": 3, "referrer_id": 1, "first_m": 100},
        {"customer_id": 8, "referrer_id": 2, "first_m": 104},
    ]


def test_no_counted_referrals_gives_an_empty_table() -> None:
    frame = pd.DataFrame([(1, "R", None, 100.0)], columns=["customer_id", "external_id", "referred_by", "first_m"])
    assert counted_referrals(frame).empty
    assert referrals_by_referrer(counted_referrals(frame), {}).empty


def test_referrals_made_and_referral_margin_per_referrer() -> None:
    counted = counted_referrals(customers_frame())
    margins = {2: Decimal("40.00"), 3: Decimal("-12.50"), 8: Decimal("7.25"), 1: Decimal("999.00")}
    rows = referrals_by_referrer(counted, margins).to_dict("records")
    # R referred A (40.00) and B (-12.50): 27.50; A referred G (7.25). R's own margin is not in it.
    assert rows == [
        {"referrer_id": 1, "referrals_made": 2, "referral_margin": Decimal("27.50")},
        {"referrer_id": 2, "referrals_made": 1, "referral_margin": Decimal("7.25")},
    ]


def test_a_referred_customer_without_a_margin_adds_zero() -> None:
    counted = counted_referrals(customers_frame())
    rows = referrals_by_referrer(counted, {2: Decimal("40.00")}).to_dict("records")
    assert rows[0]["referral_margin"] == Decimal("40.00") and rows[1]["referral_margin"] == 0


def test_share_rate_and_equity_of_a_month() -> None:
    figures = referral_figures(referred_new_customers=3, new_customers=12, customers_start=150, clv=80.5)
    assert figures.referred_new_customers == 3
    assert figures.referral_share == pytest.approx(0.25)  # 3 / 12
    assert figures.referral_rate == pytest.approx(0.02)  # 3 / 150
    assert figures.referral_equity == pytest.approx(241.5)  # 3 x 80.5


def test_no_share_without_new_customers_and_no_rate_without_customers_at_the_start() -> None:
    none_new = referral_figures(referred_new_customers=0, new_customers=0, customers_start=10, clv=50.0)
    assert none_new.referral_share is None and none_new.referral_rate == 0.0 and none_new.referral_equity == 0.0
    first_month = referral_figures(referred_new_customers=1, new_customers=4, customers_start=0, clv=50.0)
    assert first_month.referral_rate is None and first_month.referral_share == pytest.approx(0.25)
    assert first_month.referral_equity == pytest.approx(50.0)


def test_referral_equity_takes_the_sign_of_the_clv() -> None:
    assert referral_figures(referred_new_customers=2, new_customers=2, customers_start=1,
                            clv=-10.25).referral_equity == pytest.approx(-20.5)
