from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.models import PredictiveFit, PredictiveModel
from metrics.predictive.maths.purchase_models import MODEL_LABELS, PARAM_NAMES, PurchaseModel
from metrics.predictive.selectors import predictions_by_tier
from metrics.predictive.services import clv_models_fit


def _with_errors(values: dict[str, float | None], names: tuple[str, ...], errors: dict[str, float] | None) -> str:
    """'name = value (SE se)' for each parameter, the standard error from the fit's Hessian."""
    parts = []
    for name in names:
        text = f"{name} = {float(values[name] or 0.0):.4f}"
        if errors and errors.get(name) is not None:
            text += f" (SE {errors[name]:.4f})"
        parts.append(text)
    return "  ".join(parts)


class Command(BaseCommand):
    help = ("Fit the model of repeat purchases (BG/NBD, MBG/NBD, Pareto/NBD, or the best of them on a holdout) "
            "and Gamma-Gamma now, store every customer's prediction and print the chosen model, its parameters with their standard errors and its log-likelihood.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--observation-end", type=dt.date.fromisoformat, default=None,
            help="last day of data to use, YYYY-MM-DD (default: the latest transaction)",
        )
        parser.add_argument(
            "--model", choices=PredictiveModel.values, default=None,
            help="the model of repeat purchases (default: the assumption in force; auto picks the best on a holdout)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fit = clv_models_fit(trigger="command", observation_end=options["observation_end"], model=options["model"])
        if fit.status != PredictiveFit.Status.SUCCEEDED:
            raise CommandError(f"Fit #{fit.pk} failed: {fit.message}")
        self.stdout.write(
            f"Fit #{fit.pk} on data to {fit.data_date:%Y-%m-%d}, assumptions v{fit.assumption_set.version if fit.assumption_set else '-'}: "
            f"{fit.n_customers} customers, {fit.n_repeat_customers} with repeat purchases, {fit.duration_seconds:.2f} s"
        )
        model = PurchaseModel(fit.model)
        how = "chosen on the holdout (auto)" if fit.model_requested == PredictiveModel.AUTO else "as asked"
        self.stdout.write(f"Model: {MODEL_LABELS[model]} ({model.value}), {how}")
        selection = fit.model_selection or {}
        if selection.get("models"):
            self.stdout.write(f"  holdout {selection['calibration_end']} to {selection['holdout_end']}, "
                              f"{selection['total_actual']:.0f} actual repeat purchases:")
            for row in selection["models"]:
                label = MODEL_LABELS[PurchaseModel(row["model"])]
                if row["rmse"] is None:
                    self.stdout.write(f"    {label:<11} not fitted: {row['error']['template']}")
                else:
                    mark = "  <- chosen" if row["model"] == fit.model else ""
                    self.stdout.write(f"    {label:<11} predicted {row['total_predicted']:10.1f}  "
                                      f"RMSE {row['rmse']:.4f}  MAE {row['mae']:.4f}{mark}")
        elif selection.get("fallback"):
            self.stdout.write(f"  {fit.message}")
        errors = fit.standard_errors or {}
        params = _with_errors(fit.model_params, PARAM_NAMES[model], errors.get(model.value))
        self.stdout.write(f"{MODEL_LABELS[model]:<12} {params}  log-likelihood = {fit.model_log_likelihood:.2f}")
        spend = _with_errors({"p": fit.gg_p, "q": fit.gg_q, "gamma": fit.gg_gamma}, ("p", "q", "gamma"),
                             errors.get("gamma_gamma"))
        self.stdout.write(f"Gamma-Gamma  {spend}  log-likelihood = {fit.gg_log_likelihood:.2f}")
        if not errors.get(model.value) or not errors.get("gamma_gamma"):
            self.stdout.write("  (no standard errors where none is shown: the information matrix is singular)")
        for row in predictions_by_tier():
            self.stdout.write(f"  {row.tier:<13} {row.customers:>9} customers  predicted CLV {row.predicted_clv:>16,.2f}")
