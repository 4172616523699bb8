"""The Model check's figures formatted for the active language."""

from __future__ import annotations

from dataclasses import dataclass

from clv_dashboard.formatting import MISSING, format_money, format_percent
from metrics.predictive.presenters import format_count

from ..maths.purchase_models import MODEL_LABELS
from .charts import _frequency_label
from .maths import ModelCheck, ValidationReport


@dataclass(frozen=True)
class ModelRow:
    model: str
    label: str
    ok: bool
    best: bool
    error: str
    total_predicted: str
    pct_error: str
    mae: str
    rmse: str
    params: str
    log_likelihood: str


@dataclass(frozen=True)
class FrequencyCell:
    predicted: str
    pct_error: str


@dataclass(frozen=True)
class FrequencyRowShown:
    frequency: str
    customers: str
    actual: str
    models: list[FrequencyCell]


def _signed_percent(value: float | None) -> str:
    if value is None:
        return MISSING
    text = format_percent(value, decimals=1)
    return f"+{text}" if value > 0 else text


def _model_row(check: ModelCheck, best: bool) -> ModelRow:
    from clv_dashboard.messages import message_translate

    error = message_translate(str(check.error), [check.error.as_dict()]) if check.error else ""
    if not check.ok or check.fitted is None:
        return ModelRow(model=check.model.value, label=MODEL_LABELS[check.model], ok=False, best=False, error=error,
                        total_predicted=MISSING, pct_error=MISSING, mae=MISSING, rmse=MISSING, params="",
                        log_likelihood=MISSING)
    return ModelRow(
        model=check.model.value, label=MODEL_LABELS[check.model], ok=True, best=best, error="",
        total_predicted=format_count(check.total_predicted, 1), pct_error=_signed_percent(check.pct_error),
        mae=format_count(check.mae, 3), rmse=format_count(check.rmse, 3),
        params=", ".join(f"{k} = {format_count(v, 3)}" for k, v in check.fitted.params_dict().items()),
        log_likelihood=format_count(check.fitted.log_likelihood, 1),
    )


def model_rows(report: ValidationReport) -> list[ModelRow]:
    return [_model_row(m, m.model == report.best) for m in report.models]


def frequency_rows(report: ValidationReport) -> list[FrequencyRowShown]:
    rows = []
    for i, (k, n, actual) in enumerate(report.by_frequency_actual):
        cells = []
        for check in report.models:
            if not check.ok:
                cells.append(FrequencyCell(MISSING, MISSING))
                continue
            predicted = check.by_frequency[i].predicted_mean
            cells.append(FrequencyCell(format_count(predicted, 2),
                                       _signed_percent((predicted - actual) / actual if actual > 0 else None)))
        rows.append(FrequencyRowShown(frequency=_frequency_label(k), customers=format_count(n),
                                      actual=format_count(actual, 2), models=cells))
    return rows


@dataclass(frozen=True)
class SpendShown:
    customers: str
    actual_mean: str
    predicted_mean: str
    mae: str
    rmse: str
    total_actual: str
    total_predicted: str
    pct_error: str
    error: str


def spend_shown(report: ValidationReport) -> SpendShown | None:
    from clv_dashboard.messages import message_translate

    s = report.spend
    if s is None:
        return None
    error = message_translate(str(s.error), [s.error.as_dict()]) if s.error else ""
    if s.error or not s.customers:
        return SpendShown(customers=format_count(s.customers), actual_mean=MISSING, predicted_mean=MISSING, mae=MISSING,
                          rmse=MISSING, total_actual=MISSING, total_predicted=MISSING, pct_error=MISSING, error=error)
    return SpendShown(
        customers=format_count(s.customers), actual_mean=format_money(s.actual_mean),
        predicted_mean=format_money(s.predicted_mean), mae=format_money(s.mae), rmse=format_money(s.rmse),
        total_actual=format_money(s.total_actual, decimals=0), total_predicted=format_money(s.total_predicted, decimals=0),
        pct_error=_signed_percent(s.pct_error), error="",
    )
