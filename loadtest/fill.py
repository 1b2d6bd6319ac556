"""Fill the load-test instance: ``python -m loadtest.fill --keys 50000 --users 32``.

Runs with the served instance's environment (its VAR_DIR: its SQLite and embedded Redis).
Creates the brand (key limit twice the fill, so console writes are never refused), admin users
``load-01``..``load-NN`` and the keys, all through the models and the cache service, the way
the app writes them; and a week of hourly usage snapshots so the usage chart has data.
Idempotent: a rerun writes only what is missing.
"""

from __future__ import annotations

import argparse
import os
import time


def write_sessions(path: str, users: list) -> None:
    """A logged-in session per user, stored as Django's login() stores one, so that Locust users
    start logged in: a login hashes the password (PBKDF2, ~0.3 s of CPU), which at 32 users
    would eat the first seconds of every level. The login form itself is exercised by the
    driver's probes."""
    import json

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    sessions = {}
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = user._meta.pk.value_to_string(user)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.save()
        sessions[user.username] = session.session_key
    with open(path, "w") as out:
        json.dump(sessions, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=32)
    parser.add_argument("--sessions", help="write a logged-in session per user to this JSON file")
    args = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cacheadmin.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from brands.cache import BrandCache
    from brands.management.commands.seed_demo import fill_snapshots
    from brands.models import Brand, Membership
    from loadtest import data

    started = time.monotonic()
    brand, _ = Brand.objects.get_or_create(slug=data.SLUG, defaults={"name": "Load test brand"})
    quota = brand.quota
    quota.max_keys = max(quota.max_keys, 2 * args.keys, 1000)
    quota.full_clean()
    quota.save()

    User = get_user_model()
    password_hash = make_password(data.PASSWORD)  # hashed once, not once per user
    for number in range(1, args.users + 1):
        user, created = User.objects.get_or_create(username=data.username(number))
        if created or not user.check_password(data.PASSWORD):
            user.password = password_hash
            user.save(update_fields=["password"])
        Membership.objects.get_or_create(user=user, brand=brand, defaults={"role": Membership.Role.ADMIN})

    if args.sessions:
        accounts = [data.username(number) for number in range(1, args.users + 1)]
        write_sessions(args.sessions, list(User.objects.filter(username__in=accounts)))

    cache = BrandCache.for_brand(brand, raise_unavailable=True)
    written = 0
    if cache.live_count() < args.keys:
        # Pipelined, a thousand writes per round trip (each still its own atomic script).
        for start in range(0, args.keys, 1000):
            indexes = range(start, min(start + 1000, args.keys))
            items = [(data.key_name(i), data.key_value(i)) for i in indexes]
            written += sum(cache.set_many(items))
    snapshots = fill_snapshots(brand, now_value=args.keys, bytes_per_key=70)
    print(f"fill: brand '{data.SLUG}', {args.users} admin users, {cache.live_count()} live keys "
          f"({written} written), {snapshots} snapshots, {time.monotonic() - started:.1f} s", flush=True)


if __name__ == "__main__":
    main()
