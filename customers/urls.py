from __future__ import annotations

from django.urls import path

from clv_dashboard.placeholder import placeholder

app_name = "imports"
urlpatterns = [
    path("", placeholder, name="list"),
]
