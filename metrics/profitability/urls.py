from __future__ import annotations

from django.urls import path

from . import views

app_name = "profitability"
urlpatterns = [
    path("", views.profitability, name="index"),
    path("export.csv", views.profitability_export, name="export"),
]
