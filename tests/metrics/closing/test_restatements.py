"""Closing a month, then changing the data and the assumptions: published, current and the two
restatement parts, worked by hand (METRICS.md, "Closing a month").

Assumptions: W = 1, L = 1, retention assumed at 0.9 (so CLV = m x 0.9 / (1 + d - 0.9)), margin
30% where a cost is missing. Data: X buys in Jan 2024 (100, cost 60); in Feb X (50, cost 30) and
Y (80, cost 50). February: customers_end 2, m = (20 + 30) / 2 = 25.

Feb is closed under 10% a year (d1), the rate then goes to 20% (d2), and a late file adds Z's
February order (40, cost 10): customers_end 3, m = 80 / 3.
- published   = 2 x CLV(25, d1)
- basis       = 3 x CLV(80/3, d1)   (the current data with the published version)
- current     = 3 x CLV(80/3, d2)
data = basis - published, assumptions = current - basis, and they add up to current - published.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from decimal import ROUND_HALF_UP, Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from customers.services import import_claim, import_create, import_run
from metrics.closing import selectors
from metrics.closing.services import (
    ERROR_ALREADY_CLOSED,
    ERROR_MONTH_NOT_ENDED,
    ERROR_NO_FIGURES,
    ERROR_REOPEN_NOTE,
    month_close,
    month_close_due,
    month_reopen,
)
from metrics.models import MonthClose, MonthlySnapshot, PublishedSnapshot
from metrics.services import assumptions_record

FEB = dt.date(2024, 2, 1)
CENT = Decimal("0.01")


def _cents(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(CENT, rounding=ROUND_HALF_UP)


def _clv(m: float, annual: float) -> float:
    d = (1 + annual) ** (1 / 12) - 1
    return m * 0.9 / (1 + d - 0.9)


def _import(content: str) -> None:
    job = import_create(kind="transactions", chunks=[content.encode()], original_name="t.csv", enqueue=False,
                        language="en")
    claimed = import_claim(job_id=job.pk)
    assert claimed is not None
    assert import_run(job=claimed).status == "succeeded"


@pytest.fixture
def closed_february(db: None, settings: Any, tmp_path: Any,
                    django_capture_on_commit_callbacks: Callable[..., Any]) -> MonthClose:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    settings.MEDIA_ROOT = tmp_path / "media"
    assumptions_record(user=None, note="test", recompute=False, annual_discount_rate=Decimal("0.10"),
                       activity_window_months=1, smoothing_window_months=1, retention_source="assumed",
                       assumed_monthly_retention=Decimal("0.9"), default_gross_margin_rate=Decimal("0.3"))
    with django_capture_on_commit_callbacks(execute=True):
        _import("customer_id,order_id,order_date,revenue,cost\n"
                "X,1,2024-01-10,100,60\nX,2,2024-02-03,50,30\nY,3,2024-02-20,80,50\n")
    return month_close(month=FEB, note="February board pack")


def test_closing_publishes_every_scope_of_the_month(closed_february: MonthClose) -> None:
    published = PublishedSnapshot.objects.filter(close=closed_february)
    assert published.count() == MonthlySnapshot.objects.filter(month=FEB).count() > 1
    company = published.get(scope_dimension="company")
    assert company.customers_end == 2
    assert company.customer_equity == _cents(2 * _clv(25, 0.10))
    assert closed_february.assumption_set.annual_discount_rate == Decimal("0.10")
    restatement = selectors.restatement_for(month=FEB)
    assert restatement is not None and not restatement.restated


def test_a_new_rate_and_a_late_file_restate_the_month_in_two_parts_that_add_up(
    closed_february: MonthClose, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        assumptions_record(user=None, note="cost of capital up", annual_discount_rate=Decimal("0.20"))
    with django_capture_on_commit_callbacks(execute=True):
        _import("customer_id,order_id,order_date,revenue,cost\nZ,4,2024-02-25,40,10\n")

    published = _cents(2 * _clv(25, 0.10))
    basis = _cents(3 * _clv(80 / 3, 0.10))
    current = _cents(3 * _clv(80 / 3, 0.20))
    stored = MonthlySnapshot.objects.get(month=FEB, scope_dimension="company")
    assert stored.customer_equity == current

    restatement = selectors.restatement_for(month=FEB)
    assert restatement is not None and restatement.restated
    equity = restatement.splits["customer_equity"]
    assert equity.published == published
    assert equity.current == current
    assert equity.data == basis - published
    assert equity.assumptions == current - basis
    assert equity.total == current - published
    # The data part is the late order (more customers, more margin); the assumptions part the
    # higher rate (lower CLV).
    assert equity.data > 0 > equity.assumptions
    customers = restatement.splits["customers_end"]
    assert (customers.published, customers.current, customers.data, customers.assumptions) == (2, 3, 1, 0)
    clv = restatement.splits["clv"]
    assert clv.data == _cents(_clv(80 / 3, 0.10)) - _cents(_clv(25, 0.10))
    for name, split in restatement.splits.items():
        if split.data is not None and split.assumptions is not None:
            assert split.data + split.assumptions == split.total, name

    # The export carries the same, and published figures never changed.
    out = StringIO()
    call_command("export_snapshots", "--format", "json", stdout=out)
    rows = {r["month"]: r for r in json.loads(out.getvalue())}
    assert rows["2024-02"]["published"]["customer_equity"] == str(published)
    assert rows["2024-02"]["published"]["assumption_version"] == closed_february.assumption_set.version
    assert rows["2024-02"]["restatement"]["customer_equity"] == {
        "data": str(basis - published), "assumptions": str(current - basis)}
    assert rows["2024-02"]["restatement"]["customers_end"] == {"data": 1, "assumptions": 0}
    assert rows["2024-02"]["retention_exposure"] == 0
    assert "published" not in rows["2024-01"]
    assert PublishedSnapshot.objects.get(close=closed_february, scope_dimension="company").customer_equity == published


def test_reopening_and_closing_again_keeps_both_publications(
    closed_february: MonthClose, django_capture_on_commit_callbacks: Callable[..., Any]
) -> None:
    with pytest.raises(ValueError, match=ERROR_REOPEN_NOTE):
        month_reopen(month=FEB, note=" ")
    with pytest.raises(ValueError, match="already closed"):
        month_close(month=FEB)
    assert "reopen it first" in ERROR_ALREADY_CLOSED
    month_reopen(month=FEB, note="late February file from the East region")
    assert selectors.restatement_for(month=FEB) is None
    with django_capture_on_commit_callbacks(execute=True):
        _import("customer_id,order_id,order_date,revenue,cost\nZ,4,2024-02-25,40,10\n")
    second = month_close(month=FEB, note="republished")
    closes = list(MonthClose.objects.filter(month=FEB).order_by("closed_at"))
    assert [c.pk for c in closes] == [closed_february.pk, second.pk]
    assert closes[0].reopened_at is not None and closes[0].reopen_note.startswith("late February")
    assert PublishedSnapshot.objects.get(close=closes[0], scope_dimension="company").customers_end == 2
    assert PublishedSnapshot.objects.get(close=closes[1], scope_dimension="company").customers_end == 3
    assert [c.pk for c in selectors.closes_record()] == [second.pk, closed_february.pk]


def test_a_month_is_closed_only_when_it_has_ended_and_has_figures(db: None) -> None:
    with pytest.raises(ValueError, match="has not ended yet"):
        month_close(month=dt.date(2024, 3, 1), today=dt.date(2024, 3, 31))
    assert "next month" in ERROR_MONTH_NOT_ENDED
    with pytest.raises(ValueError, match="no figures"):
        month_close(month=dt.date(2024, 3, 1), today=dt.date(2024, 4, 1))
    assert "import" in ERROR_NO_FIGURES


def test_the_monthly_job_closes_the_month_just_ended_once(closed_february: MonthClose, settings: Any) -> None:
    month_reopen(month=FEB, note="test the automatic close")
    settings.CLV_AUTO_CLOSE_MONTH = False
    assert month_close_due(today=dt.date(2024, 3, 1)) is None
    settings.CLV_AUTO_CLOSE_MONTH = True
    closed = month_close_due(today=dt.date(2024, 3, 1))
    assert closed is not None and closed.month == FEB and closed.note == "closed by the monthly job"
    assert month_close_due(today=dt.date(2024, 3, 1)) is None  # already closed


def test_the_commands_close_and_reopen_a_month(closed_february: MonthClose) -> None:
    out = StringIO()
    call_command("reopen_month", "2024-02", "--note", "correction", stdout=out)
    assert "reopened" in out.getvalue()
    out = StringIO()
    call_command("close_month", "2024-02", stdout=out)
    assert "2024-02 closed" in out.getvalue() and "published" in out.getvalue()
    assert MonthClose.objects.filter(month=FEB).count() == 2


def test_the_api_serves_the_published_figures_and_the_restatement(
    closed_february: MonthClose, django_capture_on_commit_callbacks: Callable[..., Any],
    client_as: Callable[[str | None], Any],
) -> None:
    from clv_dashboard import roles

    with django_capture_on_commit_callbacks(execute=True):
        assumptions_record(user=None, note="cost of capital up", annual_discount_rate=Decimal("0.20"))
    body = client_as(roles.EXECUTIVE).get("/api/v1/snapshots/").json()
    rows = {r["month"]: r for r in body["results"]}
    published = _cents(2 * _clv(25, 0.10))
    current = _cents(2 * _clv(25, 0.20))
    feb = rows["2024-02"]
    assert feb["customer_equity"] == str(current) and feb["published"]["customer_equity"] == str(published)
    # Only the assumptions moved: the data part is zero, the whole change is the new rate.
    assert feb["restatement"]["customer_equity"] == {"data": "0.00", "assumptions": str(current - published)}
    assert feb["published"]["closed_at"] and "published" not in rows["2024-01"]
    # A change of assumptions alone recomputes nothing for the basis: the data did not move.
    assert PublishedSnapshot.objects.get(close=closed_february, scope_dimension="company").basis is None
