"""Close and reopen a month from the assumptions page (admins); thin: form, service, redirect."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from clv_dashboard.formatting import format_month
from metrics.models import MonthClose

from . import services
from .forms import ERROR_REOPEN_NOTE, CloseMonthForm, ReopenMonthForm

CLOSE_PERMISSION = "metrics.close_months"

# The services' messages, translated for the page (the services keep English for logs and the CLI).
SERVICE_MESSAGES = {
    "not_ended": gettext_lazy("This month has not ended yet: a month can be closed from the first day of the next month."),
    "no_figures": gettext_lazy("This month has no figures to publish: import its data first."),
    "already_closed": gettext_lazy("This month is already closed; reopen it first to publish it again."),
    "note_required": ERROR_REOPEN_NOTE,
    "not_closed": gettext_lazy("This month is not closed."),
    "recompute_under_way": gettext_lazy("A recompute is under way: close the month once it has finished, so that the "
                                "published figures include the latest data and assumptions."),
}


def _page() -> str:
    return reverse("metrics:assumptions") + "#closing"


def _service_error(exc: services.CloseRefused) -> str:
    message = SERVICE_MESSAGES.get(exc.code)
    return str(message) if message is not None else str(exc)


def _form_errors(form: CloseMonthForm | ReopenMonthForm) -> str:
    return " ".join(str(e) for errors in form.errors.values() for e in errors)


def _act(request: HttpRequest, form: CloseMonthForm | ReopenMonthForm,
         action: Callable[..., MonthClose], done: str) -> HttpResponse:
    """Validate the form, run the close or reopen, say what happened, back to the page."""
    if not form.is_valid():
        messages.error(request, _form_errors(form))
        return redirect(_page())
    try:
        close = action(month=form.cleaned_data["month"], user=request.user, note=form.cleaned_data["note"])
    except services.CloseRefused as exc:
        messages.error(request, _service_error(exc))
    else:
        messages.success(request, done % {"month": format_month(close.month)})
    return redirect(_page())


@require_POST
@permission_required(CLOSE_PERMISSION, raise_exception=True)
def month_close(request: HttpRequest) -> HttpResponse:
    return _act(request, CloseMonthForm(request.POST), services.month_close,
                _("%(month)s is closed: its figures are published."))


@require_POST
@permission_required(CLOSE_PERMISSION, raise_exception=True)
def month_reopen(request: HttpRequest) -> HttpResponse:
    return _act(request, ReopenMonthForm(request.POST), services.month_reopen,
                _("%(month)s is reopened; its publication stays in the record."))
