"""Safe editing in the dashboard: versioned saves with conflicts shown, the remaining TTL kept,
restore from the audit log (after a delete, a change, a bulk delete), bulk TTL / copy / rename
with dry runs, and the audit log's filters and CSV."""

from __future__ import annotations

import csv
import io
import json

import pytest

from brands.audit import audit_record
from brands.cache import BrandCache
from brands.models import AuditEntry, Membership
from brands.usage import QUOTA_FIELDS
from tests.support.htmx import HX


def url(brand, suffix: str = "") -> str:
    return f"/b/{brand.slug}/{suffix}"


def triggers(response) -> dict:
    return json.loads(response["HX-Trigger"])


def edit(cache, key, value, *, version=None, ttl=None) -> dict:
    data = {"value": value, "version": version or cache.key_info(key).version, "ttl_mode": "keep", "ttl": ""}
    if ttl is not None:
        data.update(ttl_mode="set", ttl=str(ttl))
    return data


# ---------------------------------------------------------------------------- saving


def test_saving_a_value_keeps_the_remaining_ttl(admin_client, brand, cache):
    cache.set("k", "old", 100)
    expiry = cache.key_info("k").expires_at_ms
    response = admin_client.post(url(brand, "keys/k/"), edit(cache, "k", '"new"'), **HX)
    assert triggers(response)["toast"]["message"] == "Saved k."
    assert cache.get("k") == "new" and cache.key_info("k").expires_at_ms == expiry
    entry = AuditEntry.objects.get(action="key.update")
    assert entry.detail == '5 bytes, TTL kept'
    assert (entry.before_value, entry.after_value) == ('"old"', '"new"')
    assert entry.before_expires_at == entry.after_expires_at == expiry


def test_choosing_a_new_ttl_needs_one(admin_client, brand, cache):
    cache.set("k", 1, 100)
    data = edit(cache, "k", "2")
    data["ttl_mode"] = "set"
    body = admin_client.post(url(brand, "keys/k/"), data, **HX).content.decode()
    assert "Enter the new TTL, or keep the remaining one." in body and cache.get("k") == 1


def test_a_change_made_meanwhile_is_refused_and_shown_beside_yours(admin_client, brand, cache):
    cache.set("cfg", {"a": 1, "b": 2}, 600)
    opened = cache.key_info("cfg").version  # the user opens the page
    cache.set("cfg", {"a": 1, "b": 3}, 600)  # a script changes the key
    mine = edit(cache, "cfg", '{"a": 5, "b": 2}', version=opened)
    response = admin_client.post(url(brand, "keys/cfg/"), mine, **HX)
    body = response.content.decode()
    assert response.status_code == 200 and cache.get("cfg") == {"a": 1, "b": 3}  # not overwritten
    assert "changed since you opened it" in body and "Nothing was written." in body
    assert "Now in the cache" in body and "Your change" in body
    assert "&quot;b&quot;: 3" in body and "&quot;a&quot;: 5" in body
    assert 'class="diff-line diff-removed"' in body and 'class="diff-line diff-added"' in body
    assert "Overwrite with my value" in body and "Discard my change" in body
    assert triggers(response)["toast"]["level"] == "warn"
    assert AuditEntry.objects.get(action="key.update").outcome == "refused"
    # "Overwrite" sends the same change against the version now shown: it is written.
    current = cache.key_info("cfg").version
    assert f'name="version" value="{current}"' in body
    again = admin_client.post(url(brand, "keys/cfg/"), {**mine, "version": current}, **HX)
    assert triggers(again)["toast"]["message"] == "Saved cfg." and cache.get("cfg") == {"a": 5, "b": 2}


def test_a_key_deleted_meanwhile_is_not_recreated_by_a_save(admin_client, brand, cache):
    cache.set("k", 1, 600)
    opened = cache.key_info("k").version
    cache.delete("k")
    response = admin_client.post(url(brand, "keys/k/"), edit(cache, "k", "2", version=opened), **HX)
    body = response.content.decode()
    assert "was deleted or has expired since you opened it" in body and "Saved" not in body
    assert not cache.has("k") and cache.live_count() == 0
    assert "Create it again with my value" in body
    # Creating it again is an explicit choice; "keep the TTL" means the expiry the user saw.
    data = edit(cache, "k", "2", version=opened)
    data["recreate"] = "1"
    again = admin_client.post(url(brand, "keys/k/"), data, **HX)
    assert triggers(again)["toast"]["message"] == "Created k again."
    assert cache.get("k") == 2 and cache.key_info("k").expires_at_ms == int(opened.split(":")[0])


