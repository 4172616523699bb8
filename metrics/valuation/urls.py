from __future__ import annotations

from django.urls import path

from . import views

app_name = "valuation"
urlpatterns = [
    path("", views.investor_view, name="index"),
    path("market-value/", views.market_value, name="market_value"),
]
