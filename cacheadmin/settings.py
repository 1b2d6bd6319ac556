"""Settings, all from the environment. Every variable read here is listed in README.md."""

from __future__ import annotations

import os
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

import dj_database_url
from csp.constants import NONE, SELF
from django.core.exceptions import ImproperlyConfigured
from redis.backoff import NoBackoff
from redis.retry import Retry

from cacheadmin import paths, secret_key

BASE_DIR = paths.BASE_DIR


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    return int(raw) if raw else default


def env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


VAR_DIR = paths.var_dir()
VAR_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)

# The environment's key (deployments); else the key generated once into var/ by `make run` or
# `make serve` (single machine); else, with DEBUG only, a fixed development key.
SECRET_KEY = os.environ.get("SECRET_KEY", "").strip() or secret_key.read(VAR_DIR)
if not SECRET_KEY:
    if not DEBUG:
        raise secret_key.MissingSecretKey(secret_key.missing_message(VAR_DIR))
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production-4f1c9a7e2b"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_htmx",
    "template_partials",
    "axes",
    "csp",
    "brands",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files from the app server itself (hashed names, compressed, cached forever).
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Counts the request's cache operations in one round trip at its end (brands.cache.opcounts).
    "brands.middleware.OpCountsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # no-store on every response to a logged-in user (outside the size check: its 413 too).
    "brands.middleware.NoStoreForAuthenticatedMiddleware",
    # Answers 413 in the request phase, before CsrfViewMiddleware.process_view reads
    # request.POST (which would parse a multipart upload into temp files): it must stay after
    # AuthenticationMiddleware (it needs request.user) and needs no process_view of its own.
    "brands.middleware.RequestSizeLimitMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "brands.middleware.CacheUnavailableMiddleware",
    # Last, as django-axes asks: it turns a locked-out log-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "cacheadmin.urls"
WSGI_APPLICATION = "cacheadmin.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL") or f"sqlite:///{VAR_DIR / 'db.sqlite3'}",
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several web processes and threads share the file. WAL lets readers (every page reads the
    # session, the user and the brand) run while a writer commits (each console run writes a
    # ScriptRun and an AuditEntry), and commits without an fsync of the whole journal
    # (synchronous=NORMAL is safe in WAL mode: a power cut can lose the last commits, never
    # corrupt the file). IMMEDIATE takes the write lock when a transaction begins, so
    # concurrent writers wait for each other (up to the timeout, seconds) instead of failing
    # with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        transaction_mode="IMMEDIATE",
        timeout=20,
    )
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis: an explicit server, or the embedded one (started on first use, shared by every process
# that uses this var/ directory, stopped by the last one to exit).
REDIS_URL = os.environ.get("REDIS_URL", "").strip()
EMBEDDED_REDIS = not REDIS_URL
REDIS_SENTINELS = os.environ.get("REDIS_SENTINELS", "").strip()
REDIS_CLUSTER = env_bool("REDIS_CLUSTER", False)
if REDIS_CLUSTER and EMBEDDED_REDIS:
    raise ImproperlyConfigured(
        "REDIS_CLUSTER=1 needs REDIS_URL naming a node of the cluster (e.g. redis://10.0.0.5:6379/0); "
        "the embedded Redis is a single server"
    )
if REDIS_CLUSTER and REDIS_SENTINELS:
    raise ImproperlyConfigured(
        "REDIS_CLUSTER and REDIS_SENTINELS cannot be combined: a Redis Cluster fails over by itself; "
        "set one of them"
    )
if EMBEDDED_REDIS:
    from cacheadmin import embedded_redis

    REDIS_URL = embedded_redis.ensure_started(VAR_DIR)

CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "OPTIONS": {
            "CLIENT_CLASS": os.environ.get("REDIS_CLIENT_CLASS", "django_redis.client.DefaultClient"),
            # Short timeouts: a dead Redis must turn into a clear 503 / "cache unavailable"
            # quickly, not hang a request or a script execution.
            "SOCKET_CONNECT_TIMEOUT": float(os.environ.get("REDIS_CONNECT_TIMEOUT", "1.0")),
            "SOCKET_TIMEOUT": float(os.environ.get("REDIS_SOCKET_TIMEOUT", "2.0")),
            # redis-py's default is 3 retries with exponential backoff (seconds of waiting per
            # call when Redis is down). One immediate retry still survives the stale pooled
            # connection left by a Redis restart.
            "CONNECTION_POOL_KWARGS": {"retry": Retry(NoBackoff(), 1)},
        },
        # Django's own cache entries (not brand keys) live under their own prefix.
        "KEY_PREFIX": "django",
    }
}


