from __future__ import annotations

from django.urls import path

from . import api, views
from .closing import views as closing_views
from .profitability import api as profitability_api

app_name = "metrics"
urlpatterns = [
    path("assumptions/", views.assumptions, name="assumptions"),
    path("assumptions/recompute-status/", views.recompute_status, name="recompute_status"),
    path("assumptions/close-month/", closing_views.month_close, name="month_close"),
    path("assumptions/reopen-month/", closing_views.month_reopen, name="month_reopen"),
    path("api/v1/snapshots/", api.snapshots, name="api_snapshots"),
    path("api/v1/snapshots/explain/", api.snapshot_explanation, name="api_snapshot_explain"),
    path("api/v1/customers/", profitability_api.customers, name="api_customers"),
]
