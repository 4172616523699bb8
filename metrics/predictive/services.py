"""Writes of the predictive area: fit the models and store every customer's prediction.

clv_models_fit:
1. Records a PredictiveFit (running) with the assumptions in force.
2. Reads the RFM summary up to the data date (the latest transaction, or the given end).
3. Chooses the model of repeat purchases: the one the assumptions (or the caller) name, or with
   `auto` the best on a holdout (`model_choose`: the last share of the history held out, each of
   BG/NBD, MBG/NBD and Pareto/NBD fitted on the rest, the lowest RMSE per customer on the
   holdout's repeat purchases wins); fits it on the whole history, and Gamma-Gamma for the spend.
   A fit the data cannot support is stored as failed with the reason, and the previous
   predictions stay in place.
4. Scores every customer at once (vectorised), with a 90% interval of each CLV from a parametric
   bootstrap of the parameters (maths/uncertainty.py) when both fits have standard errors,
   assigns tiers (maths/clv.py TierRules, the "new" tier by the assumptions' new-customer age), and
   replaces all CustomerPrediction rows in one transaction (COPY on PostgreSQL, bulk_create
   elsewhere), serialised by an advisory lock so two fits never interleave their rows.
"""

from __future__ import annotations

import datetime as dt
import io
import logging
import time
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import pandas as pd
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from metrics.calculations import month_index, monthly_discount_rate
from metrics.models import CustomerPrediction, PredictiveFit, PredictiveModel
from metrics.profitability.selectors import net_profit_for_tiers
from metrics.services import assumptions_ensure

from . import selectors
from .maths import (
    DAYS_PER_UNIT,
    Message,
    ModelFitError,
    TierRules,
    clv_score,
    gamma_gamma_fit,
    tiers_assign,
)
from .maths.purchase_models import MODEL_LABELS, PARAM_NAMES, FittedModel, PurchaseModel, purchase_model_fit
from .maths.uncertainty import TooManyHistories, clv_intervals_of_fit
from .validation.maths import ERROR_NO_MODEL, MODELS, HoldoutError, calibration_end_for, holdout_validate
from .validation.selectors import holdout_inputs_read, purchase_history_bounds

logger = logging.getLogger(__name__)

# Templates: stored with their values and translated where shown (PredictiveFit.message_shown).
ERROR_NO_TRANSACTIONS = gettext_noop("There are no transactions yet: import transactions, then fit the models.")
ERROR_NO_CUSTOMERS = gettext_noop("No customer has a purchase on or before {date}: nothing to fit.")
ERROR_INTERRUPTED = gettext_noop("Interrupted: the worker stopped before this fit finished.")
ERROR_NOT_FINITE = gettext_noop(
    "The scoring gave a value that is not a number for {count} customer(s); nothing was stored."
)
ERROR_UNEXPECTED = gettext_noop("Unexpected error: {error}")
MSG_TRIGGER = gettext_noop("trigger: {trigger}")
MSG_MODEL_CHOSEN = gettext_noop(
    "{model} chosen on the holdout from {calibration_end} to {holdout_end}: RMSE {rmse:.3f} repeat purchases per "
    "customer, {margin:.1%} below {runner_up}"
)
MSG_MODEL_ONLY = gettext_noop(
    "{model} chosen on the holdout from {calibration_end} to {holdout_end}: the only model that could be fitted"
)
MSG_MODEL_FALLBACK = gettext_noop("BG/NBD used: the models could not be compared on a holdout")
MSG_MODEL_REFIT_FAILED = gettext_noop("{model} failed on the whole history, {used} used instead")
WARNING_NO_INTERVALS = gettext_noop("The CLV intervals could not be computed ({error}); the predictions are shown without them.")
WARNING_NO_INTERVALS_WITHOUT_ERRORS = gettext_noop(
    "The CLV intervals could not be computed: a model has no standard errors (its information matrix is "
    "singular); the predictions are shown without them."
)
# The central share of the parametric bootstrap each customer's CLV interval covers.
CLV_INTERVAL_LEVEL = 0.90
WARNING_INTERVALS_TOO_MANY = gettext_noop(
    "The CLV intervals of {model} are computed for at most {limit} distinct customer histories; these data have "
    "{count}, so the predictions are shown without them (BG/NBD and MBG/NBD give intervals at any size)."
)
# Warnings that earlier releases stored on their fits and no longer give: kept marked for
# translation, so that the pages of those fits still show them in the reader's language.
RETIRED_WARNINGS = (
    gettext_noop(
        "The CLV intervals are computed for BG/NBD and Pareto/NBD; MBG/NBD made these predictions, which are shown "
        "without them (its bootstrap would take minutes)."
    ),
    gettext_noop(
        "The CLV intervals of {model} are computed for at most {limit} distinct customer histories; these data have "
        "{count}, so the predictions are shown without them (BG/NBD gives intervals at any size)."
    ),
)
# pg_advisory_xact_lock key of the prediction replace ("CLVP" in ASCII).
_LOCK_KEY = 0x434C5650
_CENT = Decimal("0.01")


