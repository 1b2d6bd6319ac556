from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import path, register_converter
from django.utils.functional import lazy
from django.views.generic import RedirectView

from brands.converters import CacheKeyConverter
from brands.views import audit as audit_views
from brands.views import bulk as bulk_views
from brands.views import console as console_views
from brands.views import health, home
from brands.views import key as key_views
from brands.views import keys as keys_views
from brands.views import metrics as metrics_views
from brands.views import staff as staff_views
from brands.views import usage as usage_views

register_converter(CacheKeyConverter, "cachekey")

urlpatterns = [
    path("", home.home, name="home"),
    path("healthz", health.healthz, name="healthz"),
    # Pages without our <link rel="icon"> (the Django admin) make browsers ask for /favicon.ico.
    # Lazy: a manifest static storage may only answer once collectstatic has run.
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg"), permanent=True)),
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("b/<slug:slug>/usage/", usage_views.usage, name="usage"),
    path("staff/quotas/", staff_views.quotas, name="staff-quotas"),
    path("staff/quotas/<slug:slug>/edit/", staff_views.quota_edit, name="staff-quota-edit"),
    path("metrics", metrics_views.metrics, name="metrics"),
    # Key pages. "new/" and "bulk/..." come before the key routes; a key named "new" or "bulk"
    # gets a "~" in its URL (brands.converters).
    path("b/<slug:slug>/keys/", keys_views.key_browser, name="keys"),
    path("b/<slug:slug>/keys/new/", key_views.key_create, name="key-create"),
    path("b/<slug:slug>/keys/bulk/", bulk_views.keys_bulk, name="keys-bulk"),
    path("b/<slug:slug>/keys/bulk/delete/", bulk_views.bulk_delete, name="bulk-delete"),
    path("b/<slug:slug>/keys/bulk/export/", bulk_views.keys_export, name="keys-export"),
    path("b/<slug:slug>/keys/bulk/import/", bulk_views.keys_import, name="keys-import"),
    path("b/<slug:slug>/keys/<cachekey:key>/", key_views.key_detail, name="key-detail"),
    path("b/<slug:slug>/keys/<cachekey:key>/delete/", key_views.key_delete, name="key-delete"),
    path("b/<slug:slug>/keys/<cachekey:key>/increment/", key_views.key_increment, name="key-increment"),
    path("b/<slug:slug>/usage-bar/", usage_views.usage_bar, name="brand-usage-bar"),
    path("b/<slug:slug>/audit/", audit_views.audit_log, name="audit"),
    # Script console: run scripts (POST, htmx or JSON), history reloaded after each run.
    path("b/<slug:slug>/console/", console_views.console, name="console"),
    path("b/<slug:slug>/console/history/", console_views.console_history, name="console-history"),
]
