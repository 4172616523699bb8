from __future__ import annotations

from django.urls import path

from clv_dashboard.placeholder import placeholder

app_name = "metrics"
urlpatterns = [
    path("assumptions/", placeholder, name="assumptions"),
]
