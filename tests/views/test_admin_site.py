"""The Django admin: brands with their quota columns, quota validation errors shown in place."""

from __future__ import annotations

from django.contrib.auth import get_user_model


def test_admin_shows_clear_error_for_bad_quota(client, brand):
    admin = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin)
    url = f"/admin/brands/brand/{brand.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = {
        "slug": brand.slug, "name": brand.name, "is_active": "on",
        "quota-TOTAL_FORMS": "1", "quota-INITIAL_FORMS": "1", "quota-MIN_NUM_FORMS": "0",
        "quota-MAX_NUM_FORMS": "1", "quota-0-id": str(brand.quota.pk), "quota-0-brand": str(brand.pk),
        "quota-0-max_keys": "0", "quota-0-max_value_bytes": "512", "quota-0-default_ttl": "7200",
        "quota-0-max_ttl": "3600", "quota-0-max_ops_per_execution": "20",
        "quota-0-script_timeout_ms": "1000", "quota-0-script_memory_mb": "32",
        "memberships-TOTAL_FORMS": "0", "memberships-INITIAL_FORMS": "0",
        "memberships-MIN_NUM_FORMS": "0", "memberships-MAX_NUM_FORMS": "1000",
    }
    response = client.post(url, form)
    assert response.status_code == 200  # the form comes back with errors, nothing saved
    body = response.content.decode()
    assert "Ensure this value is greater than or equal to 1." in body
    assert "cannot exceed the maximum TTL" in body
    brand.quota.refresh_from_db()
    assert brand.quota.max_keys == 50_000 and brand.quota.default_ttl == 3600


def test_admin_lists_brands_with_quota_columns(client, brand_factory):
    brand_factory("alpha", max_keys=123)
    admin = get_user_model().objects.create_superuser("root", password="pw-root-123")
    client.force_login(admin)
    response = client.get("/admin/brands/brand/?q=alpha")
    assert response.status_code == 200
    body = response.content.decode()
    # The quota's column, in the brand's row (not just "123" somewhere on the page).
    assert '<td class="field-max_keys">123</td>' in body
    assert '<th class="field-slug"><a href="/admin/brands/brand/' in body and ">alpha</a>" in body


# ---------------------------------------------------------------------------- issue 11: operators


def _superuser_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", password="pw-root-123"))
    return client


def test_brand_delete_page_counts_the_keys_and_deleting_removes_them(client, brand, cache):
    from brands.cache import redis_client
    from brands.models import AuditEntry, Brand

    for i in range(3):
        cache.set(f"k{i}", i)
    keys = cache.keys
    AuditEntry.objects.create(brand=brand, action="key.update", target="k0")
    _superuser_client(client)
    page = client.get(f"/admin/brands/brand/{brand.pk}/delete/").content.decode()
    assert "This also deletes the brand's 3 cache keys in Redis" in page
    assert "permission to delete" not in page  # the read-only audit entries do not block it
    response = client.post(f"/admin/brands/brand/{brand.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Brand.objects.filter(pk=brand.pk).exists()
    assert redis_client().exists(*(keys.value(f"k{i}") for i in range(3)), *keys.index_keys) == 0


def test_brand_delete_is_refused_while_redis_is_down(client, brand, cache, settings):
    from brands.models import Brand
    from tests.support.dead_redis import DEAD_REDIS_CACHES

    cache.set("k", 1)
    _superuser_client(client)
    real = settings.CACHES
    settings.CACHES = DEAD_REDIS_CACHES
    page = client.get(f"/admin/brands/brand/{brand.pk}/delete/").content.decode()
    assert "cannot be reached right now" in page
    response = client.post(f"/admin/brands/brand/{brand.pk}/delete/", {"post": "yes"}, follow=True)
    assert "was not deleted" in response.content.decode()
    assert Brand.objects.filter(pk=brand.pk).exists()
    settings.CACHES = real
    assert cache.get("k") == 1


def test_bulk_delete_action_removes_every_selected_brands_keys(client, brand_factory):
    from brands.cache import BrandCache
    from brands.models import Brand

    brands = [brand_factory(), brand_factory()]
    for brand in brands:
        BrandCache.for_brand(brand).set("k", 1)
    _superuser_client(client)
    data = {"action": "delete_selected", "_selected_action": [b.pk for b in brands]}
    confirm = client.post("/admin/brands/brand/", data).content.decode()
    assert "also deletes every cache key of the selected brands" in confirm
    client.post("/admin/brands/brand/", {**data, "post": "yes"})
    assert not Brand.objects.filter(pk__in=[b.pk for b in brands]).exists()
    for brand in brands:
        assert BrandCache.for_brand(brand).live_count() == 0


def test_audit_entries_are_read_only_even_for_superusers(client, brand):
    from brands.models import AuditEntry

    entry = AuditEntry.objects.create(brand=brand, action="key.update", target="k", detail="d")
    _superuser_client(client)
    assert client.get("/admin/brands/auditentry/").status_code == 200
    view = client.get(f"/admin/brands/auditentry/{entry.pk}/change/")
    assert view.status_code == 200 and 'name="_save"' not in view.content.decode()
    assert client.get("/admin/brands/auditentry/add/").status_code == 403
    forged = {"brand": brand.pk, "action": "forged", "target": "k", "outcome": "ok", "detail": "x"}
    assert client.post(f"/admin/brands/auditentry/{entry.pk}/change/", forged).status_code == 403
    assert client.post(f"/admin/brands/auditentry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    bulk = {"action": "delete_selected", "_selected_action": [entry.pk], "post": "yes"}
    client.post("/admin/brands/auditentry/", bulk)
    entry.refresh_from_db()
    assert (entry.action, entry.detail) == ("key.update", "d")
