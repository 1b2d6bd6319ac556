"""Settings for the test suite: the real settings, made safe to share a Redis server.

Every test session stores brand keys under its own random prefix, so the suite can run against
a Redis server that holds other data (CI runs it against this machine's Redis 7) and clean up
only what it wrote. The prefix goes into the environment so that worker processes started by
the tests (concurrency tests, script workers) use the same one.
"""

from __future__ import annotations

import os
import secrets

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-use-0123456789")
os.environ.setdefault("CACHEADMIN_KEY_PREFIX", f"test-{secrets.token_hex(4)}")

from cacheadmin.settings import *  # noqa: E402,F403

# The test client and the live server speak plain HTTP.
SECURE_SSL_REDIRECT = False
SESSION_COOKIE_SECURE = False
CSRF_COOKIE_SECURE = False
SECURE_HSTS_SECONDS = 0

# Hashing passwords slowly only slows the suite down.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The suite renders pages without running collectstatic: plain static URLs, no manifest.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# ... and WhiteNoise finds files per request instead of scanning STATIC_ROOT at start (which a
# fresh clone does not have; it would warn in every test process).
WHITENOISE_AUTOREFRESH = True

# The webhook tests post to a receiver on 127.0.0.1 (production refuses loopback addresses).
WEBHOOK_ALLOW_PRIVATE = True
