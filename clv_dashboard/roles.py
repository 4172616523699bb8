"""The three roles and their permissions, declared once.

Executives view the board and the API; analysts also upload and manage imports; admins also
edit assumptions, API tokens and users. Views check permissions, never group names.
"""

from __future__ import annotations

from typing import Any

EXECUTIVE = "Executive"
ANALYST = "Analyst"
ADMIN = "Admin"

_EXECUTIVE_PERMS = [
    "metrics.view_board",
    "metrics.view_monthlysnapshot",
    "metrics.view_assumptionset",
    "metrics.view_customerprediction",
]
_ANALYST_PERMS = [
    *_EXECUTIVE_PERMS,
    "customers.manage_imports",
    "customers.view_importjob",
    "customers.add_importjob",
    "customers.delete_importjob",
    "customers.view_customer",
    "customers.view_transaction",
    "customers.view_costentry",
    "aliases.view_segmentalias",
    "metrics.view_model_check",
]
_ADMIN_PERMS = [
    *_ANALYST_PERMS,
    "metrics.change_assumptions",
    "metrics.add_assumptionset",
    "metrics.close_months",
    "metrics.change_market_value",
    "metrics.view_monthclose",
    "metrics.view_recomputerun",
    "metrics.view_predictivefit",
    "metrics.add_apitoken",
    "metrics.change_apitoken",
    "metrics.delete_apitoken",
    "metrics.view_apitoken",
    "customers.change_customer",
    "aliases.manage_aliases",
    "aliases.view_aliasversion",
    "customers.view_headermapping",
    "auth.add_user",
    "auth.change_user",
    "auth.view_user",
    "auth.view_group",
    # Users are deactivated, never deleted (audit/signals.py), hence no auth.delete_user.
    "audit.view_auditevent",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    EXECUTIVE: _EXECUTIVE_PERMS,
    ANALYST: _ANALYST_PERMS,
    ADMIN: _ADMIN_PERMS,
}


def sync_role_groups(*, group_model: Any, permission_model: Any) -> None:
    """Create the role groups and give each exactly its declared permissions (idempotent).

    Takes the model classes so that the data migration can pass its historical models. One
    query finds every declared permission (this runs after each migrate and each flush)."""
    codenames = {perm.split(".")[1] for perms in ROLE_PERMISSIONS.values() for perm in perms}
    found = {f"{p.content_type.app_label}.{p.codename}": p
             for p in permission_model.objects.filter(codename__in=codenames).select_related("content_type")}
    for role, perms in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        group.permissions.set([found[perm] for perm in perms if perm in found])


def sync_role_groups_after_migrate(**kwargs: Any) -> None:
    from django.contrib.auth.models import Group, Permission

    sync_role_groups(group_model=Group, permission_model=Permission)
