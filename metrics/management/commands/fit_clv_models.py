from __future__ import annotations

import datetime as dt
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.models import PredictiveFit
from metrics.predictive.selectors import predictions_by_tier
from metrics.predictive.services import clv_models_fit


class Command(BaseCommand):
    help = "Fit the BG/NBD and Gamma-Gamma models now, store every customer's prediction and print the parameters."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--observation-end", type=dt.date.fromisoformat, default=None,
            help="last day of data to use, YYYY-MM-DD (default: the latest transaction)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        fit = clv_models_fit(trigger="command", observation_end=options["observation_end"])
        if fit.status != PredictiveFit.Status.SUCCEEDED:
            raise CommandError(f"Fit #{fit.pk} failed: {fit.message}")
        self.stdout.write(
            f"Fit #{fit.pk} on data to {fit.data_date:%Y-%m-%d}, assumptions v{fit.assumption_set.version if fit.assumption_set else '-'}: "
            f"{fit.n_customers} customers, {fit.n_repeat_customers} with repeat purchases, {fit.duration_seconds:.2f} s"
        )
        self.stdout.write(
            f"BG/NBD       r = {fit.bgnbd_r:.4f}  alpha = {fit.bgnbd_alpha:.4f}  a = {fit.bgnbd_a:.4f}  "
            f"b = {fit.bgnbd_b:.4f}  log-likelihood = {fit.bgnbd_log_likelihood:.2f}"
        )
        self.stdout.write(
            f"Gamma-Gamma  p = {fit.gg_p:.4f}  q = {fit.gg_q:.4f}  gamma = {fit.gg_gamma:.4f}  "
            f"log-likelihood = {fit.gg_log_likelihood:.2f}"
        )
        for row in predictions_by_tier():
            self.stdout.write(f"  {row.tier:<13} {row.customers:>9} customers  predicted CLV {row.predicted_clv:>16,.2f}")
