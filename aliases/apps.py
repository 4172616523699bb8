from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AliasesConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "aliases"
    verbose_name = _("Segment aliases")
