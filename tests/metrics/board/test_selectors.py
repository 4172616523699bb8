from __future__ import annotations

import datetime as dt

import pytest

from metrics.board.assemble import latest_closed_month, month_add
from metrics.board.selectors import COMPANY_SCOPE, ERROR_BAD_MONTH, Scope, board_scopes, month_parse, scope_parse

MONTHS = [dt.date(2025, m, 1) for m in range(1, 13)]


def test_the_default_month_is_the_latest_that_has_ended() -> None:
    assert latest_closed_month(MONTHS, today=dt.date(2025, 12, 15)) == dt.date(2025, 11, 1)
    assert latest_closed_month(MONTHS, today=dt.date(2026, 1, 1)) == dt.date(2025, 12, 1)
    # Data only in the current month: show it rather than nothing.
    assert latest_closed_month([dt.date(2025, 12, 1)], today=dt.date(2025, 12, 3)) == dt.date(2025, 12, 1)
    assert latest_closed_month([], today=dt.date(2025, 12, 3)) is None


def test_month_arithmetic_crosses_years() -> None:
    assert month_add(dt.date(2025, 1, 1), -1) == dt.date(2024, 12, 1)
    assert month_add(dt.date(2025, 1, 1), -12) == dt.date(2024, 1, 1)
    assert month_add(dt.date(2024, 12, 1), 1) == dt.date(2025, 1, 1)


def test_scopes_parse_from_the_query_string() -> None:
    assert scope_parse(None) == COMPANY_SCOPE
    assert scope_parse("company") == COMPANY_SCOPE
    assert scope_parse("region:North") == Scope("region", "North")
    assert scope_parse("region:a:b") == Scope("region", "a:b")
    for bad in ["colour:red", "region", "region:", ":North"]:
        with pytest.raises(ValueError, match="Unknown scope"):
            scope_parse(bad)


def test_months_parse_from_the_query_string() -> None:
    assert month_parse("2025-06") == dt.date(2025, 6, 1)
    assert month_parse("2025-06-17") == dt.date(2025, 6, 1)
    assert month_parse("") is None
    for bad in ["June", "2025-13", "2025"]:
        with pytest.raises(ValueError, match=str(ERROR_BAD_MONTH)):
            month_parse(bad)


def test_scopes_list_the_company_first_then_dimensions_in_order_unassigned_last(board_snapshots: dict) -> None:
    scopes = board_scopes()
    assert scopes[0] == COMPANY_SCOPE
    assert [s.key for s in scopes[1:]] == ["region:North", "region:South", "region:unassigned",
                                          "acquisition_channel:Referral", "acquisition_channel:Search"]
