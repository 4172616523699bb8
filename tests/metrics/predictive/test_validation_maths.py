"""The holdout validation on the CDNOW sample (calibration = the first 39 weeks, to 1997-09-30;
holdout = weeks 40-78, to 1998-06-30), checked against the actuals counted by hand from the raw
file and the models' own functions, and the published shape of BG/NBD's errors there: the
holdout total under-predicted by about 12%, customers with 1-2 calibration repeat purchases by
about 25%, cumulative repeat purchases tracked within about 4% over weeks 40-78."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.special import hyp2f1

from metrics.predictive.maths import bgnbd_conditional_expected_purchases, bgnbd_fit, clv_score, gamma_gamma_fit
from metrics.predictive.maths.bgnbd import bgnbd_unconditional_expected_purchases
from metrics.predictive.maths.gammagamma import gamma_gamma_expected_spend
from metrics.predictive.maths.purchase_models import (
    PurchaseModel,
    purchase_model_conditional_expected,
    purchase_model_fit,
    purchase_model_unconditional_expected,
)
from metrics.predictive.validation.maths import (
    ERROR_HOLDOUT_SHORT,
    ERROR_NO_REPEAT_BUYERS,
    ERROR_SPLIT_ORDER,
    MAX_FREQUENCY_GROUP,
    HoldoutError,
    ValidationReport,
    calibration_end_for,
    holdout_inputs_from_transactions,
    holdout_validate,
)
from tests.metrics.predictive.cdnow import CALIBRATION_END, SAMPLE, published_inputs_by_hand, sample_transactions

HOLDOUT_END = dt.date(1998, 6, 30)


def _holdout_by_hand() -> tuple[dict[int, int], dict[int, float], dict[dt.date, int]]:
    """Per customer: distinct purchase days after the first 39 weeks up to the holdout end, and
    their summed value; and per day, how many customers made a repeat purchase that day."""
    days: dict[int, dict[dt.date, float]] = {}
    for line in SAMPLE.read_text().splitlines():
        if not line.strip():
            continue
        _, customer, date, _, value = line.split()
        day = dt.date(int(date[:4]), int(date[4:6]), int(date[6:]))
        per_day = days.setdefault(int(customer), {})
        per_day[day] = per_day.get(day, 0.0) + float(value)
    counts: dict[int, int] = {}
    revenue: dict[int, float] = {}
    repeat_on: dict[dt.date, int] = {}
    for customer_id, per_day in days.items():
        held = [d for d in per_day if CALIBRATION_END < d <= HOLDOUT_END]
        counts[customer_id] = len(held)
        revenue[customer_id] = sum(per_day[d] for d in held)
        for d in sorted(per_day)[1:]:
            repeat_on[d] = repeat_on.get(d, 0) + 1
    return counts, revenue, repeat_on


@pytest.fixture(scope="module")
def report() -> ValidationReport:
    inputs = holdout_inputs_from_transactions(sample_transactions(), calibration_end=CALIBRATION_END,
                                              holdout_end=HOLDOUT_END)
    return holdout_validate(inputs)


@pytest.fixture(scope="module")
def by_hand() -> pd.DataFrame:
    counts, revenue, _ = _holdout_by_hand()
    rows = published_inputs_by_hand()
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=["x", "t_x", "T", "m"]).sort_index()
    frame["holdout"] = [counts[c] for c in frame.index]
    frame["holdout_revenue"] = [revenue[c] for c in frame.index]
    return frame


def test_the_holdout_actuals_are_the_distinct_purchase_days_after_week_39(report: ValidationReport,
                                                                          by_hand: pd.DataFrame) -> None:
    assert report.customers == 2357 and report.repeat_customers == 946
    assert report.holdout_weeks == 39
    assert report.total_actual == by_hand["holdout"].sum()
    group = np.minimum(by_hand["x"], MAX_FREQUENCY_GROUP)
    means = by_hand.groupby(group)["holdout"].agg(["size", "mean"])
    assert [(k, n) for k, n, _ in report.by_frequency_actual] == list(zip(means.index, means["size"], strict=True))
    for (_k, _n, actual), expected in zip(report.by_frequency_actual, means["mean"], strict=True):
        assert actual == pytest.approx(expected, rel=1e-12)


def test_bgnbd_predicts_each_customers_holdout_with_its_conditional_expectation(report: ValidationReport,
                                                                                 by_hand: pd.DataFrame) -> None:
    check = report.check(PurchaseModel.BGNBD)
    assert check is not None and check.ok and check.fitted is not None
    fit = bgnbd_fit(by_hand["x"], by_hand["t_x"], by_hand["T"])
    assert check.fitted.params.as_tuple() == pytest.approx(fit.params.as_tuple(), rel=1e-9)
    predicted = bgnbd_conditional_expected_purchases(fit.params, 39.0, by_hand["x"], by_hand["t_x"], by_hand["T"])
    actual = by_hand["holdout"].to_numpy(dtype=float)
    assert check.total_predicted == pytest.approx(predicted.sum(), rel=1e-9)
    assert check.mae == pytest.approx(np.abs(predicted - actual).mean(), rel=1e-9)
    assert check.rmse == pytest.approx(np.sqrt(((predicted - actual) ** 2).mean()), rel=1e-9)
    group = np.minimum(by_hand["x"].to_numpy(), MAX_FREQUENCY_GROUP)
    for row in check.by_frequency:
        assert row.predicted_mean == pytest.approx(predicted[group == row.frequency].mean(), rel=1e-9)
        assert row.actual_mean == pytest.approx(actual[group == row.frequency].mean(), rel=1e-12)
    # The in-holdout cumulative curve ends at the same total.
    assert check.holdout_predicted[-1] == pytest.approx(check.total_predicted, rel=1e-9)


def test_bgnbd_under_predicts_the_cdnow_holdout_as_published(report: ValidationReport) -> None:
    check = report.check(PurchaseModel.BGNBD)
    assert check is not None and check.pct_error is not None
    assert check.pct_error == pytest.approx(-0.12, abs=0.01)
    rows = {r.frequency: r for r in check.by_frequency}
    for x in (1, 2):
        shortfall = 1.0 - rows[x].predicted_mean / rows[x].actual_mean
        assert 0.2 < shortfall < 0.3, (x, shortfall)
    # Customers without calibration repeat purchases are predicted within 10%.
    assert rows[0].predicted_mean == pytest.approx(rows[0].actual_mean, rel=0.1)


def test_the_tracking_plot_counts_cumulative_repeat_purchases_week_by_week(report: ValidationReport,
                                                                            by_hand: pd.DataFrame) -> None:
    _, _, repeat_on = _holdout_by_hand()
    assert len(report.week_ends) == 78 and report.first_holdout_week == 39
    assert report.week_ends[38] == CALIBRATION_END and report.week_ends[-1] == HOLDOUT_END
    for k, end in enumerate(report.week_ends):
        assert report.tracking_actual[k] == sum(n for d, n in repeat_on.items() if d <= end), end
    assert report.tracking_actual[38] == by_hand["x"].sum()
    assert report.tracking_actual[-1] == by_hand["x"].sum() + by_hand["holdout"].sum()


def test_bgnbd_tracks_cumulative_repeat_purchases_within_five_percent_over_weeks_40_to_78(
    report: ValidationReport, by_hand: pd.DataFrame,
) -> None:
    check = report.check(PurchaseModel.BGNBD)
    assert check is not None and check.fitted is not None
    first = sample_transactions().groupby("customer_id")["order_date"].min().sort_index()
    origin = min(first)
    for k in (0, 38, 60, 77):
        end = report.week_ends[k]
        horizon = np.array([max((end - f).days, 0) / 7 for f in first])
        expected = bgnbd_unconditional_expected_purchases(check.fitted.params, horizon).sum()  # type: ignore[arg-type]
        assert check.tracking_predicted[k] == pytest.approx(expected, rel=1e-9), k
    assert origin == dt.date(1997, 1, 1)
    actual = np.array(report.tracking_actual[39:])
    predicted = np.array(check.tracking_predicted[39:])
    assert np.abs(predicted / actual - 1.0).max() < 0.05


def test_every_model_is_checked_and_the_lowest_rmse_is_best(report: ValidationReport) -> None:
    assert [m.model for m in report.models] == [PurchaseModel.BGNBD, PurchaseModel.MBGNBD, PurchaseModel.PARETO_NBD]
    assert all(m.ok for m in report.models)
    ranked = sorted(report.models, key=lambda m: m.rmse)
    assert report.best == ranked[0].model
    assert report.margin == pytest.approx((ranked[1].rmse - ranked[0].rmse) / ranked[0].rmse)
    for m in report.models:
        assert m.pct_error == pytest.approx((m.total_predicted - report.total_actual) / report.total_actual)


def test_gamma_gamma_predicts_the_spend_per_holdout_purchase(report: ValidationReport, by_hand: pd.DataFrame) -> None:
    spend = report.spend
    assert spend is not None and spend.params is not None
    fit = gamma_gamma_fit(by_hand["x"], by_hand["m"])
    bought = by_hand[by_hand["holdout"] > 0]
    predicted = gamma_gamma_expected_spend(fit.params, bought["x"], bought["m"])
    actual = bought["holdout_revenue"] / bought["holdout"]
    assert spend.customers == len(bought)
    assert spend.actual_mean == pytest.approx(actual.mean(), rel=1e-9)
    assert spend.predicted_mean == pytest.approx(np.mean(predicted), rel=1e-6)
    assert spend.total_actual == pytest.approx(bought["holdout_revenue"].sum(), rel=1e-12)
    assert spend.total_predicted == pytest.approx(float(np.dot(predicted, bought["holdout"])), rel=1e-6)
    assert spend.mae == pytest.approx(np.abs(predicted - actual).mean(), rel=1e-6)


def test_a_split_without_room_for_a_holdout_is_refused() -> None:
    frame = sample_transactions()
    with pytest.raises(HoldoutError) as order:
        holdout_inputs_from_transactions(frame, calibration_end=HOLDOUT_END, holdout_end=CALIBRATION_END)
    assert order.value.message.template == ERROR_SPLIT_ORDER
    with pytest.raises(HoldoutError) as short:
        holdout_inputs_from_transactions(frame, calibration_end=CALIBRATION_END,
                                         holdout_end=CALIBRATION_END + dt.timedelta(days=6))
    assert short.value.message.template == ERROR_HOLDOUT_SHORT
    # On 1997-01-01 the first customers had bought once only.
    with pytest.raises(HoldoutError) as none:
        holdout_inputs_from_transactions(frame, calibration_end=dt.date(1997, 1, 1), holdout_end=HOLDOUT_END)
    assert none.value.message.template == ERROR_NO_REPEAT_BUYERS


def test_the_calibration_end_holds_out_the_last_share_of_the_history() -> None:
    assert calibration_end_for(first_day=dt.date(2024, 1, 1), last_day=dt.date(2024, 12, 31),
                               holdout_share=0.25) == dt.date(2024, 10, 1)
    assert calibration_end_for(first_day=dt.date(2024, 1, 1), last_day=dt.date(2024, 1, 5),
                               holdout_share=0.5) == dt.date(2024, 1, 3)


@pytest.mark.parametrize("model", list(PurchaseModel))
def test_each_models_unconditional_expectation_is_its_closed_form(model: PurchaseModel,
                                                                  by_hand: pd.DataFrame) -> None:
    fitted = purchase_model_fit(model, by_hand["x"], by_hand["t_x"], by_hand["T"])
    t = np.array([0.5, 5.0, 39.0, 78.0])
    got = purchase_model_unconditional_expected(fitted, t)
    p = fitted.params_dict()
    if model is PurchaseModel.BGNBD:
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        z = t / (alpha + t)
        closed = (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b, a + b - 1, z))
    elif model is PurchaseModel.MBGNBD:
        # Batislam, Denizel & Filiztekin (2007): E[X(t)] = b / (a - 1) [1 - (alpha / (alpha + t))^r 2F1(r, b + 1; a + b; z)].
        r, alpha, a, b = p["r"], p["alpha"], p["a"], p["b"]
        z = t / (alpha + t)
        closed = b / (a - 1) * (1 - (alpha / (alpha + t)) ** r * hyp2f1(r, b + 1, a + b, z))
    else:
        r, alpha, s, beta = p["r"], p["alpha"], p["s"], p["beta"]
        closed = r * beta / (alpha * (s - 1)) * (1 - (beta / (beta + t)) ** (s - 1))
    assert got == pytest.approx(closed, rel=1e-9)


def test_scoring_through_a_fitted_model_equals_scoring_by_the_bgnbd_parameters(by_hand: pd.DataFrame) -> None:
    fitted = purchase_model_fit(PurchaseModel.BGNBD, by_hand["x"], by_hand["t_x"], by_hand["T"])
    spend = gamma_gamma_fit(by_hand["x"], by_hand["m"]).params
    common = {"gamma_gamma": spend, "frequency": by_hand["x"], "recency": by_hand["t_x"], "age": by_hand["T"],
              "monetary_value": by_hand["m"], "margin_rate": np.full(len(by_hand), 0.3), "horizon_months": 12, "monthly_discount": 0.01}
    by_params = clv_score(bgnbd=fitted.params, **common)  # type: ignore[arg-type]
    by_model = clv_score(purchase_model=fitted, **common)  # type: ignore[arg-type]
    assert np.array_equal(by_params.predicted_clv, by_model.predicted_clv)
    with pytest.raises(ValueError):
        clv_score(**common)  # type: ignore[arg-type]


@pytest.mark.parametrize("model", [PurchaseModel.MBGNBD, PurchaseModel.PARETO_NBD])
def test_scoring_another_model_uses_its_own_expected_purchases(model: PurchaseModel, by_hand: pd.DataFrame) -> None:
    fitted = purchase_model_fit(model, by_hand["x"], by_hand["t_x"], by_hand["T"])
    spend = gamma_gamma_fit(by_hand["x"], by_hand["m"]).params
    scores = clv_score(purchase_model=fitted, gamma_gamma=spend, frequency=by_hand["x"], recency=by_hand["t_x"],
                       age=by_hand["T"], monetary_value=by_hand["m"], margin_rate=np.full(len(by_hand), 0.3), horizon_months=12,
                       monthly_discount=0.0)
    year = 12 * 365.25 / 12 / 7
    expected = purchase_model_conditional_expected(fitted, year, by_hand["x"], by_hand["t_x"], by_hand["T"])
    assert scores.expected_purchases_12m == pytest.approx(expected, rel=1e-9)
    # Undiscounted, the 12 monthly increments add up to the 12-month expectation.
    assert scores.discounted_purchases == pytest.approx(expected, rel=1e-9)
    assert scores.predicted_clv == pytest.approx(expected * scores.expected_spend * 0.3, rel=1e-9)
