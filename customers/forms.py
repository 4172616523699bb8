from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from customers.models import ImportJob
from customers.services.parsing import DAY_FIRST, FIELDS, MONTH_FIRST, ImportRefused, mapping_parse

DATE_ORDER_CHOICES = [
    ("", _("Detect from the file")),
    (DAY_FIRST, _("Day first (31.3.2024, 31/3/2024)")),
    (MONTH_FIRST, _("Month first (3/31/2024)")),
]


class UploadForm(forms.Form):
    kind = forms.ChoiceField(label=_("Kind of file"), choices=ImportJob.Kind.choices)
    file = forms.FileField(label=_("CSV or Excel file (.csv, .txt, .tsv, .xlsx, .xls)"))
    sheet = forms.CharField(
        label=_("Sheet (Excel only, optional)"), required=False, max_length=100,
        help_text=_("By default the first visible sheet with columns of this kind is read."),
    )
    skip_invalid = forms.BooleanField(
        label=_("Load the valid rows and skip the invalid ones"), required=False,
        help_text=_("By default a file with any invalid row loads nothing."),
    )
    date_order = forms.ChoiceField(label=_("Day/month order of dates"), choices=DATE_ORDER_CHOICES, required=False)
    mapping = forms.CharField(
        label=_("Column mapping (optional)"), required=False,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": "revenue=dollar_value"}),
        help_text=_("One FIELD=COLUMN per line, for columns whose names are not recognised."),
    )

    def clean_mapping(self) -> dict[str, str]:
        try:
            return mapping_parse(items=self.cleaned_data.get("mapping") or "")
        except ImportRefused as exc:
            raise forms.ValidationError(str(exc)) from exc


class RerunForm(forms.Form):
    """Run a refused import again with a hand mapping of the file's columns and a date order."""

    date_order = forms.ChoiceField(label=_("Day/month order of dates"), choices=DATE_ORDER_CHOICES, required=False)
    skip_invalid = forms.BooleanField(label=_("Load the valid rows and skip the invalid ones"), required=False)

    def __init__(self, *args: Any, job: ImportJob, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        workbook = (job.detected or {}).get("workbook") or {}
        if workbook:
            names = [*workbook.get("sheets", []), *workbook.get("hidden_sheets", [])]
            self.fields["sheet"] = forms.ChoiceField(
                label=_("Sheet"), choices=[(n, n) for n in names], required=False,
                initial=(job.options or {}).get("sheet") or workbook.get("sheet", ""),
            )
        header = (job.detected or {}).get("header") or []
        choices = [("", _("(not in the file)")), *[(h, h) for h in header]]
        current = (job.options or {}).get("mapping") or {}
        detected = (job.detected or {}).get("columns") or {}
        self.field_names = []
        for spec in FIELDS[job.kind]:
            name = f"map_{spec.name}"
            self.fields[name] = forms.ChoiceField(
                label=f"{spec.label} ({spec.name})", choices=choices, required=spec.required and bool(header),
                initial=current.get(spec.name) or detected.get(spec.name, ""),
            )
            self.field_names.append(name)
        self.fields["date_order"].initial = (job.options or {}).get("date_order", "")
        self.fields["skip_invalid"].initial = bool((job.options or {}).get("skip_invalid"))

    def mapping(self) -> dict[str, str]:
        return {n[4:]: self.cleaned_data[n] for n in self.field_names if self.cleaned_data.get(n)}
