from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = _("Audit log")

    def ready(self) -> None:
        from clv_dashboard.roles import sync_role_groups_after_migrate

        from . import signals

        signals.connect()
        # The Admin role reads the log: its permission exists only once this app has migrated.
        post_migrate.connect(sync_role_groups_after_migrate, sender=self)
