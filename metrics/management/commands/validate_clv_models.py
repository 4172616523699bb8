from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.predictive.maths.purchase_models import MODEL_LABELS, PurchaseModel
from metrics.predictive.validation.maths import (
    MAX_FREQUENCY_GROUP,
    MODELS,
    HoldoutError,
    ValidationReport,
    holdout_validate,
)
from metrics.predictive.validation.selectors import holdout_inputs_read, purchase_history_bounds
from metrics.services import assumptions_ensure

ERROR_NO_PURCHASES = "There are no purchases yet: import transactions first."


def report_as_dict(report: ValidationReport) -> dict[str, Any]:
    """The check as plain values: per model the holdout total, errors and the table by frequency."""
    models = []
    for check in report.models:
        entry: dict[str, Any] = {"model": check.model.value, "label": MODEL_LABELS[check.model]}
        if not check.ok or check.fitted is None:
            entry["error"] = str(check.error)
        else:
            entry |= {
                "params": check.fitted.params_dict(), "log_likelihood": check.fitted.log_likelihood,
                "total_actual": report.total_actual, "total_predicted": check.total_predicted,
                "pct_error": check.pct_error, "mae": check.mae, "rmse": check.rmse,
                "by_frequency": [{"frequency": r.frequency, "or_more": r.frequency == MAX_FREQUENCY_GROUP,
                                  "customers": r.customers, "actual_mean": r.actual_mean,
                                  "predicted_mean": r.predicted_mean} for r in check.by_frequency],
            }
        models.append(entry)
    spend = report.spend
    return {
        "calibration_end": report.calibration_end.isoformat(), "holdout_end": report.holdout_end.isoformat(),
        "holdout_weeks": report.holdout_weeks, "customers": report.customers,
        "repeat_customers": report.repeat_customers, "total_actual": report.total_actual,
        "best": report.best.value if report.best else None, "margin": report.margin, "models": models,
        "spend": None if spend is None else {
            "error": str(spend.error) if spend.error else None, "customers": spend.customers,
            "actual_mean": spend.actual_mean, "predicted_mean": spend.predicted_mean, "mae": spend.mae,
            "rmse": spend.rmse, "total_actual": spend.total_actual, "total_predicted": spend.total_predicted,
            "pct_error": spend.pct_error,
        },
    }


class Command(BaseCommand):
    help = ("Check the models of repeat purchases on a holdout: fit each on the purchases up to --calibration-end, "
            "predict the repeat purchases up to --holdout-end and print actual against predicted, in total and "
            "by the number of calibration repeat purchases.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--calibration-end", type=dt.date.fromisoformat, required=True,
                            help="last day of the calibration period, YYYY-MM-DD")
        parser.add_argument("--holdout-end", type=dt.date.fromisoformat, default=None,
                            help="last day of the holdout, YYYY-MM-DD (default: the latest purchase)")
        parser.add_argument("--model", action="append", choices=[m.value for m in MODELS], default=None,
                            help="a model to check (repeat for several; default: all three)")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        holdout_end = options["holdout_end"] or purchase_history_bounds()[1]
        if holdout_end is None:
            raise CommandError(ERROR_NO_PURCHASES)
        models = tuple(PurchaseModel(m) for m in options["model"]) if options["model"] else MODELS
        try:
            inputs = holdout_inputs_read(calibration_end=options["calibration_end"], holdout_end=holdout_end,
                                         default_margin_rate=float(assumptions_ensure().default_gross_margin_rate))
        except HoldoutError as error:
            raise CommandError(str(error)) from None
        report = holdout_validate(inputs, models=models, tracking=False)
        if options["format"] == "json":
            self.stdout.write(json.dumps(report_as_dict(report), indent=2))
            return
        self._text(report)

    def _text(self, report: ValidationReport) -> None:
        out = self.stdout.write
        out(f"Calibration to {report.calibration_end:%Y-%m-%d}, holdout to {report.holdout_end:%Y-%m-%d} "
            f"({report.holdout_weeks:.1f} weeks): {report.customers} customers, {report.repeat_customers} with "
            f"repeat purchases in the calibration period")
        out(f"Actual holdout repeat purchases: {report.total_actual:.0f}")
        for check in report.models:
            label = MODEL_LABELS[check.model]
            if not check.ok or check.fitted is None:
                out(f"\n{label}: not fitted: {check.error}")
                continue
            params = "  ".join(f"{k} = {v:.4f}" for k, v in check.fitted.params_dict().items())
            pct = f"{check.pct_error:+.1%}" if check.pct_error is not None else "-"
            best = "  (best)" if check.model == report.best else ""
            out(f"\n{label}{best}: {params}  log-likelihood = {check.fitted.log_likelihood:.2f}")
            out(f"  total: actual {report.total_actual:.0f}  predicted {check.total_predicted:.1f}  ({pct})  "
                f"MAE {check.mae:.4f}  RMSE {check.rmse:.4f}")
            out(f"  {'x':>4} {'customers':>10} {'actual':>10} {'predicted':>10}")
            for row in check.by_frequency:
                x = f"{row.frequency}+" if row.frequency == MAX_FREQUENCY_GROUP else str(row.frequency)
                out(f"  {x:>4} {row.customers:>10} {row.actual_mean:>10.3f} {row.predicted_mean:>10.3f}")
        spend = report.spend
        if spend is not None:
            if spend.error:
                out(f"\nGamma-Gamma: not fitted: {spend.error}")
            elif spend.customers:
                pct = f"{spend.pct_error:+.1%}" if spend.pct_error is not None else "-"
                out(f"\nGamma-Gamma spend per holdout purchase, {spend.customers} customers: actual mean "
                    f"{spend.actual_mean:.2f}, predicted mean {spend.predicted_mean:.2f}, MAE {spend.mae:.2f}, "
                    f"RMSE {spend.rmse:.2f}; holdout revenue {spend.total_actual:.2f} against "
                    f"{spend.total_predicted:.2f} ({pct})")
