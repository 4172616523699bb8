"""The explanation of a snapshot: the worked example by hand, and every line adding up.

The check of a line is a reader with a calculator: take the rendered text of the line, read
its numbers as shown (grouping commas, "…" for a number cut off), evaluate the expression
exactly and compare with the shown result at the digits it shows. The calculator here is
written separately from metrics.explain's own check, on purpose.
"""

from __future__ import annotations

import json
import random
import re
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, localcontext
from fractions import Fraction
from typing import Any

import pytest
from django.utils import translation

from clv_dashboard.demo import demo_seed
from metrics.explain import line_reproduces, snapshot_explain
from metrics.models import MonthlySnapshot
from metrics.services import assumptions_record, snapshots_recompute
from tests.metrics.test_worked_example import worked_example  # noqa: F401 - the fixture

D = 0.007974140428903764
TILE_METRICS = ("customer_equity", "clv", "customers_end", "retention_rate", "acquisition_equity",
                "retention_equity", "cac", "clv_to_cac")
NUMBER = re.compile(r"−?\d[\d,]*(?:\.\d+)?…?")


def shown_number(text: str) -> tuple[Fraction, int, bool]:
    """(value, decimals, cut off) of a number as a reader sees it: −1,234.56…"""
    cut = text.endswith("…")
    plain = text.rstrip("…").replace(",", "").replace("−", "-")
    decimals = len(plain.split(".")[1]) if "." in plain else 0
    return Fraction(Decimal(plain)), decimals, cut


def calculator(expression: str) -> Fraction:
    """Evaluate `2,926 × 1,001.98… − (1 + 0.1)^(1/12)` as a calculator with enough digits would."""
    tokens = re.findall(r"\d[\d,]*(?:\.\d+)?…?|[()+\-−×/^]", expression)
    assert "".join(tokens) == re.sub(r"\s+", "", expression), expression
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        position += 1
        return tokens[position - 1]

    def atom() -> Fraction:
        token = take()
        if token in ("-", "−"):
            return -atom()
        if token == "(":
            value = sum_()
            assert take() == ")"
            return value
        return shown_number(token)[0]

    def power() -> Fraction:
        base = atom()
        if peek() == "^":
            take()
            exponent = atom()
            with localcontext() as ctx:
                ctx.prec = 60
                return Fraction(_decimal(base) ** _decimal(exponent))
        return base

    def product() -> Fraction:
        value = power()
        while peek() in ("×", "/"):
            op = take()
            right = power()
            value = value * right if op == "×" else value / right
        return value

    def sum_() -> Fraction:
        value = product()
        while peek() in ("+", "-", "−"):
            op = take()
            right = product()
            value = value + right if op == "+" else value - right
        return value

    result = sum_()
    assert position == len(tokens), expression
    return Fraction(result)


def _decimal(value: Fraction) -> Decimal:
    fraction = Fraction(value)
    with localcontext() as ctx:
        ctx.prec = 60
        return Decimal(fraction.numerator) / Decimal(fraction.denominator)


def shows_as(value: Fraction, shown: str) -> bool:
    target, decimals, cut = shown_number(shown)
    step = Decimal(1).scaleb(-decimals)
    got = _decimal(value).quantize(step, rounding=ROUND_DOWN if cut else ROUND_HALF_UP)
    return Fraction(got) == target


def assert_line_adds_up(line: dict[str, Any]) -> None:
    text = line["text"]
    if line["kind"] == "numbers":
        assert text.startswith("= "), text
        expression, result = text[2:].rsplit(" = ", 1)
        assert shows_as(calculator(expression), result), text
    elif line["kind"] == "rounding":
        before, after = NUMBER.findall(text)[:2]
        assert shows_as(shown_number(before)[0], after), text
    assert line_reproduces(line), text  # and the module's own check agrees


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
    lines = {metric: [line["text"] for line in step["lines"]] for metric, step in steps.items()}
    assert lines["retention_rate"][1].startswith("= 4 / 6 = 0.6666")
    assert steps["retention_rate"]["value"] == pytest.approx(2 / 3, abs=1e-12)
    assert steps["monthly_discount_rate"]["value"] == pytest.approx(D, abs=1e-15)
    assert lines["monthly_discount_rate"][1].startswith("= (1 + 0.1)^(1/12) − 1 = 0.0079")
    # m = 13 / 6 = 2.1666..., stored rounded to 2.17; the CLV uses the unrounded m.
    assert lines["margin_per_customer"][1].startswith("= 13.00 / 6 = 2.1666")
    assert lines["margin_per_customer"][2].startswith("2.1666") and "→ 2.17" in lines["margin_per_customer"][2]
    assert steps["clv"]["formula"] == "CLV = m × r / (1 + d − r)"
    assert steps["clv"]["value"] == 4.23  # stored, rounded: (13/6) x (2/3) / (1 + D - 2/3) = 4.2320914...
    assert lines["clv"][1].endswith(" = 4.23") and lines["clv"][2].startswith("4.232")
    # Equity: the unrounded CLV x 3 = 12.696... -> 12.70 (4.23 x 3 would be 12.69).
    assert re.fullmatch(r"= 4\.232\d*… × 3 = 12\.70", lines["customer_equity"][1]), lines["customer_equity"][1]
    assert steps["cac"]["value"] is None and steps["acquisition_equity"]["value"] == -50.0
    assert lines["acquisition_equity"][1].endswith(" − 50.00 = −50.00")
    assert steps["cac"]["lines"][-1]["kind"] == "note"
    for step in explained["steps"]:
        assert set(step) == {"metric", "label", "formula", "lines", "value", "display"}
        for line in step["lines"]:
            assert_line_adds_up(line)


