"""The assumptions form: percentages as people type them, validated to METRICS.md's ranges.

Every rate is typed in percent (10 for 10%); the model stores shares (0.10)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import AcquisitionProjection, AssumptionSet, CostToServeDriver, PredictiveModel, RetentionSource

ERROR_RETENTION_RANGE = _("Assumed monthly retention is a percentage from 0 to below 100 (for example 90 for 90%).")
ERROR_NOTE_REQUIRED = _("Say why the assumptions change: the note is required.")
HUNDRED = Decimal(100)


def _plain(value: Decimal) -> str:
    """10.000000 -> "10", 0.900000 -> "0.9" (never "1E+1")."""
    text = f"{value.normalize():f}"
    return text


class AssumptionsForm(forms.Form):
    annual_discount_rate_percent = forms.DecimalField(
        label=_("Annual discount rate (%)"), min_value=0, max_value=100, max_digits=9, decimal_places=4,
        help_text=_("Cost of capital used to discount future margin, 0 to 100."),
    )
    activity_window_months = forms.IntegerField(
        label=_("Activity window W (months)"), min_value=1, max_value=60,
        help_text=_("Months without a purchase after which a customer counts as lapsed, 1 to 60."),
    )
    # Measured or assumed; "company" is a segment snapshot's source, never an assumption.
    retention_source = forms.ChoiceField(label=_("Retention source"), choices=RetentionSource.choices[:2])
    assumed_monthly_retention_percent = forms.DecimalField(
        label=_("Assumed monthly retention (%)"), min_value=0, max_value=100, max_digits=9, decimal_places=4,
        help_text=_("Used when the source is 'assumed' and before measured retention exists; 0 to below 100."),
    )
    smoothing_window_months = forms.IntegerField(
        label=_("Smoothing window L (months)"), min_value=1, max_value=60,
        help_text=_("Trailing months over which retention and margin are averaged, 1 to 60."),
    )
    credibility_weight = forms.IntegerField(
        label=_("Retention credibility weight k (customer-months)"), min_value=0, max_value=1_000_000,
        help_text=_("Weight of the prior when retention is measured: a scope with few customer-months leans on "
                    "the company's rate (the company on the assumed retention); 0 turns it off. Default 100."),
    )
    default_gross_margin_percent = forms.DecimalField(
        label=_("Default gross margin rate (%)"), min_value=0, max_value=100, max_digits=9, decimal_places=4,
        help_text=_("Applied to transactions that carry no cost, 0 to 100."),
    )
    prediction_horizon_months = forms.IntegerField(
        label=_("Prediction horizon H (months)"), min_value=1, max_value=120,
        help_text=_("Months of predicted margin in each customer's predicted CLV, 1 to 120."),
    )
    # Optional so that a form posted without it keeps the driver in force.
    cost_to_serve_driver = forms.ChoiceField(
        label=_("Cost-to-serve driver"), choices=CostToServeDriver.choices, required=False,
        help_text=_("How a month's retention cost is shared among the customers it applies to: equally per "
                    "active customer, or in proportion to their purchases that month."),
    )
    # The customer-based valuation (Investor view); optional so that a form posted without them
    # keeps the values in force.
    valuation_horizon_months = forms.IntegerField(
        label=_("Valuation horizon H_v (months)"), min_value=1, max_value=600, required=False,
        help_text=_("Months of future new customers counted in the customer-based value, 1 to 600. Default 120."),
    )
    acquisition_projection = forms.ChoiceField(
        label=_("Projection of new customers"), choices=AcquisitionProjection.choices, required=False,
        help_text=_("How the monthly new customers are projected for the Investor view: flat, trend or logistic."),
    )
    # The model of repeat purchases behind the customer values; optional, as above.
    predictive_model = forms.ChoiceField(
        label=_("Predictive model"), choices=PredictiveModel.choices, required=False,
        help_text=_("The model of repeat purchases behind the customer values: automatic picks BG/NBD, MBG/NBD "
                    "or Pareto/NBD, whichever predicts a held-out part of the history best."),
    )
    model_holdout_share_percent = forms.DecimalField(
        label=_("Holdout for the automatic choice (%)"), min_value=5, max_value=50, max_digits=6, decimal_places=1,
        required=False,
        help_text=_("The last part of the history held out to compare the models, 5 to 50. Default 25."),
    )
    new_customer_age_days = forms.IntegerField(
        label=_("New-customer age (days)"), min_value=0, max_value=3650, required=False,
        help_text=_("A customer whose first purchase is younger than this is tier 'new' rather than gold, silver "
                    "or bronze: too little history to say what they are worth. 0 turns the rule off. Default 90."),
    )
    note = forms.CharField(
        label=_("Why the change"), widget=forms.Textarea(attrs={"rows": 3}), max_length=2000,
        error_messages={"required": ERROR_NOTE_REQUIRED},
    )

    def clean_assumed_monthly_retention_percent(self) -> Decimal:
        value: Decimal = self.cleaned_data["assumed_monthly_retention_percent"]
        if value < 0 or value >= HUNDRED:
            raise forms.ValidationError(ERROR_RETENTION_RANGE)
        return value

    def clean_note(self) -> str:
        note = str(self.cleaned_data["note"]).strip()
        if not note:
            raise forms.ValidationError(ERROR_NOTE_REQUIRED)
        return note

    @staticmethod
    def initial_from(assumption_set: AssumptionSet) -> dict[str, Any]:
        return {
            "annual_discount_rate_percent": _plain(assumption_set.annual_discount_rate * HUNDRED),
            "activity_window_months": assumption_set.activity_window_months,
            "retention_source": assumption_set.retention_source,
            "assumed_monthly_retention_percent": _plain(assumption_set.assumed_monthly_retention * HUNDRED),
            "smoothing_window_months": assumption_set.smoothing_window_months,
            "credibility_weight": assumption_set.credibility_weight,
            "default_gross_margin_percent": _plain(assumption_set.default_gross_margin_rate * HUNDRED),
            "prediction_horizon_months": assumption_set.prediction_horizon_months,
            "cost_to_serve_driver": assumption_set.cost_to_serve_driver,
            "valuation_horizon_months": assumption_set.valuation_horizon_months,
            "acquisition_projection": assumption_set.acquisition_projection,
            "predictive_model": assumption_set.predictive_model,
            "model_holdout_share_percent": _plain(assumption_set.model_holdout_share * HUNDRED),
            "new_customer_age_days": assumption_set.new_customer_age_days,
        }

    def assumption_values(self) -> dict[str, Any]:
        data = self.cleaned_data
        driver = {"cost_to_serve_driver": data["cost_to_serve_driver"]} if data.get("cost_to_serve_driver") else {}
        for name in ("valuation_horizon_months", "acquisition_projection", "predictive_model", "new_customer_age_days"):
            if data.get(name) not in (None, ""):
                driver[name] = data[name]
        if data.get("model_holdout_share_percent") is not None:
            driver["model_holdout_share"] = data["model_holdout_share_percent"] / HUNDRED
        return driver | {
            "annual_discount_rate": data["annual_discount_rate_percent"] / HUNDRED,
            "activity_window_months": data["activity_window_months"],
            "retention_source": data["retention_source"],
            "assumed_monthly_retention": data["assumed_monthly_retention_percent"] / HUNDRED,
            "smoothing_window_months": data["smoothing_window_months"],
            "credibility_weight": data["credibility_weight"],
            "default_gross_margin_rate": data["default_gross_margin_percent"] / HUNDRED,
            "prediction_horizon_months": data["prediction_horizon_months"],
        }
