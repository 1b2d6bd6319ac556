from __future__ import annotations

from axes.admin import AccessAttemptAdmin
from axes.models import AccessAttempt
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.shortcuts import redirect

from brands.cache import BrandCache, CacheUnavailable, ping
from brands.lifecycle import delete_brand
from brands.models import (
    AlertChannels,
    AlertDelivery,
    AlertEvent,
    AlertThreshold,
    AuditEntry,
    Brand,
    Membership,
    QuotaSettings,
    ScriptRun,
    UsageSnapshot,
)


class QuotaSettingsInline(admin.StackedInline):
    model = QuotaSettings
    can_delete = False
    extra = 0
    max_num = 1
    fields = [
        ("max_keys", "max_value_bytes"),
        ("default_ttl", "max_ttl"),
        ("max_ops_per_execution", "script_timeout_ms", "script_memory_mb"),
        ("max_concurrent_scripts",),
    ]


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Brand)
class BrandAdmin(admin.ModelAdmin):
    list_display = ["slug", "name", "is_active", "max_keys", "max_value_bytes", "member_count", "created"]
    list_filter = ["is_active", "created"]
    search_fields = ["slug", "name"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["created"]
    list_select_related = ["quota"]

    def get_inlines(self, request, obj):
        # The quota row is created with the brand (Brand.save); on the add page an inline would
        # try to create a second one, so quotas are edited once the brand exists.
        return [QuotaSettingsInline, MembershipInline] if obj else [MembershipInline]

    def get_queryset(self, request):
        from django.db.models import Count

        return super().get_queryset(request).annotate(_members=Count("memberships"))

    @admin.display(ordering="quota__max_keys")
    def max_keys(self, obj: Brand) -> int:
        return obj.quota.max_keys

    @admin.display(ordering="quota__max_value_bytes", description="max value bytes")
    def max_value_bytes(self, obj: Brand) -> int:
        return obj.quota.max_value_bytes

    @admin.display(ordering="_members", description="members")
    def member_count(self, obj: Brand) -> int:
        return obj._members

    # Deleting: the brand's cache keys go too, through brands.lifecycle.delete_brand (the same
    # code as `manage.py brands delete`), and the confirmation pages say so.

    def delete_view(self, request, object_id, extra_context=None):
        brand = self.get_object(request, unquote(object_id))
        if brand is not None and request.method == "POST" and not ping():
            self.message_user(request, "The cache (Redis) cannot be reached, so the brand's keys cannot be "
                              f"deleted: brand {brand.slug!r} was not deleted. Try again when it answers.",
                              messages.ERROR)
            return redirect("admin:brands_brand_change", brand.pk)
        cache_keys = None
        if brand is not None:
            try:
                cache_keys = BrandCache.for_brand(brand, raise_unavailable=True).live_count()
            except CacheUnavailable:
                cache_keys = None
        return super().delete_view(request, object_id, {**(extra_context or {}), "cache_keys": cache_keys})

    def delete_model(self, request, obj: Brand) -> None:
        delete_brand(obj)

    def delete_queryset(self, request, queryset) -> None:
        if not ping():
            raise CacheUnavailable()
        for brand in queryset:
            delete_brand(brand)

    def get_deleted_objects(self, objs, request):
        # A brand's audit entries go with it (the rows cascade), although nobody may delete audit
        # entries one by one: that must not block deleting the brand.
        deleted, counts, perms_needed, protected = super().get_deleted_objects(objs, request)
        perms_needed.discard(str(AuditEntry._meta.verbose_name))
        return deleted, counts, perms_needed, protected


@admin.register(QuotaSettings)
class QuotaSettingsAdmin(admin.ModelAdmin):
    list_display = [
        "brand", "max_keys", "max_value_bytes", "default_ttl", "max_ttl",
        "max_ops_per_execution", "script_timeout_ms", "script_memory_mb", "max_concurrent_scripts", "updated",
    ]
    list_select_related = ["brand"]
    search_fields = ["brand__slug", "brand__name"]
    readonly_fields = ["brand"]

    def has_add_permission(self, request) -> bool:
        return False  # created with the brand


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "brand", "role", "created"]
    list_filter = ["role", "brand"]
    search_fields = ["user__username", "user__email", "brand__slug"]
    list_select_related = ["user", "brand"]
    autocomplete_fields = ["user", "brand"]


@admin.register(UsageSnapshot)
class UsageSnapshotAdmin(admin.ModelAdmin):
    list_display = ["brand", "taken_at", "live_keys", "max_keys", "stored_bytes", "refused_writes"]
    list_filter = ["brand"]
    date_hierarchy = "taken_at"
    list_select_related = ["brand"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read only for everyone, superusers included: an audit trail nobody can add to, edit or
    prune from the admin (entries go only with their brand)."""

    list_display = ["at", "brand", "user", "action", "target", "outcome"]
    list_filter = ["action", "outcome", "brand"]
    search_fields = ["target", "detail", "user__username"]
    date_hierarchy = "at"
    list_select_related = ["brand", "user"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ScriptRun)
class ScriptRunAdmin(admin.ModelAdmin):
    list_display = ["at", "brand", "user", "ok", "ops", "duration_ms"]
    list_filter = ["ok", "brand"]
    search_fields = ["code", "error", "user__username"]
    date_hierarchy = "at"
    list_select_related = ["brand", "user"]


class StaffAccessAttemptAdmin(AccessAttemptAdmin):
    """django-axes' failed log-ins and lock-outs ("Status": locked out), visible to every staff
    user, not only to those given its model permissions. Unlocking (deleting attempts) keeps
    axes' permission rules; `manage.py axes_reset_username NAME` does it from a shell."""

    def has_module_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_staff


if admin.site.is_registered(AccessAttempt):
    admin.site.unregister(AccessAttempt)
admin.site.register(AccessAttempt, StaffAccessAttemptAdmin)


# Quota alerts (brands/alerts): thresholds and channels editable here as on the brand's Alerts page
# (without its audit entries, like every admin change); alerts and deliveries are a record, read only.
@admin.register(AlertThreshold)
class AlertThresholdAdmin(admin.ModelAdmin):
    list_display = ["brand", "percent", "fired_at"]
    list_filter = ["percent"]
    search_fields = ["brand__slug"]


@admin.register(AlertChannels)
class AlertChannelsAdmin(admin.ModelAdmin):
    list_display = ["brand", "email_admins", "webhook_url", "updated"]
    search_fields = ["brand__slug", "webhook_url"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(AlertEvent)
class AlertEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "brand", "percent", "live_keys", "max_keys", "source"]
    list_filter = ["source"]


@admin.register(AlertDelivery)
class AlertDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created", "event", "channel", "state", "attempts", "next_attempt_at"]
    list_filter = ["channel", "state"]
