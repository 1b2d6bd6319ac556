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