def sentinel_options(sentinels: str) -> dict:
    """Redis Sentinel is configuration only: REDIS_SENTINELS="host:port,host:port" and a
    REDIS_URL naming the master service (redis://mymaster/0)."""
    addresses = []
    for item in sentinels.split(","):
        host, _, port = item.strip().rpartition(":")
        addresses.append((host, int(port)))
    return {
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": addresses,
    }


if REDIS_SENTINELS and not EMBEDDED_REDIS:
    CACHES["default"]["OPTIONS"].update(sentinel_options(REDIS_SENTINELS))


def cluster_options(url: str) -> dict:
    """Redis Cluster is configuration only: REDIS_CLUSTER=1 and a REDIS_URL naming any node; the
    client finds the others. A cluster has one database and no Unix sockets, so anything else is
    refused here rather than at the first request."""
    parsed = urlparse(url)
    if parsed.scheme not in {"redis", "rediss"} or not parsed.hostname:
        raise ImproperlyConfigured(
            f"REDIS_CLUSTER=1 needs a redis:// or rediss:// REDIS_URL with a host, not {parsed.scheme}://"
        )
    database = parsed.path.strip("/") or parse_qs(parsed.query).get("db", ["0"])[0]
    if database != "0":
        raise ImproperlyConfigured(f"Redis Cluster has only database 0; REDIS_URL asks for {database}")
    return {"CONNECTION_FACTORY": "brands.cache.cluster.ClusterConnectionFactory"}


if REDIS_CLUSTER:
    CACHES["default"]["OPTIONS"].update(cluster_options(REDIS_URL))

# Brand keys are stored as "<CACHEADMIN_KEY_PREFIX>:{<brand id>}:...". Tests set a random prefix
# so that they can share a Redis server with anything else without touching its data.
CACHEADMIN_KEY_PREFIX = os.environ.get("CACHEADMIN_KEY_PREFIX", "ca")

# The one place quota defaults live (docs/contract.md, the defaults table); QuotaSettings reads them.
CACHEADMIN_QUOTA_DEFAULTS = {
    "max_keys": 50_000,
    "max_value_bytes": 512,
    "default_ttl": 3600,
    "max_ttl": 3600,
    "max_ops_per_execution": 20,
    "script_timeout_ms": 1000,
    "script_memory_mb": 32,
    "max_concurrent_scripts": 1,
}

# Bulk deletes from the dashboard keep what they deleted (in Redis, under the brand's hash tag,
# outside its key count and listings) for this long, so that they can be undone.
BULK_UNDO_SECONDS = env_int("BULK_UNDO_HOURS", 24) * 3600

# Script sandbox: number of long-lived QuickJS worker processes.
SCRIPT_WORKERS = env_int("SCRIPT_WORKERS", 2)
# Fair scheduling (docs/contract.md#fair-scheduling). Extra workers kept started and idle, so a
# worker killed at the time limit is replaced at once while its successor starts.
SCRIPT_SPARE_WORKERS = env_int("SCRIPT_SPARE_WORKERS", 1)
# Longest wait for a free worker before a run is refused as "scripts are busy".
SCRIPT_WORKER_WAIT_MS = env_int("SCRIPT_WORKER_WAIT_MS", 1000)
# Longest wait for one of the brand's own execution slots before "another script of this brand
# is still running".
SCRIPT_BUSY_WAIT_MS = env_int("SCRIPT_BUSY_WAIT_MS", 250)
# Time-limit budget: a run that hits the time limit is charged its time plus the replacement
# worker's start; a brand whose charges reach the budget within the window is refused until the
# window ends.
SCRIPT_OVERRUN_BUDGET_MS = env_int("SCRIPT_OVERRUN_BUDGET_MS", 10_000)
SCRIPT_OVERRUN_WINDOW_MS = env_int("SCRIPT_OVERRUN_WINDOW_MS", 60_000)