def _money(value: float) -> Decimal:
    return Decimal(repr(float(value))).quantize(_CENT, rounding=ROUND_HALF_UP)


def clv_models_fit(*, trigger: str, observation_end: dt.date | None = None, model: str | None = None) -> PredictiveFit:
    """Fit, score and store; returns the PredictiveFit (status succeeded or failed). `model`
    (auto, bgnbd, mbgnbd or pareto_nbd) overrides the assumption in force."""
    started = time.perf_counter()
    PredictiveFit.objects.filter(
        status=PredictiveFit.Status.RUNNING, started_at__lt=selectors.fit_stale_before()
    ).update(status=PredictiveFit.Status.FAILED, message=ERROR_INTERRUPTED,
             message_parts=[Message(ERROR_INTERRUPTED).as_dict()])
    # With no assumptions recorded yet, the defaults of METRICS.md (version 1) are in force.
    assumption_set = assumptions_ensure()
    requested = PredictiveModel(model or assumption_set.predictive_model)
    fit = PredictiveFit.objects.create(status=PredictiveFit.Status.RUNNING, assumption_set=assumption_set,
                                       model_requested=requested)
    try:
        data_date = observation_end or selectors.transactions_data_date()
        if data_date is None:
            raise ModelFitError(ERROR_NO_TRANSACTIONS)
        fit.data_date = data_date
        margin_rate = float(assumption_set.default_gross_margin_rate)
        summary = selectors.rfm_summary_frame(observation_end=data_date, default_margin_rate=margin_rate)
        if summary.empty:
            raise ModelFitError(ERROR_NO_CUSTOMERS, date=data_date.isoformat())
        fit.n_customers = len(summary)
        fit.n_repeat_customers = int((summary["frequency"] > 0).sum())
        if requested == PredictiveModel.AUTO:
            choice = model_choose(data_date=data_date, default_margin_rate=margin_rate,
                                  holdout_share=float(assumption_set.model_holdout_share))
            ranking, choice_notes, fit.model_selection = choice.ranking, choice.notes, choice.selection
        else:
            ranking, choice_notes = [PurchaseModel(requested.value)], []
        purchases, refit_notes = _fit_first(ranking, summary)
        fit.model = purchases.model.value
        fit.model_params = purchases.params_dict()
        fit.model_log_likelihood = purchases.log_likelihood
        if purchases.model is PurchaseModel.BGNBD:
            fit.bgnbd_r, fit.bgnbd_alpha, fit.bgnbd_a, fit.bgnbd_b = purchases.params.as_tuple()
            fit.bgnbd_log_likelihood = purchases.log_likelihood
        spend = gamma_gamma_fit(summary["frequency"], summary["monetary_value"])
        fit.gg_p, fit.gg_q, fit.gg_gamma = spend.params.p, spend.params.q, spend.params.gamma
        fit.gg_log_likelihood = spend.log_likelihood
        fit.standard_errors = _standard_errors(purchases, spend.standard_errors)
        inputs = {
            "frequency": summary["frequency"], "recency": summary["recency"], "age": summary["T"],
            "monetary_value": summary["monetary_value"], "margin_rate": summary["margin_rate"],
            "horizon_months": int(assumption_set.prediction_horizon_months),
            "monthly_discount": monthly_discount_rate(float(assumption_set.annual_discount_rate)),
        }
        scores = clv_score(purchase_model=purchases, gamma_gamma=spend.params, **inputs)
        intervals = None
        interval_note = None
        if purchases.log_covariance is not None and spend.log_covariance is not None:
            try:
                intervals = clv_intervals_of_fit(
                    purchase_model=purchases, gamma_gamma=spend.params,
                    gamma_gamma_log_covariance=spend.log_covariance, level=CLV_INTERVAL_LEVEL, **inputs,
                )
                fit.clv_interval_level = intervals.level
            except TooManyHistories as many:
                interval_note = Message(WARNING_INTERVALS_TOO_MANY, {
                    "model": purchases.label, "limit": f"{many.limit:,}", "count": f"{many.count:,}"})
            except (ModelFitError, MemoryError, FloatingPointError) as error:
                # The predictions stand without their interval; the page says why.
                interval_note = Message(WARNING_NO_INTERVALS, {"error": str(error)})
                logger.warning("CLV intervals of fit #%s not computed: %s", fit.pk, error)
        else:
            interval_note = Message(WARNING_NO_INTERVALS_WITHOUT_ERRORS)
        result = pd.DataFrame(
            {
                "p_alive": scores.p_alive,
                "expected_purchases_12m": scores.expected_purchases_12m,
                "expected_spend": scores.expected_spend,
                "predicted_clv": scores.predicted_clv,
                "historic_margin": summary["historic_margin"].to_numpy(),
            },
            index=summary.index,
        )
        # Stored as NULL when there is no interval (no standard errors) or a draw gave no number.
        nan = np.full(len(result), np.nan)
        result_intervals = pd.DataFrame({
            "clv_low": intervals.low if intervals is not None else nan,
            "clv_high": intervals.high if intervals is not None else nan,
        }, index=result.index)
        # T is whole days / 7: back to days for the "new" tier.
        age_days = np.round(summary["T"].to_numpy(dtype=float) * DAYS_PER_UNIT)
        del summary, scores
        bad = ~np.isfinite(result.to_numpy()).all(axis=1)
        if bad.any():
            raise ModelFitError(ERROR_NOT_FINITE, count=int(bad.sum()))
        result = result.join(result_intervals.where(np.isfinite(result_intervals)))
        net_profit = net_profit_for_tiers(month=month_index(data_date))
        result["tier"] = tiers_assign(
            predicted_clv=result["predicted_clv"], historic_margin=result["historic_margin"], p_alive=result["p_alive"],
            net_profit=None if net_profit is None else net_profit.reindex(result.index).to_numpy(dtype=float),
            age_days=age_days, rules=TierRules(new_customer_days=int(assumption_set.new_customer_age_days)),
        )
        with transaction.atomic():
            predictions_replace(fit=fit, predictions=result)
            fit.status = PredictiveFit.Status.SUCCEEDED
            _message_set(fit, Message(MSG_TRIGGER, {"trigger": trigger}), *choice_notes, *refit_notes, purchases.note)
            fit.warnings = [m.as_dict() for m in (purchases.note, *purchases.warnings, *spend.warnings, interval_note)
                            if m is not None]
            _finish(fit, started)
    except ModelFitError as error:
        fit.status = PredictiveFit.Status.FAILED
        _message_set(fit, error.message)
        _finish(fit, started)
        logger.warning("CLV model fit #%s failed: %s", fit.pk, error)
    except Exception as error:
        fit.status = PredictiveFit.Status.FAILED
        _message_set(fit, Message(ERROR_UNEXPECTED, {"error": str(error)}))
        _finish(fit, started)
        raise
    return fit


