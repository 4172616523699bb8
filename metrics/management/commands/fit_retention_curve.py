from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.valuation.maths.sbg import sbg_fit, sbg_retention, sbg_survival

ERROR_FORMAT = "{path}, line {line}: expected 'period,survivors' with whole numbers, got {row!r}."
ERROR_PERIODS = "{path}: periods must run 0, 1, 2, ... without gaps (period 0 is the cohort's size)."


class Command(BaseCommand):
    help = ("Fit the shifted-beta-geometric retention curve to a CSV of 'period,survivors' rows (period 0 = the "
            "cohort's size; a header line is optional) and print alpha, beta, the log-likelihood and the projected "
            "survival.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("csv", help="file of period,survivors rows")
        parser.add_argument("--project", type=int, default=12, help="periods of projected survival to print (default 12)")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        path = Path(options["csv"])
        if not path.is_file():
            raise CommandError(f"No such file: {path}")
        periods: list[int] = []
        survivors: list[int] = []
        with path.open(newline="", encoding="utf-8-sig") as handle:
            for line, row in enumerate(csv.reader(handle), start=1):
                if not row or (line == 1 and not row[0].strip().isdigit()):
                    continue
                try:
                    period, count = int(row[0]), int(row[1])
                except (ValueError, IndexError):
                    raise CommandError(ERROR_FORMAT.format(path=path, line=line, row=",".join(row))) from None
                periods.append(period)
                survivors.append(count)
        if periods != list(range(len(periods))):
            raise CommandError(ERROR_PERIODS.format(path=path))
        try:
            fit = sbg_fit([survivors])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        horizon = max(options["project"], len(survivors) - 1)
        survival = sbg_survival(fit.params, horizon).tolist()
        retention = sbg_retention(fit.params, horizon).tolist()
        if options["format"] == "json":
            self.stdout.write(json.dumps({
                "alpha": fit.alpha, "beta": fit.beta, "alpha_se": fit.alpha_se, "beta_se": fit.beta_se,
                "log_likelihood": fit.log_likelihood, "customers": fit.customers, "periods": fit.periods,
                "survival": survival, "retention": retention,
            }, indent=2))
            return
        self.stdout.write(f"alpha = {fit.alpha:.4f} (se {fit.alpha_se or float('nan'):.4f}), "
                          f"beta = {fit.beta:.4f} (se {fit.beta_se or float('nan'):.4f})")
        self.stdout.write(f"log-likelihood = {fit.log_likelihood:.1f} ({fit.customers} customers, {fit.periods} periods)")
        self.stdout.write("period  actual   fitted  retention")
        for t in range(horizon + 1):
            actual = f"{survivors[t] / survivors[0]:.4f}" if t < len(survivors) and survivors[0] else "      "
            r = f"{retention[t - 1]:.4f}" if t >= 1 else ""
            self.stdout.write(f"{t:6d}  {actual:>6}  {survival[t]:.4f}  {r}")
