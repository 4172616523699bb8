from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from metrics.board.assemble import tiles_build
from metrics.board.trust import WarmUp


def row(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "customer_equity": Decimal("1000000.00"), "clv": Decimal("800.00"), "customers_end": 1250,
        "retention_rate": 0.95, "acquisition_equity": Decimal("50000.00"), "retention_equity": Decimal("900000.00"),
        "cac": Decimal("200.00"), "clv_to_cac": 4.0, "retention_source": "measured", "monthly_retention": 0.94,
        "assumption_set__retention_source": "measured", "assumption_set__activity_window_months": 12,
        "new_customers": 100, "churned_customers": 60, "retention_exposure": 15000,
        "assumption_set__credibility_weight": 100, "month": dt.date(2025, 6, 1),
    }
    base.update(values)
    return base


def by_metric(tiles: list) -> dict[str, Any]:
    return {t.metric: t for t in tiles}


def test_changes_are_good_when_value_rises_except_for_cac() -> None:
    now = row()
    before = row(customer_equity=Decimal("900000.00"), cac=Decimal("180.00"), retention_rate=0.96)
    tiles = by_metric(tiles_build(row=now, previous=before, year_ago=None))
    equity = tiles["customer_equity"].changes[0]
    assert (equity.tone, equity.absolute, equity.percent) == ("good", "+¥100,000", "+11.1%")
    cac = tiles["cac"].changes[0]
    assert (cac.tone, cac.absolute, cac.percent) == ("bad", "+¥20.00", "+11.1%")
    # The arrow says which way the figure moved; the colour says whether that is good.
    assert (equity.direction, cac.direction) == ("up", "up")
    retention = tiles["retention_rate"].changes[0]
    assert (retention.tone, retention.absolute) == ("bad", "−1.0 pt")
    assert tiles["clv"].changes[0].tone == "neutral"
    # No month a year earlier: said, not guessed.
    assert tiles["customer_equity"].changes[1].tone == "none"
    # The first month with nothing to compare: a sentence, not "· – (–)".
    assert (tiles["customer_equity"].changes[1].absolute, tiles["customer_equity"].changes[1].percent) == ("", "")
    assert tiles["customer_equity"].changes[1].label == "no figure a year earlier"


def test_a_fall_in_cac_is_good() -> None:
    tiles = by_metric(tiles_build(row=row(cac=Decimal("150.00")), previous=row(), year_ago=row()))
    assert tiles["cac"].changes[0].tone == "good" and tiles["cac"].changes[1].percent == "−25.0%"


def test_assumed_retention_is_said_plainly_on_the_tile() -> None:
    short = row(retention_source="assumed", retention_rate=0.9, month=dt.date(2024, 5, 1))
    warm_up = WarmUp(first=dt.date(2024, 1, 1), last=dt.date(2024, 12, 1))
    note = by_metric(tiles_build(row=short, previous=None, year_ago=None, warm_up=warm_up))["retention_rate"]
    assert note.note_tone == "warn"
    assert "Warm-up month" in note.note and "90.0%" in note.note and "January 2025" in note.note
    chosen = row(retention_source="assumed", retention_rate=0.9, assumption_set__retention_source="assumed")
    assert "the assumptions set retention" in by_metric(tiles_build(row=chosen, previous=None, year_ago=None))[
        "retention_rate"].note


def test_a_month_without_new_customers_has_no_cac() -> None:
    tiles = by_metric(tiles_build(row=row(cac=None, clv_to_cac=None), previous=row(), year_ago=None))
    assert tiles["cac"].display == "–" and tiles["cac"].raw == ""
    assert tiles["cac"].note == "No new customers this month."
    assert tiles["cac"].changes[0].tone == "none"


def test_a_scope_with_few_customer_months_says_it_leans_on_its_prior() -> None:
    few = row(retention_exposure=120)
    segment = by_metric(tiles_build(row=few, previous=None, year_ago=None, company_row=row()))["retention_rate"]
    assert segment.note_tone == "warn" and "leaning on the company's rate" in segment.note and "E = 120" in segment.note
    company = by_metric(tiles_build(row=few, previous=None, year_ago=None))["retention_rate"]
    assert "leaning on the assumed retention" in company.note
    plenty = by_metric(tiles_build(row=row(), previous=None, year_ago=None, company_row=row()))["retention_rate"]
    assert "leaning" not in plenty.note


def test_a_segment_without_exposure_says_it_takes_the_companys_rate() -> None:
    taken = row(retention_source="company", retention_exposure=0, retention_rate=0.97)
    note = by_metric(tiles_build(row=taken, previous=None, year_ago=None, company_row=row()))["retention_rate"]
    assert "the company's rate, 97.0%" in note.note


def test_a_segment_cac_that_differs_from_the_companys_says_why() -> None:
    segment = by_metric(tiles_build(row=row(cac=Decimal("202.00")), previous=None, year_ago=None,
                                    company_row=row(cac=Decimal("288.32"))))["cac"]
    assert "The company's CAC is ¥288.32" in segment.note and "untagged acquisition cost" in segment.note
    same = by_metric(tiles_build(row=row(), previous=None, year_ago=None, company_row=row()))["cac"]
    assert same.note == ""


def test_a_change_that_rounds_to_zero_is_flat_and_neutral_not_a_red_fall() -> None:
    now = row(retention_rate=0.95, clv_to_cac=4.0, customer_equity=Decimal("1000000.00"))
    before = row(retention_rate=0.95004, clv_to_cac=4.001, customer_equity=Decimal("1000000.40"))
    tiles = by_metric(tiles_build(row=now, previous=before, year_ago=None))
    for metric, absolute in (("retention_rate", "±0.0 pt"), ("clv_to_cac", "±0.00×"), ("customer_equity", "±¥0")):
        change = tiles[metric].changes[0]
        assert (change.tone, change.direction, change.absolute, change.percent) == (
            "neutral", "flat", absolute, "±0.0%"), metric
    # A change one digit larger is a change again.
    moved = by_metric(tiles_build(row=now, previous=row(retention_rate=0.9506), year_ago=None))
    change = moved["retention_rate"].changes[0]
    assert (change.tone, change.direction, change.absolute) == ("bad", "down", "\u22120.1 pt")


def test_the_first_month_says_there_is_nothing_to_compare_without_dashes() -> None:
    tiles = tiles_build(row=row(), previous=None, year_ago=None)
    for tile in tiles:
        previous, year = tile.changes
        assert (previous.absolute, previous.percent, previous.label) == ("", "", "no previous month to compare with")
        assert (year.absolute, year.percent, year.label) == ("", "", "no figure a year earlier")
