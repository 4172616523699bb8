"""The Investor view's query parameters (scope, month, model, horizon), validated, and the
market value form admins post."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from ..board.selectors import COMPANY_SCOPE, Scope, month_parse, scope_parse
from ..models import AcquisitionProjection
from .services import MAX_HORIZON

ERROR_MODEL = _("Unknown projection model: use flat, trend or logistic.")
ERROR_HORIZON = _("The horizon is a whole number of months from 1 to {maximum}.")
ERROR_MONTH = _("The month is YYYY-MM, for example 2026-03.")
ERROR_UNKNOWN_PARAMETER = _("Unknown parameter {name}: use scope, month, model or horizon.")
PARAMETERS = ("scope", "month", "model", "horizon")


class ValuationParams:
    """Parsed GET parameters; `errors` lists what is wrong, in the reader's language."""

    def __init__(self, data: dict[str, str]) -> None:
        self.errors: list[str] = []
        self.scope: Scope = COMPANY_SCOPE
        self.month: dt.date | None = None
        self.model: str | None = None
        self.horizon: int | None = None
        for name in data:
            if name not in PARAMETERS:
                self.errors.append(str(ERROR_UNKNOWN_PARAMETER).format(name=name[:40]))
        try:
            self.scope = scope_parse(data.get("scope") or None)
        except ValueError as exc:
            self.errors.append(str(exc))
        try:
            self.month = month_parse(data.get("month") or None)
        except ValueError:
            self.errors.append(str(ERROR_MONTH))
        model = data.get("model") or None
        if model is not None and model not in AcquisitionProjection.values:
            self.errors.append(str(ERROR_MODEL))
        else:
            self.model = model
        horizon = data.get("horizon") or None
        if horizon is not None:
            if not horizon.isdigit() or not 1 <= int(horizon) <= MAX_HORIZON:
                self.errors.append(str(ERROR_HORIZON).format(maximum=MAX_HORIZON))
            else:
                self.horizon = int(horizon)


class MarketValueForm(forms.Form):
    amount = forms.DecimalField(label=_("Market value"), min_value=Decimal(0), max_digits=20, decimal_places=2,
                                help_text=_("For example the market capitalisation plus net debt, in the board's currency."))
    as_of = forms.DateField(label=_("Date of the market value"), widget=forms.DateInput(attrs={"type": "date"}))
    note = forms.CharField(label=_("Source or note"), required=False, max_length=2000,
                           widget=forms.Textarea(attrs={"rows": 2}))
