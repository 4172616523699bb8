"""The Profitability page's filters: one segment (the whale curve and the tables) and one tier."""

from __future__ import annotations

from typing import cast

from django import forms
from django.utils.translation import gettext_lazy as _

from metrics.models import CustomerPrediction

from .selectors import segment_choices


class ProfitabilityFilterForm(forms.Form):
    segment = forms.ChoiceField(label=_("Segment"), required=False)
    tier = forms.ChoiceField(label=_("Tier"), required=False)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        segment = cast(forms.ChoiceField, self.fields["segment"])
        segment.choices = [("", _("The whole company"))] + [
            (f"{dimension}={value}", label) for dimension, value, label in segment_choices()
        ]
        tier = cast(forms.ChoiceField, self.fields["tier"])
        tier.choices = [("", _("All tiers")), *CustomerPrediction.Tier.choices]

    def filters(self) -> dict[str, str]:
        data = self.cleaned_data if self.is_bound and self.is_valid() else {}
        dimension, _sep, value = str(data.get("segment") or "").partition("=")
        return {"dimension": dimension, "value": value, "tier": str(data.get("tier") or "")}