def test_delete_and_increment_carry_the_version_too(admin_client, brand, cache):
    cache.set("n", 1, 600)
    opened = cache.key_info("n").version
    cache.increment("n", 5)
    inc = admin_client.post(url(brand, "keys/n/increment/"), {"amount": "1", "version": opened}, **HX)
    assert "changed since you opened it" in inc.content.decode() and cache.get("n") == 6
    assert "Add 1 to the current value" in inc.content.decode()
    delete = admin_client.post(url(brand, "keys/n/delete/"), {"version": opened}, **HX)
    assert "Delete it anyway" in delete.content.decode() and cache.has("n")
    # Without a version at all (a stale page): refused, nothing deleted.
    stale = admin_client.post(url(brand, "keys/n/delete/"), {}, **HX)
    assert triggers(stale)["toast"]["level"] == "error" and cache.has("n")


def test_deleting_a_row_from_the_list_refreshes_counts_tree_and_empty_state(admin_client, brand, cache):
    cache.set("rate:api", 1)
    cache.set("other", 1)
    version = cache.key_info("rate:api").version
    response = admin_client.post(url(brand, "keys/rate:api/delete/"),
                                 {"version": version, "from": "list", "prefix": "rate:", "n": "50"}, **HX)
    body = response.content.decode()
    assert "<strong>0</strong> of <strong>0</strong> keys starting with <code>rate:</code>" in body
    assert "Nothing under <code>rate:</code>" in body  # the empty state
    tree = body.split('<div id="tree-root" hx-swap-oob="innerHTML">')[1]
    assert "rate:" not in tree and ">other</a>" in tree
    assert "Deleted <code>rate:api</code>." in body and "Undo" in body
    assert 'data-focus-key=""' in body
    assert triggers(response)["toast"]["message"] == "Deleted rate:api."


# ---------------------------------------------------------------------------- restore


def restore(client, brand, entry, **data):
    return client.post(url(brand, f"audit/{entry.pk}/restore/"), data)


def test_restore_after_delete(admin_client, brand, cache):
    cache.set("k", {"v": 1}, 600)
    expiry = cache.key_info("k").expires_at_ms
    admin_client.post(url(brand, "keys/k/delete/"), {"version": cache.key_info("k").version})
    entry = AuditEntry.objects.get(action="key.delete")
    assert entry.before_value == '{"v":1}' and entry.after_value is None
    response = restore(admin_client, brand, entry)
    assert response.status_code == 302 and response["Location"] == url(brand, "audit/")
    assert cache.get("k") == {"v": 1} and cache.key_info("k").expires_at_ms == expiry
    restored = AuditEntry.objects.get(action="key.restore")
    assert restored.outcome == "ok" and restored.restores == entry and restored.after_value == '{"v":1}'
    # Again: the key exists now, so the restore is refused with the reason, and audited.
    restore(admin_client, brand, entry)
    refused = AuditEntry.objects.filter(action="key.restore").latest("id")
    assert refused.outcome == "refused" and "exists again" in refused.detail
    page = admin_client.get(url(brand, "audit/")).content.decode()
    assert "exists again" in page or "Restore tried by" in page


def test_restore_after_change(admin_client, brand, cache):
    cache.set("k", "one", 600)
    admin_client.post(url(brand, "keys/k/"), edit(cache, "k", '"two"', ttl=60))
    entry = AuditEntry.objects.get(action="key.update")
    assert restore(admin_client, brand, entry).status_code == 302
    assert cache.get("k") == "one" and cache.key_info("k").ttl_seconds > 500  # its old expiry too


def test_restore_refused_when_a_newer_change_stands_in_the_way(admin_client, brand, cache):
    cache.set("k", "one", 600)
    admin_client.post(url(brand, "keys/k/"), edit(cache, "k", '"two"'))
    cache.set("k", "three", 600)  # a newer change
    entry = AuditEntry.objects.get(action="key.update")
    response = admin_client.post(url(brand, f"audit/{entry.pk}/restore/"), follow=True)
    assert "a newer change stands in the way" in response.content.decode()
    assert cache.get("k") == "three"


def test_restore_refused_at_the_key_limit(client, brand_factory, member_factory):
    brand = brand_factory(max_keys=1)
    client.force_login(member_factory(brand))
    cache = BrandCache.for_brand(brand)
    cache.set("a", 1, 600)
    client.post(url(brand, "keys/a/delete/"), {"version": cache.key_info("a").version})
    cache.set("b", 2)
    entry = AuditEntry.objects.get(action="key.delete")
    body = client.post(url(brand, f"audit/{entry.pk}/restore/"), follow=True).content.decode()
    assert "at its key limit of 1 keys" in body and not cache.has("a")