# Quota alerts (docs/alerts.md, docs/webhooks.md). E-mail goes through Django's mail framework:
# the console backend (printed to the server's output) unless EMAIL_BACKEND names another, e.g.
# django.core.mail.backends.smtp.EmailBackend with EMAIL_HOST and friends.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "cacheadmin <cacheadmin@localhost>")
# Links in alert e-mails and webhook bodies start with this.
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000")
# Webhooks: seconds per socket operation, attempts per delivery, the first retry's delay (doubled
# after each failure), and whether loopback / private / link-local addresses may receive them.
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5)
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 6)
WEBHOOK_RETRY_BASE_SECONDS = env_int("WEBHOOK_RETRY_BASE_SECONDS", 30)
WEBHOOK_ALLOW_PRIVATE = env_bool("WEBHOOK_ALLOW_PRIVATE", False)
# Seconds between usage snapshots recorded inside `manage.py runserver` (the Makefile's `run`
# target sets 60); 0: off. Production records from cron (README); nothing else reads this.
RECORD_USAGE_EVERY = env_int("RECORD_USAGE_EVERY", 0)

# /metrics accepts a staff session or "Authorization: Bearer <METRICS_TOKEN>" when this is set.
METRICS_TOKEN = os.environ.get("METRICS_TOKEN", "")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Log-in throttling (django-axes): after AXES_FAILURE_LIMIT failed log-ins for one username
# (from any address), or from one address (for any usernames), that username / address is locked
# out for AXES_COOLOFF_MINUTES, on the dashboard's log-in and the Django admin's alike. Staff see
# attempts and lock-outs in the admin; `manage.py axes_reset_username NAME` / `axes_reset_ip IP`
# / `axes_reset` unlock.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_ENABLED = env_bool("AXES_ENABLED", True)
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
_cooloff_minutes = env_int("AXES_COOLOFF_MINUTES", 15)
# 0 minutes: locked until an operator unlocks.
AXES_COOLOFF_TIME = timedelta(minutes=_cooloff_minutes) if _cooloff_minutes > 0 else None
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/lockout.html"
AXES_CLIENT_IP_CALLABLE = "cacheadmin.client_ip.client_ip"
# Reverse proxies in front of the app that append the address they saw to X-Forwarded-For
# (nginx: proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for). 0: REMOTE_ADDR is the client.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = os.environ.get("TIME_ZONE", "UTC")
# English only: without translation machinery every gettext (the truncatechars ellipsis, number
# formats, form messages) skips a catalog lookup through a context-local; ~2 ms less CPU on a
# 50-row key browser page (README, "Serving it").
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"
# collectstatic (run by `make serve`) writes hashed, gzip-compressed copies and a manifest;
# WhiteNoise serves them with far-future cache headers. With DEBUG on, files come unhashed from
# the app's static/ folders and no collectstatic is needed.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Security: on by default whenever DEBUG is off, each switchable from the environment (for
# example SECURE_SSL_REDIRECT=0 behind a proxy that already redirects).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# Request bodies: a request whose Content-Length is above its URL's limit is answered 413 before
# anything reads the body (brands.middleware.RequestSizeLimitMiddleware). Not logged in: every
# URL takes at most ANONYMOUS_REQUEST_MAX_BYTES (a log-in form is a few hundred bytes). Logged
# in: REQUEST_MAX_BYTES, except the URLs named in REQUEST_BODY_LIMITS. The reverse proxy should
# refuse the same sizes first (README: "Request size limits").
IMPORT_MAX_BYTES = env_int("IMPORT_MAX_BYTES", 32 * 1024 * 1024)
REQUEST_MAX_BYTES = env_int("REQUEST_MAX_BYTES", 3 * 1024 * 1024)
ANONYMOUS_REQUEST_MAX_BYTES = env_int("ANONYMOUS_REQUEST_MAX_BYTES", 64 * 1024)
REQUEST_BODY_LIMITS = {"keys-import": IMPORT_MAX_BYTES + 1024 * 1024}  # URL name -> bytes (room for the form)
# Django's own limits behind it: form fields in memory (not files), how many fields and files.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1000
DATA_UPLOAD_MAX_NUMBER_FILES = 1
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440  # larger uploads go to a temporary file, read in chunks

# Content-Security-Policy (django-csp): scripts, styles and everything else from this origin
# only; no inline script, no style="" attribute, no eval (htmx is configured with allowEval off
# in base.html). Templates must keep to that: JS in static/js/, CSS in static/css/app.css.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "font-src": [SELF],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # django-axes announces itself at every start ("AXES: BEGIN ..."), also in management
    # commands whose stderr is meant to be one line; its attempts and lock-outs still log.
    "loggers": {"axes.apps": {"level": "WARNING"}},
}