@dataclass(frozen=True)
class ModelChoice:
    """The models in order of preference, why, and the record for PredictiveFit.model_selection."""

    ranking: list[PurchaseModel]
    notes: list[Message]
    selection: dict[str, Any]


def model_choose(*, data_date: dt.date, default_margin_rate: float, holdout_share: float) -> ModelChoice:
    """`auto`: hold out the last `holdout_share` of the purchase history, fit the three models on
    the rest and rank them by RMSE per customer on the holdout's repeat purchases. With a history
    too short to compare on (or no model fitted on the calibration period), BG/NBD, with a note."""
    first, _last = purchase_history_bounds()
    if first is None or first >= data_date:
        reason = Message(ERROR_NO_TRANSACTIONS)
        return _fallback(reason, {})
    calibration_end = calibration_end_for(first_day=first, last_day=data_date, holdout_share=holdout_share)
    split = {"calibration_end": calibration_end.isoformat(), "holdout_end": data_date.isoformat(),
             "holdout_share": holdout_share, "criterion": "rmse"}
    try:
        inputs = holdout_inputs_read(calibration_end=calibration_end, holdout_end=data_date,
                                     default_margin_rate=default_margin_rate)
    except HoldoutError as error:
        return _fallback(error.message, split)
    report = holdout_validate(inputs, tracking=False, spend=False)
    models = [{
        "model": m.model.value, "rmse": m.rmse if m.ok else None, "mae": m.mae if m.ok else None,
        "total_predicted": m.total_predicted if m.ok else None, "pct_error": m.pct_error if m.ok else None,
        "error": m.error.as_dict() if m.error else None,
    } for m in report.models]
    ranked = sorted((m for m in report.models if m.ok), key=lambda m: m.rmse)
    if not ranked:
        return _fallback(Message(ERROR_NO_MODEL), split)
    selection = {**split, "customers": report.customers, "total_actual": report.total_actual, "models": models,
                 "winner": ranked[0].model.value, "margin": report.margin}
    params = {"model": MODEL_LABELS[ranked[0].model], "calibration_end": split["calibration_end"],
              "holdout_end": split["holdout_end"], "rmse": ranked[0].rmse}
    if len(ranked) > 1:
        note = Message(MSG_MODEL_CHOSEN, {**params, "margin": report.margin or 0.0,
                                          "runner_up": MODEL_LABELS[ranked[1].model]})
    else:
        note = Message(MSG_MODEL_ONLY, params)
    rest = [m for m in MODELS if m not in {c.model for c in ranked}]
    return ModelChoice(ranking=[m.model for m in ranked] + rest, notes=[note], selection=selection)


