"""validate_clv_models: the holdout check of the models on the command line, as text and JSON."""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from metrics.predictive.validation.maths import ERROR_NO_REPEAT_BUYERS, ValidationReport, holdout_validate
from metrics.predictive.validation.selectors import holdout_inputs_read

from .db import cdnow_load

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _cdnow() -> None:
    cdnow_load()


def _expected() -> ValidationReport:
    inputs = holdout_inputs_read(calibration_end=dt.date(1997, 9, 30), holdout_end=dt.date(1998, 6, 30),
                                 default_margin_rate=0.3)
    return holdout_validate(inputs, tracking=False)


def test_the_text_gives_each_models_totals_and_the_table_by_calibration_frequency() -> None:
    out = io.StringIO()
    call_command("validate_clv_models", "--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30", stdout=out)
    text = out.getvalue()
    report = _expected()
    assert "Actual holdout repeat purchases: 1882" in text
    for check in report.models:
        assert f"total: actual 1882  predicted {check.total_predicted:.1f}  ({check.pct_error:+.1%})" in text
        for row in check.by_frequency:
            x = f"{row.frequency}+" if row.frequency == 7 else str(row.frequency)
            assert f"  {x:>4} {row.customers:>10} {row.actual_mean:>10.3f} {row.predicted_mean:>10.3f}" in text
    assert "Gamma-Gamma spend per holdout purchase" in text


def test_the_holdout_ends_at_the_latest_purchase_by_default_and_one_model_can_be_asked_for() -> None:
    out = io.StringIO()
    call_command("validate_clv_models", "--calibration-end", "1997-09-30", "--model", "bgnbd", "--format", "json",
                 stdout=out)
    data = json.loads(out.getvalue())
    assert data["holdout_end"] == "1998-06-30" and data["total_actual"] == 1882
    assert [m["model"] for m in data["models"]] == ["bgnbd"]
    bgnbd = data["models"][0]
    assert bgnbd["pct_error"] == pytest.approx(-0.12, abs=0.01)
    assert [r["frequency"] for r in bgnbd["by_frequency"]] == list(range(8)) and bgnbd["by_frequency"][7]["or_more"]
    assert sum(r["customers"] for r in bgnbd["by_frequency"]) == data["customers"] == 2357
    assert bgnbd["params"]["r"] == pytest.approx(0.243, abs=5e-4)


def test_json_gives_the_same_figures_as_the_text() -> None:
    out = io.StringIO()
    call_command("validate_clv_models", "--calibration-end", "1997-09-30", "--format", "json", stdout=out)
    data = json.loads(out.getvalue())
    report = _expected()
    for entry, check in zip(data["models"], report.models, strict=True):
        assert entry["total_predicted"] == pytest.approx(check.total_predicted)
        assert entry["rmse"] == pytest.approx(check.rmse)
    assert report.best is not None and data["best"] == report.best.value


def test_a_split_the_history_cannot_support_fails_with_the_reason() -> None:
    template = ERROR_NO_REPEAT_BUYERS.split("{")[0]
    with pytest.raises(CommandError, match=template):
        call_command("validate_clv_models", "--calibration-end", "1997-01-01", stdout=io.StringIO())
