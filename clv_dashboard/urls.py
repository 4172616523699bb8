from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_not_required
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.i18n import set_language

from . import views
from .admin_base import user_admin_register

# Nobody climbs a role from the admin (clv_dashboard/admin_base.py); before admin.site.urls is
# read, since its views are bound to the model admins registered at that moment.
user_admin_register()

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("favicon.ico", views.favicon, name="favicon"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # The language switch works on the login page too.
    path("i18n/setlang/", login_not_required(set_language), name="set_language"),
    path("admin/", admin.site.urls),
    path("imports/", include("customers.urls")),
    path("board/", include("metrics.board.urls")),
    path("customers/", include("metrics.predictive.urls")),
    path("profitability/", include("metrics.profitability.urls")),
    path("valuation/", include("metrics.valuation.urls")),
    path("audit/", include("audit.urls")),
    path("aliases/", include("aliases.urls")),
    path("", include("metrics.urls")),
]

admin.site.site_header = _("Customer Equity Dashboard")
admin.site.site_title = _("Customer Equity Dashboard")
admin.site.index_title = _("Administration")
