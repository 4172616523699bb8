from __future__ import annotations

from django.urls import path

from . import views

app_name = "imports"
urlpatterns = [
    path("", views.import_list, name="list"),
    path("<int:pk>/", views.import_detail, name="detail"),
    path("<int:pk>/progress/", views.import_progress, name="progress"),
    path("<int:pk>/errors.csv", views.import_report, name="report"),
    path("<int:pk>/undo/", views.import_undo_view, name="undo"),
    path("<int:pk>/rerun/", views.import_rerun_view, name="rerun"),
]
