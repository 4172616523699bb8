from __future__ import annotations

from django.urls import path

from . import views

app_name = "audit"
urlpatterns = [
    path("", views.audit_event_list, name="list"),
    path("export.<str:fmt>", views.audit_event_export, name="export"),
]
