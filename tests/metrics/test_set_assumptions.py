"""`manage.py set_assumptions`: a version recorded exactly as the page records it."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from metrics.models import AssumptionSet, RecomputeRun
from metrics.services import assumptions_ensure
from tests.factories import TransactionFactory


def test_set_assumptions_records_a_version_prints_it_and_recomputes(db: None, settings: Any,
                                                                   django_capture_on_commit_callbacks: Any) -> None:
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    TransactionFactory()
    before = assumptions_ensure()
    out = StringIO()
    with django_capture_on_commit_callbacks(execute=True):
        call_command("set_assumptions", "--note", "board review", "--annual-discount-rate", "0.12",
                     "--credibility-weight", "50", "--retention-source", "assumed",
                     "--assumed-monthly-retention", "0.85", stdout=out)
    latest = AssumptionSet.objects.order_by("-version").first()
    assert latest is not None and latest.version == before.version + 1
    assert latest.annual_discount_rate == Decimal("0.12") and latest.credibility_weight == 50
    assert latest.retention_source == "assumed" and latest.assumed_monthly_retention == Decimal("0.85")
    # Unnamed assumptions keep their values; the note is recorded.
    assert latest.activity_window_months == before.activity_window_months and latest.note == "board review"
    text = out.getvalue()
    assert f"v{latest.version} recorded" in text and "annual-discount-rate: 0.12" in text and "(changed)" in text
    run = RecomputeRun.objects.get()
    assert run.trigger == "assumptions" and run.status == "succeeded" and run.assumption_set_id == latest.pk


def test_set_assumptions_refuses_a_value_out_of_range_with_the_field_named(db: None) -> None:
    with pytest.raises(CommandError, match="annual_discount_rate"):
        call_command("set_assumptions", "--note", "x", "--annual-discount-rate", "12")
    with pytest.raises(CommandError, match="must be a number"):
        call_command("set_assumptions", "--note", "x", "--activity-window", "twelve")
    with pytest.raises(CommandError, match="at least one"):
        call_command("set_assumptions", "--note", "x")
    assert AssumptionSet.objects.count() <= 1