def _fallback(reason: Message, split: dict[str, Any]) -> ModelChoice:
    selection = {**split, "winner": PurchaseModel.BGNBD.value, "fallback": reason.as_dict()}
    return ModelChoice(ranking=[PurchaseModel.BGNBD], notes=[Message(MSG_MODEL_FALLBACK), reason], selection=selection)


def _fit_first(ranking: list[PurchaseModel], summary: pd.DataFrame) -> tuple[FittedModel, list[Message]]:
    """Fit the first model of the ranking that the whole history supports (the error of the
    first is raised when none does), with a note for each one passed over."""
    first_error: ModelFitError | None = None
    notes: list[Message] = []
    for candidate in ranking:
        try:
            fitted = purchase_model_fit(candidate, summary["frequency"], summary["recency"], summary["T"])
        except ModelFitError as error:
            first_error = first_error or error
            continue
        if candidate is not ranking[0]:
            notes.append(Message(MSG_MODEL_REFIT_FAILED, {"model": MODEL_LABELS[ranking[0]],
                                                          "used": MODEL_LABELS[candidate]}))
        return fitted, notes
    assert first_error is not None
    raise first_error


def _standard_errors(purchases: FittedModel, spend: tuple[float, ...] | None) -> dict[str, dict[str, float]]:
    """The standard errors of the purchase model's parameters (under its name) and Gamma-Gamma's."""
    out: dict[str, dict[str, float]] = {}
    if purchases.standard_errors is not None:
        out[purchases.model.value] = dict(zip(PARAM_NAMES[purchases.model], purchases.standard_errors, strict=True))
    if spend is not None:
        out["gamma_gamma"] = dict(zip(("p", "q", "gamma"), spend, strict=True))
    return out


