"""The close and reopen forms of the assumptions page."""

from __future__ import annotations

import datetime as dt

from django import forms
from django.utils.translation import gettext_lazy as _

ERROR_MONTH = _("Choose a month as YYYY-MM (for example 2024-03).")
ERROR_REOPEN_NOTE = _("Say why the month is reopened: the note is required.")


class MonthField(forms.CharField):
    def to_python(self, value: object) -> dt.date | None:  # type: ignore[override]
        text = str(super().to_python(value) or "").strip()
        if not text:
            return None
        try:
            year, month = text.split("-")[:2]
            return dt.date(int(year), int(month), 1)
        except (ValueError, IndexError):
            raise forms.ValidationError(ERROR_MONTH) from None


class CloseMonthForm(forms.Form):
    month = MonthField(label=_("Month"), error_messages={"required": ERROR_MONTH})
    note = forms.CharField(label=_("Note (optional)"), required=False, max_length=2000)


class ReopenMonthForm(forms.Form):
    month = MonthField(label=_("Month"), error_messages={"required": ERROR_MONTH})
    note = forms.CharField(label=_("Why reopen"), max_length=2000, error_messages={"required": ERROR_REOPEN_NOTE})
