"""The explanation of a snapshot, on the worked example (values from its hand computation)."""

from __future__ import annotations

import json

import pytest
from django.utils import translation

from metrics.explain import snapshot_explain
from metrics.models import MonthlySnapshot
from tests.metrics.test_worked_example import worked_example  # noqa: F401 - the fixture

D = 0.007974140428903764


def test_the_explanation_shows_inputs_assumptions_and_each_formula_with_its_numbers(worked_example: None) -> None:  # noqa: F811
    snapshot = MonthlySnapshot.objects.get(scope_dimension="company", month="2024-04-01")
    explained = snapshot_explain(snapshot=snapshot)
    json.dumps(explained)  # serialisable
    assert explained["month"] == "2024-04" and explained["scope"] == {"dimension": "company", "value": ""}
    assert explained["assumption_version"] == 2
    inputs = {i["name"]: i["value"] for i in explained["inputs"]}
    # L = 2: March and April. retained 2 + 2, start 3 + 3, margin -9 + 22, end 3 + 3.
    assert (inputs["window_retained_customers"], inputs["window_customers_start"]) == (4, 6)
    assert (inputs["window_gross_margin"], inputs["window_customers_end"]) == (13.0, 6)
    assumptions = {a["name"]: a["value"] for a in explained["assumptions"]}
    assert assumptions["activity_window_months"] == 2 and assumptions["annual_discount_rate"] == 0.1
    steps = {s["metric"]: s for s in explained["steps"]}
    assert steps["retention_rate"]["substituted"] == "4 / 6"
    assert steps["retention_rate"]["value"] == pytest.approx(2 / 3, abs=1e-12)
    assert steps["monthly_discount_rate"]["value"] == pytest.approx(D, abs=1e-15)
    assert steps["margin_per_customer"]["substituted"] == "13.00 / 6"
    assert steps["clv"]["formula"] == "CLV = m × r / (1 + d - r)"
    assert steps["clv"]["value"] == 4.23  # stored, rounded: (13/6) x (2/3) / (1 + D - 2/3) = 4.2320914...
    assert steps["cac"]["value"] is None and steps["acquisition_equity"]["value"] == -50.0
    for step in explained["steps"]:
        assert set(step) == {"metric", "label", "formula", "substituted", "value"}


def test_an_assumed_retention_says_why(worked_example: None) -> None:  # noqa: F811
    snapshot = MonthlySnapshot.objects.get(scope_dimension="company", month="2024-01-01")
    steps = {s["metric"]: s for s in snapshot_explain(snapshot=snapshot)["steps"]}
    assert "measured retention needs 2 months of data" in steps["retention_rate"]["substituted"]


def test_labels_follow_the_active_language(worked_example: None) -> None:  # noqa: F811
    snapshot = MonthlySnapshot.objects.get(scope_dimension="company", month="2024-04-01")
    with translation.override("zh-hans"):
        labels = {s["metric"]: s["label"] for s in snapshot_explain(snapshot=snapshot)["steps"]}
    assert labels["clv"] != "Customer lifetime value" and "价值" in labels["clv"]