def test_restore_after_a_bulk_delete(admin_client, brand, cache):
    for i in range(5):
        cache.set(f"tmp:{i}", i, 600)
    admin_client.post(url(brand, "keys/bulk/delete/"), {"prefix": "tmp:", "expected": "5"})
    entry = AuditEntry.objects.get(action="bulk.delete_prefix")
    assert entry.undo_token and entry.undo_until and cache.count_prefix("tmp:") == 0
    page = admin_client.get(url(brand, "audit/")).content.decode()
    assert "Restore the deleted keys" in page and "Deleted keys kept until" in page
    response = restore(admin_client, brand, entry, next=url(brand, "keys/?prefix=tmp:"))
    assert response["Location"] == url(brand, "keys/?prefix=tmp:")
    assert cache.count_prefix("tmp:") == 5 and cache.get("tmp:3") == 3
    follow = admin_client.get(response["Location"]).content.decode()
    assert "Restored 5 of 5 keys deleted under tmp:." in follow
    assert AuditEntry.objects.get(action="bulk.restore").detail == f"entry #{entry.pk}: 5 restored"


def test_restore_is_refused_for_viewers_and_other_brands(client, brand, brand_factory, member_factory):
    entry = audit_record(brand=brand, user=None, action="key.delete", target="k", before=None)
    other = brand_factory("elsewhere")
    client.force_login(member_factory(other))
    assert client.post(f"/b/elsewhere/audit/{entry.pk}/restore/").status_code == 404
    client.force_login(member_factory(brand, Membership.Role.VIEWER))
    assert client.post(url(brand, f"audit/{entry.pk}/restore/")).status_code == 403


def test_restore_offered_only_where_it_can_work(admin_client, brand):
    audit_record(brand=brand, user=None, action="bulk.import", target="f.jsonl")
    audit_record(brand=brand, user=None, action="key.update", target="k", outcome="refused")
    body = admin_client.get(url(brand, "audit/")).content.decode()
    assert "restore-form" not in body


# ---------------------------------------------------------------------------- bulk TTL, copy, rename


def test_bulk_ttl_dry_run_then_apply(admin_client, brand, cache):
    for i in range(3):
        cache.set(f"s:{i}", i, 3000)
    dry = admin_client.get(url(brand, "keys/bulk/ttl/"), {"prefix": "s:", "ttl": "60"}, **HX).content.decode()
    assert "dry run" in dry and "<strong>3</strong> would be changed" in dry and "→ 60 s" in dry
    assert cache.key_info("s:0").ttl_seconds > 2900
    response = admin_client.post(url(brand, "keys/bulk/ttl/"), {"prefix": "s:", "ttl": "60", "expected": "3"},
                                 **HX)
    assert triggers(response)["toast"]["message"] == "Set the TTL of 3 keys to 60 s."
    assert all(cache.key_info(f"s:{i}").ttl_seconds <= 60 for i in range(3))
    assert AuditEntry.objects.get(action="bulk.set_ttl").detail == "3 keys: TTL set to 60 s"
    bad = admin_client.get(url(brand, "keys/bulk/ttl/"), {"prefix": "s:", "ttl": "999999"}, **HX)
    assert "less than or equal to 3600" in bad.content.decode()


def test_bulk_copy_and_rename_with_refusals(client, brand_factory, member_factory):
    brand = brand_factory(max_keys=5)
    client.force_login(member_factory(brand))
    cache = BrandCache.for_brand(brand)
    for i in range(3):
        cache.set(f"a:{i}", i)
    dry = client.get(url(brand, "keys/bulk/copy/"), {"prefix": "a:", "target": "b:", "operation": "copy"},
                     **HX).content.decode()
    assert "<strong>2</strong> would be copied, <strong>1</strong> refused" in dry
    assert "the key limit is reached" in dry and 'name="expected" value="2"' in dry
    response = client.post(url(brand, "keys/bulk/copy/"),
                           {"prefix": "a:", "target": "b:", "operation": "copy", "expected": "2"}, **HX)
    assert triggers(response)["toast"]["message"] == (
        "Copied 2 of 3 keys from a: to b:. Not copied: 1 the key limit is reached.")
    assert cache.live_count() == 5
    rename = client.post(url(brand, "keys/bulk/copy/"),
                         {"prefix": "a:", "target": "c:", "operation": "rename", "expected": "3"}, **HX)
    assert triggers(rename)["toast"]["message"] == "Renamed 3 of 3 keys from a: to c:."
    assert cache.count_prefix("a:") == 0 and cache.count_prefix("c:") == 3
    actions = list(AuditEntry.objects.filter(brand=brand).values_list("action", flat=True).order_by("id"))
    assert actions == ["bulk.copy", "bulk.rename"]
    same = client.get(url(brand, "keys/bulk/copy/"), {"prefix": "c:", "target": "c:", "operation": "copy"},
                      **HX).content.decode()
    assert "The new prefix is the same as the old one" in same