def test_an_assumed_retention_says_why(worked_example: None) -> None:  # noqa: F811
    snapshot = MonthlySnapshot.objects.get(scope_dimension="company", month="2024-01-01")
    steps = {s["metric"]: s for s in snapshot_explain(snapshot=snapshot)["steps"]}
    assert "Warm-up: retention is measured from 2 months after the first month" in steps["retention_rate"]["lines"][-1]["text"]


def test_every_tile_has_its_own_step(worked_example: None) -> None:  # noqa: F811
    snapshot = MonthlySnapshot.objects.get(scope_dimension="company", month="2024-03-01")
    metrics = [s["metric"] for s in snapshot_explain(snapshot=snapshot)["steps"]]
    assert set(TILE_METRICS) <= set(metrics)
    assert len(metrics) == len(set(metrics))


def test_labels_follow_the_active_language(worked_example: None) -> None:  # noqa: F811
    snapshot = MonthlySnapshot.objects.get(scope_dimension="company", month="2024-04-01")
    with translation.override("zh-hans"):
        steps = {s["metric"]: s for s in snapshot_explain(snapshot=snapshot)["steps"]}
    assert steps["clv"]["label"] != "Customer lifetime value" and "价值" in steps["clv"]["label"]
    assert "分" in steps["clv"]["lines"][2]["text"]


def test_the_calculator_of_this_test_catches_a_line_that_does_not_add_up() -> None:
    # The line the issue quotes: the rounded CLV times the customers is not the stored equity.
    wrong: dict[str, Any] = {"kind": "numbers", "text": "= 1,001.99 × 2,926 = 2,931,809.81",
             "parts": [{"text": "1,001.99", "num": True}]}
    right: dict[str, Any] = {"kind": "numbers", "text": "= 1,001.99 × 2,926 = 2,931,822.74",
             "parts": [{"text": "1,001.99", "num": True}]}
    assert not shows_as(calculator("1,001.99 × 2,926"), "2,931,809.81")
    assert not line_reproduces(wrong)
    assert_line_adds_up(right)
    cut: dict[str, Any] = {"kind": "numbers", "text": "= 13.00 / 6 = 2.1666…", "parts": []}
    assert_line_adds_up(cut)
    assert not shows_as(calculator("13.00 / 6"), "2.1667…")  # cut off, not rounded


@pytest.mark.parametrize("seed", [11, 23, 47])
def test_every_line_of_every_step_adds_up_on_randomised_data(db: None, settings: Any, seed: int) -> None:
    """Random demo businesses under random assumptions: every line of every step of every
    snapshot (company and segments, every month) reproduces, in both languages."""
    settings.CLV_FIT_AFTER_RECOMPUTE = False
    rng = random.Random(seed)
    demo_seed(customers=rng.randint(60, 160), months=rng.randint(14, 22), seed=seed)
    assumptions_record(
        user=None, note="randomised", recompute=False,
        annual_discount_rate=Decimal(rng.randint(10, 2500)) / 10000,
        activity_window_months=rng.randint(2, 9), smoothing_window_months=rng.randint(1, 12),
        retention_source=rng.choice(["measured", "measured", "assumed"]),
        assumed_monthly_retention=Decimal(rng.randint(500000, 985000)) / 1000000,
        default_gross_margin_rate=Decimal(rng.randint(5, 60)) / 100,
    )
    snapshots_recompute(trigger="test")
    snapshots = list(MonthlySnapshot.objects.select_related("assumption_set"))
    assert len(snapshots) > 40
    checked = 0
    for snapshot in rng.sample(snapshots, 40):
        for language in ("en", "zh-hans"):
            with translation.override(language):
                explained = snapshot_explain(snapshot=snapshot)
            steps = {s["metric"]: s for s in explained["steps"]}
            assert set(TILE_METRICS) <= set(steps)
            for step in explained["steps"]:
                for line in step["lines"]:
                    assert_line_adds_up(line)
                    checked += line["kind"] in ("numbers", "rounding")
            # The shown results are the stored figures.
            assert steps["customer_equity"]["display"] == f"{snapshot.customer_equity:,.2f}".replace("-", "−")
            assert steps["clv"]["display"] == f"{snapshot.clv:,.2f}".replace("-", "−")
    assert checked > 40 * 2 * 8
