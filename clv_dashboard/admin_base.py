"""What the Django admin may do, declared in one place.

1. `ReadOnlyAdminMixin` / `ReadOnlyModelAdmin`: for records the application itself writes and
   whose history matters (imports and the rows they loaded, snapshots, recompute runs, fits,
   published figures, audit entries). The admin shows them and never adds, changes or deletes
   them, for superusers too: they change only through their own pages and services (upload,
   undo, recompute), which keep the figures and the record consistent. Apply it to any new
   model of that kind::

       @admin.register(AuditEvent)
       class AuditEventAdmin(ReadOnlyModelAdmin):
           list_display = [...]

2. `RoleSafeUserAdmin` and `RoleSafeGroupAdmin`: nobody climbs a role. Only superusers grant or
   remove superuser or staff status, change a user's groups or permissions, change or delete a
   superuser, or edit groups. The Admin role manages ordinary users (names, e-mail, password,
   active) and sees the rest read-only.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, User
from django.http import HttpRequest

# Fields of a user that only a superuser may change: each of them grants access.
PRIVILEGE_FIELDS = ("is_superuser", "is_staff", "groups", "user_permissions")


class ReadOnlyAdminMixin:
    """Viewable (with the model's view permission), never added, changed or deleted here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyModelAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):  # type: ignore[type-arg]
    pass


class RoleSafeUserAdmin(UserAdmin):  # type: ignore[type-arg]
    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        fields = list(super().get_readonly_fields(request, obj))
        if not request.user.is_superuser:
            fields += [f for f in PRIVILEGE_FIELDS if f not in fields]
        return fields

    def _touches_superuser(self, request: HttpRequest, obj: Any) -> bool:
        return obj is not None and obj.is_superuser and not request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._touches_superuser(request, obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return not self._touches_superuser(request, obj) and super().has_delete_permission(request, obj)


class RoleSafeGroupAdmin(GroupAdmin):
    """Groups carry the roles' permissions: only superusers edit them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return bool(request.user.is_superuser)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return bool(request.user.is_superuser)


def user_admin_register(site: admin.AdminSite = admin.site) -> None:
    """Replace the stock user and group admins with the role-safe ones (idempotent)."""
    for model, model_admin in ((User, RoleSafeUserAdmin), (Group, RoleSafeGroupAdmin)):
        if site.is_registered(model):
            site.unregister(model)
        site.register(model, model_admin)
