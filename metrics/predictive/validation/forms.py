from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

ERROR_ORDER = _("The holdout must end after the calibration period.")


class _DateInput(forms.DateInput):
    input_type = "date"


class ModelCheckForm(forms.Form):
    """The split of the Model check, read from the query string (both optional)."""

    calibration_end = forms.DateField(label=_("Calibration period ends"), required=False, widget=_DateInput)
    holdout_end = forms.DateField(label=_("Holdout ends"), required=False, widget=_DateInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("calibration_end"), data.get("holdout_end")
        if start is not None and end is not None and end <= start:
            self.add_error("holdout_end", ERROR_ORDER)
        return data

    def dates(self) -> dict[str, dt.date | None]:
        """The valid dates (none when the form has an error: the default split is shown)."""
        if not self.is_bound or not self.is_valid():
            return {"calibration_end": None, "holdout_end": None}
        return {"calibration_end": self.cleaned_data.get("calibration_end"),
                "holdout_end": self.cleaned_data.get("holdout_end")}
