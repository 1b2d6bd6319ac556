from __future__ import annotations

from django.contrib import admin

from brands.models import AuditEntry, Brand, Membership, QuotaSettings, ScriptRun, UsageSnapshot


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
    list_display = ["at", "brand", "user", "action", "target", "outcome"]
    list_filter = ["action", "outcome", "brand"]
    search_fields = ["target", "detail", "user__username"]
    date_hierarchy = "at"
    list_select_related = ["brand", "user"]


@admin.register(ScriptRun)
class ScriptRunAdmin(admin.ModelAdmin):
    list_display = ["at", "brand", "user", "ok", "ops", "duration_ms"]
    list_filter = ["ok", "brand"]
    search_fields = ["code", "error", "user__username"]
    date_hierarchy = "at"
    list_select_related = ["brand", "user"]
