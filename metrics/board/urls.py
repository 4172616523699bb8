from __future__ import annotations

from django.urls import path

from . import views

app_name = "board"
urlpatterns = [
    path("", views.board_index, name="index"),
    path("pack/", views.board_pack, name="pack"),
    path("whatif/", views.board_whatif, name="whatif"),
    path("status/", views.board_status, name="status"),
    path("export.csv", views.board_export_csv, name="export_csv"),
    path("export.xlsx", views.board_export_xlsx, name="export_xlsx"),
]
