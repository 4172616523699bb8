from __future__ import annotations

from decimal import Decimal
from typing import Any, cast

from django import forms
from django.utils.translation import gettext_lazy as _

from metrics.models import CustomerPrediction

from .selectors import DEFAULT_SORT, SORTABLE, PredictionFilters, segment_choices

ERROR_RANGE = _("The lower bound is above the upper bound.")


class PredictionFilterForm(forms.Form):
    """The customers table's filters, read from the query string."""

    q = forms.CharField(label=_("Customer id"), required=False, max_length=100)
    tier = forms.ChoiceField(label=_("Tier"), required=False)
    segment = forms.ChoiceField(label=_("Segment"), required=False)
    p_alive_min = forms.DecimalField(label=_("P(alive) from"), required=False, min_value=0, max_value=1,
                                     decimal_places=4)
    p_alive_max = forms.DecimalField(label=_("P(alive) to"), required=False, min_value=0, max_value=1,
                                     decimal_places=4)
    clv_min = forms.DecimalField(label=_("Predicted CLV from"), required=False, decimal_places=2)
    clv_max = forms.DecimalField(label=_("Predicted CLV to"), required=False, decimal_places=2)
    sort = forms.ChoiceField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        tier = cast(forms.ChoiceField, self.fields["tier"])
        tier.choices = [("", _("All tiers")), *CustomerPrediction.Tier.choices]
        segment = cast(forms.ChoiceField, self.fields["segment"])
        segment.choices = [("", _("All segments"))] + [
            (f"{dimension}={value}", label) for dimension, value, label in segment_choices()
        ]
        sort = cast(forms.ChoiceField, self.fields["sort"])
        sort.choices = [(key, key) for name in SORTABLE for key in (name, f"-{name}")]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for low, high in (("p_alive_min", "p_alive_max"), ("clv_min", "clv_max")):
            if data.get(low) is not None and data.get(high) is not None and data[low] > data[high]:
                self.add_error(high, ERROR_RANGE)
                data.pop(low, None)  # an inverted range filters nothing rather than half of it
        return data

    def filters(self) -> PredictionFilters:
        """The valid filters (an invalid field is ignored and shown with its error)."""
        data: dict[str, Any] = self.cleaned_data if self.is_bound else {}
        segment = str(data.get("segment") or "")
        dimension, _sep, value = segment.partition("=")

        def dec(name: str) -> Decimal | None:
            return data.get(name)

        def flt(name: str) -> float | None:
            v = data.get(name)
            return float(v) if v is not None else None

        return PredictionFilters(
            tier=str(data.get("tier") or ""),
            segment_dimension=dimension,
            segment_value=value,
            p_alive_min=flt("p_alive_min"),
            p_alive_max=flt("p_alive_max"),
            clv_min=dec("clv_min"),
            clv_max=dec("clv_max"),
            search=str(data.get("q") or ""),
            sort=str(data.get("sort") or DEFAULT_SORT),
        )
