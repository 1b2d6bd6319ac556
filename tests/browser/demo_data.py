"""Realistic demo data for the screenshots (and any browser test that wants a full brand).

A shop brand with a few dozen keys in several namespaces, a week of usage snapshots, a short
audit trail, and three more brands at different levels of their key limits for the staff
monitor. Everything goes through the cache service and the models, as the app itself does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from brands.audit import audit_record
from brands.cache import BrandCache
from brands.models import Brand, Membership, UsageSnapshot
from brands.usage import usage_snapshots_record

DEMO_PASSWORD = "demo-pass-2024"


@dataclass
class Demo:
    brand: Brand
    admin: object
    viewer: object
    staff: object
    others: list[Brand]


def _shop_keys() -> list[tuple[str, object, int]]:
    """(key, value, ttl seconds) of the shop brand: what an online shop's backend caches."""
    keys: list[tuple[str, object, int]] = []
    sessions = ["a81f3c", "b27d90", "c3e4aa", "d90b12", "e55c07", "f0a9e1"]
    for i, token in enumerate(sessions):
        keys.append((f"session:{token}", {"user": 1040 + i, "cart_items": i % 4, "locale": "en-GB"},
                     1800 - i * 170))
    names = ["Ada Lovelace", "Grace Hopper", "Alan Turing", "Katherine Johnson", "Linus Torvalds"]
    for i, name in enumerate(names):
        uid = 1040 + i
        keys.append((f"user:{uid}:profile", {"name": name, "tier": ["gold", "silver", "bronze"][i % 3],
                                              "orders": 3 + i * 7}, 3600))
        if i < 3:
            keys.append((f"user:{uid}:prefs", {"newsletter": i % 2 == 0, "currency": "EUR"}, 3000))
    for i in range(5):
        keys.append((f"cart:{2201 + i}", [{"sku": f"SKU-{1042 + i * 3}", "qty": 1 + i % 2},
                                          {"sku": "SKU-2077", "qty": 1}][: 1 + i % 2], 900 + i * 60))
    for flag, on in [("new-checkout", True), ("gift-wrap", False), ("dark-mode", True),
                     ("express-shipping", True), ("reviews-v2", False)]:
        keys.append((f"feature:{flag}", on, 3600))
    for client, count in [("mobile-app", 412), ("web", 1280), ("partner-feed", 37), ("search", 96)]:
        keys.append((f"rate:api:{client}", count, 60))
    keys += [
        ("config:checkout", {"min_order": 15, "free_shipping_from": 60, "currency": "EUR"}, 3600),
        ("config:shipping:eu", {"carrier": "DHL", "days": [2, 4], "price": 4.9}, 3600),
        ("config:shipping:us", {"carrier": "UPS", "days": [5, 9], "price": 12.5}, 3600),
    ]
    for sku, stock in [(1042, 17), (1045, 0), (1048, 230), (1051, 8), (2077, 64)]:
        keys.append((f"product:SKU-{sku}:stock", stock, 600))
    keys += [
        ("homepage-banner", "Summer sale: 20 % off all rain jackets", 3600),
        ("search:top-queries", ["rain jacket", "hiking boots", "merino socks", "tent"], 1200),
    ]
    return keys


def _fill(brand: Brand, count: int, namespace: str) -> None:
    cache = BrandCache.for_brand(brand)
    for i in range(count):
        cache.set(f"{namespace}:{i:03d}", {"n": i}, 3600)


def _snapshots(brand: Brand, *, start: int, end: int, days: int = 7, step_hours: int = 3) -> None:
    """A week of snapshots rising from ``start`` to ``end`` with a daily rhythm."""
    now = timezone.now()
    steps = days * 24 // step_hours
    rows = []
    for i in range(steps + 1):
        frac = i / steps
        daily = math.sin(i * step_hours / 24 * 2 * math.pi) * 0.06 * end
        live = max(0, round(start + (end - start) * frac + daily))
        rows.append(UsageSnapshot(
            brand=brand, taken_at=now - timedelta(hours=(steps - i) * step_hours),
            live_keys=live, max_keys=brand.quota.max_keys, stored_bytes=live * 58,
            refused_writes=i // 8,
        ))
    UsageSnapshot.objects.bulk_create(rows)


def build_demo(brand_factory, user_factory) -> Demo:
    brand = brand_factory("northwind", name="Northwind Outfitters", max_keys=60)
    cache = BrandCache.for_brand(brand)
    for key, value, ttl in _shop_keys():
        assert cache.set(key, value, ttl), (key, cache.warnings)
    # One refused write, so the usage page's refused counter is not a bare zero.
    cache.set("config:too-big", "x" * 600)

    admin = user_factory("maria", password=DEMO_PASSWORD)
    viewer = user_factory("viktor", password=DEMO_PASSWORD)
    staff = user_factory("sam", staff=True, password=DEMO_PASSWORD)
    Membership.objects.create(user=admin, brand=brand, role=Membership.Role.ADMIN)
    Membership.objects.create(user=viewer, brand=brand, role=Membership.Role.VIEWER)

    others = [
        brand_factory("blue-bikes", name="Blue Bikes", max_keys=40),
        brand_factory("harbor-coffee", name="Harbor Coffee", max_keys=30),
        brand_factory("pixel-print", name="Pixel Print"),
    ]
    _fill(others[0], 39, "route")
    _fill(others[1], 25, "order")
    _fill(others[2], 12, "job")
    Membership.objects.create(user=admin, brand=others[2], role=Membership.Role.VIEWER)

    live = BrandCache.for_brand(brand).live_count()
    _snapshots(brand, start=max(live - 18, 1), end=live)
    _snapshots(others[0], start=22, end=39)
    _snapshots(others[1], start=10, end=25)
    _snapshots(others[2], start=12, end=12)
    # One more, as record_usage takes it: the staff monitor's forecasts ("Limit reached").
    usage_snapshots_record()

    # The same actions and wording the views record (brands/views/keys.py).
    for action, target, outcome, detail in [
        ("bulk.import", "northwind-keys.jsonl", "ok", "38 written, 0 refused"),
        ("key.create", "feature:reviews-v2", "ok", "5 bytes, TTL 3600 s"),
        ("key.update", "config:checkout", "ok", "57 bytes, TTL 3600 s"),
        ("key.increment", "product:SKU-2077:stock", "ok", "by 12, now 64"),
        ("key.create", "config:too-big", "refused",
         "value: The value is 602 bytes as compact JSON, above this brand's limit of 512 bytes."),
        ("bulk.delete_prefix", "tmp:", "ok", "7 keys deleted"),
        ("key.delete", "cart:2199", "ok", ""),
    ]:
        audit_record(brand=brand, user=admin, action=action, target=target, outcome=outcome,
                     detail=detail)
    return Demo(brand=brand, admin=admin, viewer=viewer, staff=staff, others=others)
