from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import translation

from metrics.board.selectors import month_parse
from metrics.models import AcquisitionProjection
from metrics.valuation.services import MAX_HORIZON, valuation_compute

ERROR_HORIZON = "--horizon must be a whole number of months from 1 to {maximum}."


class Command(BaseCommand):
    help = ("Print the customer-based value of the company for a month (default: the latest): the value of current "
            "and future customers, their total, the value of one new customer, the sBG curve with its standard "
            "errors, the projected new customers per month and the four elasticities.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--month", help="YYYY-MM (default: the latest month with figures)")
        parser.add_argument("--acquisition", choices=AcquisitionProjection.values,
                            help="projection of new customers (default: the assumptions')")
        parser.add_argument("--horizon", type=int, help="months of new customers H_v (default: the assumptions')")
        parser.add_argument("--format", choices=["text", "json"], default="text")

    def handle(self, *args: Any, **options: Any) -> None:
        translation.activate("en")
        try:
            month = month_parse(options.get("month"))
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        horizon = options.get("horizon")
        if horizon is not None and not 1 <= horizon <= MAX_HORIZON:
            raise CommandError(ERROR_HORIZON.format(maximum=MAX_HORIZON))
        v = valuation_compute(month=month, model=options.get("acquisition"), horizon=horizon)
        if v.result is None or v.fit is None or v.projection is None:
            raise CommandError("No customer-based value: " + " ".join(v.shortfalls))
        r = v.result
        projected = [round(float(x), 3) for x in v.projection.projected]
        elasticity = {e.key: e.percent for e in v.elasticities}
        data: dict[str, Any] = {
            "month": f"{v.month:%Y-%m}" if v.month else None,
            "assumption_version": v.assumption_set.version if v.assumption_set else None,
            "acquisition": v.model, "horizon": v.horizon,
            "current_value": round(r.current_value, 2), "future_value": round(r.future_value, 2),
            "total": round(r.total, 2), "v_new": round(r.v_new, 2), "clv_by_r": round(r.clv_by_r, 2),
            "cac": round(v.cac, 2),
            "sbg": {"alpha": v.fit.alpha, "beta": v.fit.beta, "alpha_se": v.fit.alpha_se, "beta_se": v.fit.beta_se,
                    "log_likelihood": v.fit.log_likelihood, "customers": v.fit.customers},
            "projected_new_customers": projected,
            "elasticities": elasticity,
        }
        if options["format"] == "json":
            self.stdout.write(json.dumps(data, indent=2))
            return
        self.stdout.write(f"Customer-based value, {data['month']} (assumptions v{data['assumption_version']}, "
                          f"{v.model}, {v.horizon} months)")
        for key in ("current_value", "future_value", "total", "v_new", "clv_by_r", "cac"):
            self.stdout.write(f"  {key}: {data[key]:,.2f}")
        fit = v.fit
        self.stdout.write(f"  sBG alpha: {fit.alpha:.4f} (se {fit.alpha_se or float('nan'):.4f}), "
                          f"beta: {fit.beta:.4f} (se {fit.beta_se or float('nan'):.4f}), {fit.customers} customers")
        self.stdout.write("  projected new customers per month: " + ", ".join(f"{x:.1f}" for x in projected[:12])
                          + (" ..." if len(projected) > 12 else ""))
        for key, percent in elasticity.items():
            self.stdout.write(f"  elasticity {key}: {'n/a' if percent is None else f'{percent:+.3f}%'}")
