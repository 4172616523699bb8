from __future__ import annotations

from django.urls import path

from . import views
from .validation import views as validation_views

app_name = "predictive"
urlpatterns = [
    path("", views.customers_list, name="list"),
    path("export.csv", views.customers_export, name="export"),
    path("fit-status/", views.fit_status, name="fit_status"),
    path("fit/", views.fit_request, name="fit"),
    path("model-check/", validation_views.model_check, name="model_check"),
    path("<int:pk>/", views.customer_detail, name="detail"),
]
