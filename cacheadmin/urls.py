from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import path

from brands.views import health, home
from brands.views import metrics as metrics_views
from brands.views import staff as staff_views
from brands.views import usage as usage_views

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("b/<slug:slug>/usage/", usage_views.usage, name="usage"),
    path("staff/quotas/", staff_views.quotas, name="staff-quotas"),
    path("staff/quotas/<slug:slug>/edit/", staff_views.quota_edit, name="staff-quota-edit"),
    path("metrics", metrics_views.metrics, name="metrics"),
]
