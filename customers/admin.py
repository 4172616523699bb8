from __future__ import annotations

from django.contrib import admin

from clv_dashboard.admin_base import ReadOnlyModelAdmin

from .models import CostEntry, Customer, HeaderMapping, ImportJob, Transaction


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["external_id", "name", "region", "product_line", "business_unit", "acquisition_channel", "referred_by"]
    search_fields = ["external_id", "name", "referred_by"]
    list_filter = ["region", "product_line", "business_unit", "acquisition_channel"]


@admin.register(Transaction)
class TransactionAdmin(ReadOnlyModelAdmin):
    """Rows belong to the import that loaded them: they change by importing or undoing."""

    list_display = ["order_id", "customer", "order_date", "revenue", "cost", "import_job"]
    raw_id_fields = ["customer", "import_job"]
    date_hierarchy = "order_date"
    show_full_result_count = False


@admin.register(CostEntry)
class CostEntryAdmin(ReadOnlyModelAdmin):
    """Rows belong to the import that loaded them: they change by importing or undoing."""

    list_display = ["month", "kind", "amount", "segment_dimension", "segment_value", "import_job"]
    list_filter = ["kind", "segment_dimension"]


@admin.register(ImportJob)
class ImportJobAdmin(ReadOnlyModelAdmin):
    """Imports are created by uploading and undone on their page, never here."""

    list_display = ["id", "kind", "original_name", "status", "rows_written", "created_by", "created_at"]
    list_filter = ["kind", "status"]


@admin.register(HeaderMapping)
class HeaderMappingAdmin(ReadOnlyModelAdmin):
    """Learned when a hand-mapped import loads (customers.services.headers), never edited here."""

    list_display = ["kind", "mapping", "username", "updated_at", "times_applied"]
    list_filter = ["kind"]
