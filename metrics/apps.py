from __future__ import annotations

from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class MetricsConfig(AppConfig):
    name = "metrics"
    verbose_name = _("Customer equity metrics")

    def ready(self) -> None:
        from clv_dashboard import permissions
        from clv_dashboard.roles import sync_role_groups_after_migrate

        # A change to anyone's groups or permissions makes every cached permission set stale.
        permissions.connect()

        # Keeps the role groups' permissions in step with models added after the data migration.
        post_migrate.connect(sync_role_groups_after_migrate, sender=self)
        # The default assumptions, also after a flush (which empties what the data migration made).
        from metrics.services import assumptions_ensure_after_migrate

        post_migrate.connect(assumptions_ensure_after_migrate, sender=self)
