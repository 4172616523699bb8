from __future__ import annotations

from django.contrib import admin

from clv_dashboard.admin_base import ReadOnlyModelAdmin

from .models import AliasVersion, SegmentAlias


@admin.register(SegmentAlias)
class SegmentAliasAdmin(ReadOnlyModelAdmin):
    """Changes go through the aliases page (versioned, audited, re-labelled): read-only here."""

    list_display = ["dimension", "value", "canonical", "added_in", "retired_in"]
    list_filter = ["dimension"]
    search_fields = ["value", "canonical"]


@admin.register(AliasVersion)
class AliasVersionAdmin(ReadOnlyModelAdmin):
    list_display = ["id", "created_at", "username", "change"]
