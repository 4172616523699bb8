from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from metrics.services import assumptions_record

ERROR_NOTHING = "Give at least one assumption to change (see --help)."
ERROR_NUMBER = "--{flag} must be a number, not {value!r}."

# flag -> (AssumptionSet field, type, help). Rates are shares: 0.12 for 12%.
FLAGS: dict[str, tuple[str, type, str]] = {
    "annual-discount-rate": ("annual_discount_rate", Decimal, "share, e.g. 0.12 for 12%"),
    "activity-window": ("activity_window_months", int, "W, months without a purchase before a customer lapses"),
    "retention-source": ("retention_source", str, "measured or assumed"),
    "assumed-monthly-retention": ("assumed_monthly_retention", Decimal, "share, e.g. 0.9"),
    "smoothing-window": ("smoothing_window_months", int, "L, trailing months of retention and margin"),
    "default-gross-margin-rate": ("default_gross_margin_rate", Decimal, "share, e.g. 0.3"),
    "credibility-weight": ("credibility_weight", int, "k, customer-months of weight of the prior (0: none)"),
    "prediction-horizon": ("prediction_horizon_months", int, "H, months of the per-customer predicted CLV"),
    "cost-to-serve-driver": ("cost_to_serve_driver", str,
                             "equal (per active customer) or purchase: how retention cost is shared among customers"),
    "valuation-horizon": ("valuation_horizon_months", int, "H_v, months of future new customers in the customer-based value"),
    "acquisition-projection": ("acquisition_projection", str, "flat, trend or logistic: how new customers are projected"),
    "predictive-model": ("predictive_model", str,
                         "auto, bgnbd, mbgnbd or pareto_nbd: the model of repeat purchases (auto: best on a holdout)"),
    "model-holdout-share": ("model_holdout_share", Decimal, "share of the history auto holds out, e.g. 0.25"),
    "new-customer-age": ("new_customer_age_days", int,
                         "days: a customer whose first purchase is younger is tier 'new' (0 turns the rule off)"),
}
CHOICES = {"retention-source": ["measured", "assumed"], "cost-to-serve-driver": ["equal", "purchase"],
           "acquisition-projection": ["flat", "trend", "logistic"],
           "predictive-model": ["auto", "bgnbd", "mbgnbd", "pareto_nbd"]}


class Command(BaseCommand):
    help = ("Record a new version of the assumptions (as the assumptions page does), print it and "
            "trigger the recompute. Unnamed assumptions keep their current values.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--note", required=True, help="why the assumptions change (recorded with the version)")
        for flag, (_field, _kind, text) in FLAGS.items():
            choices = CHOICES.get(flag)
            parser.add_argument(f"--{flag}", dest=flag.replace("-", "_"), help=text, choices=choices)

    def handle(self, *args: Any, **options: Any) -> None:
        values: dict[str, Any] = {}
        for flag, (field, kind, _text) in FLAGS.items():
            raw = options.get(flag.replace("-", "_"))
            if raw is None:
                continue
            try:
                values[field] = kind(raw)
            except (ValueError, InvalidOperation):
                raise CommandError(ERROR_NUMBER.format(flag=flag, value=raw)) from None
        if not values:
            raise CommandError(ERROR_NOTHING)
        try:
            created = assumptions_record(user=None, note=options["note"], **values)
        except ValidationError as exc:
            problems = "; ".join(f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items())
            raise CommandError(f"The assumptions were not recorded: {problems}") from None
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Assumptions v{created.version} recorded; the recompute has been requested.")
        for flag, (field, _kind, _text) in FLAGS.items():
            marker = " (changed)" if field in values else ""
            self.stdout.write(f"  {flag}: {getattr(created, field)}{marker}")
