from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import AuditEvent


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(label=_("Action"), required=False,
                               choices=[("", _("All actions")), *AuditEvent.Action.choices])
    username = forms.CharField(label=_("User"), required=False, max_length=150)
    target = forms.CharField(label=_("On what"), required=False, max_length=200)
    since = forms.DateField(label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def filters(self) -> dict[str, object]:
        """The cleaned filters for audit_events_filter (none when the form is invalid)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        return {"action": data["action"], "username": data["username"].strip(), "target": data["target"].strip(),
                "since": data["since"], "until": data["until"]}
