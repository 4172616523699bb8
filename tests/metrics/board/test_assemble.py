from __future__ import annotations

from decimal import Decimal
from typing import Any

from metrics.board.assemble import tiles_build


def row(**values: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "customer_equity": Decimal("1000000.00"), "clv": Decimal("800.00"), "customers_end": 1250,
        "retention_rate": 0.95, "acquisition_equity": Decimal("50000.00"), "retention_equity": Decimal("900000.00"),
        "cac": Decimal("200.00"), "clv_to_cac": 4.0, "retention_source": "measured", "monthly_retention": 0.94,
        "assumption_set__retention_source": "measured", "assumption_set__activity_window_months": 12,
        "new_customers": 100, "churned_customers": 60,
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
    assert tiles["customer_equity"].changes[1].absolute == "–"


def test_a_fall_in_cac_is_good() -> None:
    tiles = by_metric(tiles_build(row=row(cac=Decimal("150.00")), previous=row(), year_ago=row()))
    assert tiles["cac"].changes[0].tone == "good" and tiles["cac"].changes[1].percent == "−25.0%"


def test_assumed_retention_is_said_plainly_on_the_tile() -> None:
    short = row(retention_source="assumed", retention_rate=0.9)
    note = by_metric(tiles_build(row=short, previous=None, year_ago=None))["retention_rate"]
    assert note.note_tone == "warn"
    assert "less than the 12-month activity window" in note.note and "90.0%" in note.note
    chosen = row(retention_source="assumed", retention_rate=0.9, assumption_set__retention_source="assumed")
    assert "the assumptions set retention" in by_metric(tiles_build(row=chosen, previous=None, year_ago=None))[
        "retention_rate"].note


def test_a_month_without_new_customers_has_no_cac() -> None:
    tiles = by_metric(tiles_build(row=row(cac=None, clv_to_cac=None), previous=row(), year_ago=None))
    assert tiles["cac"].display == "–" and tiles["cac"].raw == ""
    assert tiles["cac"].note == "No new customers this month."
    assert tiles["cac"].changes[0].tone == "none"
