from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.templatetags.static import static
from django.urls import path, register_converter
from django.utils.functional import lazy
from django.views.generic import RedirectView

from brands.converters import CacheKeyConverter
from brands.views import alerts as alert_views
from brands.views import audit as audit_views
from brands.views import bulk as bulk_views
from brands.views import bulk_ops as bulk_ops_views
from brands.views import console as console_views
from brands.views import health, home
from brands.views import key as key_views
from brands.views import keys as keys_views
from brands.views import members as members_views
from brands.views import metrics as metrics_views
from brands.views import staff as staff_views
from brands.views import staff_brands as staff_brand_views
from brands.views import usage as usage_views
from brands.views import usage_analysis as usage_analysis_views

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
    path("b/<slug:slug>/usage/prefix/", usage_analysis_views.usage_prefix, name="usage-prefix"),
    path("staff/quotas/", staff_views.quotas, name="staff-quotas"),
    path("staff/quotas/<slug:slug>/edit/", staff_views.quota_edit, name="staff-quota-edit"),
    path("metrics", metrics_views.metrics, name="metrics"),
    # Quota alerts: a brand's thresholds and channels; the staff delivery log.
    path("b/<slug:slug>/alerts/", alert_views.alerts, name="brand-alerts"),
    path("b/<slug:slug>/alerts/thresholds/", alert_views.alerts_thresholds, name="brand-alerts-thresholds"),
    path("b/<slug:slug>/alerts/channels/", alert_views.alerts_channels, name="brand-alerts-channels"),
    path("b/<slug:slug>/alerts/secret/", alert_views.alerts_secret, name="brand-alerts-secret"),
    path("b/<slug:slug>/alerts/test/", alert_views.alerts_test, name="brand-alerts-test"),
    path("staff/alerts/", alert_views.alert_deliveries, name="staff-alert-deliveries"),
    # Key pages. "new/" and "bulk/..." come before the key routes; a key named "new" or "bulk"
    # gets a "~" in its URL (brands.converters).
    path("b/<slug:slug>/keys/", keys_views.key_browser, name="keys"),
    path("b/<slug:slug>/keys/new/", key_views.key_create, name="key-create"),
    path("b/<slug:slug>/keys/bulk/", bulk_views.keys_bulk, name="keys-bulk"),
    path("b/<slug:slug>/keys/bulk/delete/", bulk_ops_views.bulk_delete, name="bulk-delete"),
    path("b/<slug:slug>/keys/bulk/ttl/", bulk_ops_views.bulk_ttl, name="bulk-ttl"),
    path("b/<slug:slug>/keys/bulk/copy/", bulk_ops_views.bulk_copy, name="bulk-copy"),
    path("b/<slug:slug>/keys/bulk/export/", bulk_views.keys_export, name="keys-export"),
    path("b/<slug:slug>/keys/bulk/import/", bulk_views.keys_import, name="keys-import"),
    path("b/<slug:slug>/keys/<cachekey:key>/", key_views.key_detail, name="key-detail"),
    path("b/<slug:slug>/keys/<cachekey:key>/delete/", key_views.key_delete, name="key-delete"),
    path("b/<slug:slug>/keys/<cachekey:key>/increment/", key_views.key_increment, name="key-increment"),
    path("b/<slug:slug>/usage-bar/", usage_views.usage_bar, name="brand-usage-bar"),
    path("b/<slug:slug>/audit/", audit_views.audit_log, name="audit"),
    path("b/<slug:slug>/audit/<int:entry_id>/restore/", audit_views.audit_restore, name="audit-restore"),
    # Team: members of a brand (admins and staff manage them, everyone else reads the list).
    path("b/<slug:slug>/members/", members_views.members, name="members"),
    path("b/<slug:slug>/members/<int:member_id>/", members_views.member_change, name="member-change"),
    # Staff: create, rename, deactivate brands.
    path("staff/brands/new/", staff_brand_views.brand_create, name="staff-brand-create"),
    path("staff/brands/<slug:slug>/", staff_brand_views.brand_edit, name="staff-brand-edit"),
    # Script console: run scripts (POST, htmx or JSON), history reloaded after each run.
    path("b/<slug:slug>/console/", console_views.console, name="console"),
    path("b/<slug:slug>/console/history/", console_views.console_history, name="console-history"),
]

# Styled error pages with the navigation (they render without the database; brands.views.errors).
handler403 = "brands.views.errors.forbidden"
handler404 = "brands.views.errors.not_found"
handler500 = "brands.views.errors.server_error"
