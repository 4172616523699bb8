from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import SegmentDimension


class AliasForm(forms.Form):
    dimension = forms.ChoiceField(label=_("Dimension"), choices=SegmentDimension.choices)
    value = forms.CharField(label=_("Value as it arrives"), max_length=100,
                            widget=forms.TextInput(attrs={"placeholder": "华东"}))
    canonical = forms.CharField(label=_("Means (canonical value)"), max_length=100,
                                widget=forms.TextInput(attrs={"placeholder": "East"}))
