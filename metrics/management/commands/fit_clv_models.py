from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.models import PredictiveFit, PredictiveModel
from metrics.predictive.maths.purchase_models import MODEL_LABELS, PARAM_NAMES, PurchaseModel
from metrics.predictive.selectors import predictions_by_tier
from metrics.predictive.services import clv_models_fit


class Command(BaseCommand):
    help = ("Fit the model of repeat purchases (BG/NBD, MBG/NBD, Pareto/NBD, or the best of them on a holdout) "
            "and Gamma-Gamma now, store every customer's prediction and print the chosen model and parameters.")

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
        params = "  ".join(f"{name} = {fit.model_params[name]:.4f}" for name in PARAM_NAMES[model])
        self.stdout.write(f"{MODEL_LABELS[model]:<12} {params}  log-likelihood = {fit.model_log_likelihood:.2f}")
        self.stdout.write(
            f"Gamma-Gamma  p = {fit.gg_p:.4f}  q = {fit.gg_q:.4f}  gamma = {fit.gg_gamma:.4f}  "
            f"log-likelihood = {fit.gg_log_likelihood:.2f}"
        )
        for row in predictions_by_tier():
            self.stdout.write(f"  {row.tier:<13} {row.customers:>9} customers  predicted CLV {row.predicted_clv:>16,.2f}")
