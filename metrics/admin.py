from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from audit.services import audit_record_tokens_revoked
from clv_dashboard.admin_base import ReadOnlyModelAdmin

from .board.selectors import dimension_label, value_label
from .models import (
    COMPANY,
    ApiToken,
    AssumptionSet,
    MonthClose,
    MonthlySnapshot,
    PredictiveFit,
    PublishedSnapshot,
    RecomputeRun,
)


@admin.register(AssumptionSet)
class AssumptionSetAdmin(ReadOnlyModelAdmin):
    """Read-only here: assumptions change through the assumptions page, which versions them."""

    list_display = ["version", "annual_discount_rate", "activity_window_months", "retention_source", "created_by", "created_at"]


class ScopeColumnsMixin:
    """A snapshot's scope in the reader's language ("unassigned" and the dimensions translated)."""

    @admin.display(description=_("scope dimension"), ordering="scope_dimension")
    def scope_dimension_shown(self, obj: MonthlySnapshot | PublishedSnapshot) -> str:
        return str(_("Company")) if obj.scope_dimension == COMPANY else dimension_label(obj.scope_dimension)

    @admin.display(description=_("scope value"), ordering="scope_value")
    def scope_value_shown(self, obj: MonthlySnapshot | PublishedSnapshot) -> str:
        return value_label(obj.scope_value) if obj.scope_value else ""


@admin.register(MonthlySnapshot)
class MonthlySnapshotAdmin(ScopeColumnsMixin, ReadOnlyModelAdmin):
    """Snapshots are written by the recompute only."""

    list_display = ["month", "scope_dimension_shown", "scope_value_shown", "customers_end", "clv", "customer_equity",
                    "assumption_set"]
    list_filter = ["scope_dimension"]
    show_full_result_count = False


@admin.register(MonthClose)
class MonthCloseAdmin(ReadOnlyModelAdmin):
    """Months are closed and reopened on the assumptions page (or the commands), which record it."""

    list_display = ["month", "closed_at", "closed_by_name", "assumption_set", "reopened_at", "reopened_by_name"]


@admin.register(PublishedSnapshot)
class PublishedSnapshotAdmin(ScopeColumnsMixin, ReadOnlyModelAdmin):
    """Published figures never change."""

    list_display = ["month", "scope_dimension_shown", "scope_value_shown", "customers_end", "customer_equity", "close"]
    list_filter = ["scope_dimension"]
    show_full_result_count = False


@admin.register(RecomputeRun)
class RecomputeRunAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "trigger_shown", "status", "from_month", "duration_seconds", "created_at"]
    list_filter = ["status", "trigger"]


@admin.register(PredictiveFit)
class PredictiveFitAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "status", "data_date", "n_customers", "model", "model_log_likelihood", "started_at"]


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens are issued with `manage.py issue_api_token USER` (the key is shown once); here
    admins see them and revoke them."""

    list_display = ["prefix", "user", "name", "created_at", "last_used_at", "revoked"]
    list_filter = ["revoked"]
    readonly_fields = ["key_hash", "prefix", "last_used_at"]
    actions = ["revoke"]

    # The page says how tokens are issued, since none can be added here (the list starts empty).
    change_list_template = "admin/metrics/apitoken/change_list.html"

    @admin.action(description=_("Revoke the selected tokens"))
    def revoke(self, request: Any, queryset: QuerySet[ApiToken]) -> None:
        audit_record_tokens_revoked(tokens=queryset.filter(revoked=False).select_related("user"), request=request)
        count = queryset.update(revoked=True)
        self.message_user(request, gettext("%(count)s token(s) revoked.") % {"count": count})

    def has_add_permission(self, request: Any) -> bool:
        # A key typed in here would be stored as is, not hashed: use issue_api_token.
        return False
