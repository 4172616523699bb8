from __future__ import annotations

from django.urls import path

from . import views

app_name = "aliases"
urlpatterns = [
    path("", views.alias_list, name="list"),
    path("add/", views.alias_create, name="add"),
    path("<int:pk>/retire/", views.alias_retire_view, name="retire"),
]