# ---------------------------------------------------------------------------- audit filters, CSV


@pytest.fixture
def log(brand, member_factory):
    alice = member_factory(brand, username="alice")
    bob = member_factory(brand, username="bob")
    audit_record(brand=brand, user=alice, action="key.update", target="user:1")
    audit_record(brand=brand, user=bob, action="key.delete", target="user:2")
    audit_record(brand=brand, user=bob, action="bulk.delete_prefix", target="tmp:")
    audit_record(brand=brand, user=alice, action="script.run", written_keys=["user:9", "cart:1"])
    audit_record(brand=brand, user=None, action="member.add", target="carol",
                 detail='=HYPERLINK("http://evil")')
    return alice


def targets(body: str) -> list[str]:
    rows = body.split('<tr id="entry-')[1:]
    return [row.split('data-label="Action"><code>')[1].split("<")[0] for row in rows]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["member.add", "script.run", "bulk.delete_prefix", "key.delete", "key.update"]),
        ({"action": "key"}, ["key.delete", "key.update"]),
        ({"action": "key.delete"}, ["key.delete"]),
        ({"user": "alice"}, ["script.run", "key.update"]),
        ({"user": "-"}, ["member.add"]),
        ({"key": "user:"}, ["script.run", "key.delete", "key.update"]),  # a script that wrote user:9
        ({"key": "user:2"}, ["key.delete"]),
        ({"key": "cart:"}, ["script.run"]),
        ({"since": "2000-01-01", "until": "2000-01-02"}, []),
    ],
)
def test_audit_filters(client, brand, log, params, expected):
    client.force_login(log)
    body = client.get(url(brand, "audit/"), params, **HX).content.decode()
    assert targets(body) == expected


def test_audit_date_filter_uses_the_browser_zone(client, brand, log):
    client.force_login(log)
    entry = AuditEntry.objects.filter(brand=brand).latest("id")
    day = entry.at.date().isoformat()
    same_day = client.get(url(brand, "audit/"), {"since": day, "until": day}, **HX).content.decode()
    assert len(targets(same_day)) == 5
    bad = client.get(url(brand, "audit/"), {"since": "yesterday", "tz": "Mars/Base"}, **HX).content.decode()
    assert "is not a date" in bad and len(targets(bad)) == 5


def test_audit_csv_follows_the_filter_and_is_safe_in_spreadsheets(client, brand, log):
    client.force_login(log)
    response = client.get(url(brand, "audit/"), {"format": "csv", "user": "-"})
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith(f'attachment; filename="{brand.slug}-audit-')
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:6] == ["at", "user", "action", "key_or_prefix", "outcome", "detail"]
    assert len(rows) == 2 and rows[1][2] == "member.add" and rows[1][5].startswith("'=")
    everything = b"".join(client.get(url(brand, "audit/"), {"format": "csv"}).streaming_content).decode()
    assert "user:9 cart:1" in everything


# ---------------------------------------------------------------------------- quota below the live count


def test_quota_editor_warns_below_the_live_count(client, staff_user, brand_factory):
    brand = brand_factory("busy", max_keys=10)
    cache = BrandCache.for_brand(brand)
    for i in range(6):
        cache.set(f"k{i}", i)
    client.force_login(staff_user)
    page = client.get("/staff/quotas/busy/edit/").content.decode()
    assert "Live keys now: <strong>6</strong>" in page and 'data-live-keys="6"' in page
    data = {name: getattr(brand.quota, name) for name in QUOTA_FIELDS}
    data["max_keys"] = 4
    body = client.post("/staff/quotas/busy/edit/", data).content.decode()
    assert "The brand holds 6 live keys, more than a limit of 4" in body
    assert "every write that would create a key" in body and "Save anyway" in body
    brand.quota.refresh_from_db()
    assert brand.quota.max_keys == 10  # not saved without the confirmation
    response = client.post("/staff/quotas/busy/edit/", {**data, "confirm_below_live": "on"})
    assert response.status_code == 302
    brand.quota.refresh_from_db()
    assert brand.quota.max_keys == 4
    entry = AuditEntry.objects.get(action="quota.update")
    assert "below the 6 live keys: over its limit, confirmed" in entry.detail