def _message_set(fit: PredictiveFit, *messages: Message | None) -> None:
    """The English text, and the parts the pages translate."""
    present = [m for m in messages if m is not None]
    fit.message = "; ".join(str(m) for m in present)
    fit.message_parts = [m.as_dict() for m in present]


def _finish(fit: PredictiveFit, started: float) -> None:
    fit.finished_at = timezone.now()
    fit.duration_seconds = time.perf_counter() - started
    fit.save()


def _column(predictions: pd.DataFrame, name: str) -> np.ndarray:
    """A float column of the predictions, NaN throughout when absent (no interval)."""
    if name not in predictions:
        return np.full(len(predictions), np.nan)
    return predictions[name].to_numpy(dtype=float)


def predictions_replace(*, fit: PredictiveFit, predictions: pd.DataFrame) -> int:
    """Replace every stored prediction by these (index: customer id). Call inside a transaction."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
    CustomerPrediction.objects.all().delete()
    if connection.vendor == "postgresql":
        # The whole table as one CSV written by pandas (no Python loop over the rows), then COPY.
        frame = pd.DataFrame({
            "customer_id": predictions.index.to_numpy(dtype=np.int64),
            "fit_id": fit.pk,
            "p_alive": predictions["p_alive"].to_numpy(dtype=float),
            "expected_purchases_12m": predictions["expected_purchases_12m"].to_numpy(dtype=float),
            "expected_spend": np.round(predictions["expected_spend"].to_numpy(dtype=float), 2),
            "predicted_clv": np.round(predictions["predicted_clv"].to_numpy(dtype=float), 2),
            "historic_margin": np.round(predictions["historic_margin"].to_numpy(dtype=float), 2),
            "tier": predictions["tier"].to_numpy(),
            "clv_low": np.round(_column(predictions, "clv_low"), 2),
            "clv_high": np.round(_column(predictions, "clv_high"), 2),
        })
        # Bytes, not a StringIO: a str buffer holds 4 bytes per character while it grows.
        buffer = io.BytesIO()
        # 15 significant digits: exact cents below 10^13, and twice as fast as the shortest repr.
        frame.to_csv(buffer, header=False, index=False, encoding="utf-8", float_format="%.15g")
        del frame
        buffer.seek(0)
        with connection.cursor() as cursor:
            cursor.copy_expert(
                "COPY metrics_customerprediction (customer_id, fit_id, p_alive, expected_purchases_12m, "
                "expected_spend, predicted_clv, historic_margin, tier, clv_low, clv_high) FROM STDIN WITH (FORMAT csv)",
                buffer,
            )
        return len(predictions)
    # SQLite (the demo): plain batched inserts.
    rows = zip(
        predictions.index.to_numpy(), predictions["p_alive"].to_numpy(), predictions["expected_purchases_12m"].to_numpy(),
        predictions["expected_spend"].to_numpy(), predictions["predicted_clv"].to_numpy(),
        predictions["historic_margin"].to_numpy(), predictions["tier"].to_numpy(), _column(predictions, "clv_low"),
        _column(predictions, "clv_high"), strict=True,
    )
    CustomerPrediction.objects.bulk_create(
        (
            CustomerPrediction(
                customer_id=int(customer_id), fit=fit, p_alive=float(p_alive),
                expected_purchases_12m=float(purchases), expected_spend=_money(spend),
                predicted_clv=_money(clv), historic_margin=_money(margin), tier=str(tier),
                clv_low=_money(low) if np.isfinite(low) else None, clv_high=_money(high) if np.isfinite(high) else None,
            )
            for customer_id, p_alive, purchases, spend, clv, margin, tier, low, high in rows
        ),
        batch_size=2000,
    )
    return len(predictions)
