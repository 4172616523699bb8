"""Creates the Executive, Analyst and Admin groups with their permissions, and version 1 of
the assumptions with METRICS.md's defaults."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib.auth.management import create_permissions
from django.db import migrations

from clv_dashboard.roles import sync_role_groups


def create_roles(apps: Any, schema_editor: Any) -> None:
    # Permissions are normally created after all migrations; create them now so the groups
    # can be given theirs.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    sync_role_groups(group_model=apps.get_model("auth", "Group"), permission_model=apps.get_model("auth", "Permission"))


def create_default_assumptions(apps: Any, schema_editor: Any) -> None:
    assumption_set = apps.get_model("metrics", "AssumptionSet")
    if not assumption_set.objects.exists():
        assumption_set.objects.create(
            version=1,
            annual_discount_rate=Decimal("0.10"),
            activity_window_months=12,
            retention_source="measured",
            assumed_monthly_retention=Decimal("0.90"),
            smoothing_window_months=12,
            default_gross_margin_rate=Decimal("0.30"),
            prediction_horizon_months=36,
            note="Defaults of METRICS.md",
        )


class Migration(migrations.Migration):
    dependencies = [
        ("metrics", "0001_initial"),
        ("customers", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.RunPython(create_roles, migrations.RunPython.noop),
        migrations.RunPython(create_default_assumptions, migrations.RunPython.noop),
    ]
