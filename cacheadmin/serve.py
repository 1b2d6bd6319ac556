"""`make serve`: production-like serving on one machine. ``python -m cacheadmin.serve``

Prepares, then replaces itself with gunicorn (so SIGTERM reaches gunicorn's master directly):

1. DEBUG off; the secret key generated once into var/ unless SECRET_KEY is set;
2. on a loopback bind without a TLS proxy in front (SECURE_PROXY_SSL_HEADER unset), the browser
   speaks plain HTTP to this machine, so HTTPS redirect, secure-only cookies and HSTS default to
   off and ALLOWED_HOSTS to the loopback names (each still settable from the environment);
3. migrations, then collectstatic (hashed, compressed files for WhiteNoise);
4. exec gunicorn with cacheadmin/gunicorn.conf.py.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys

from cacheadmin import paths, secret_key

GUNICORN_CONF = paths.BASE_DIR / "cacheadmin" / "gunicorn.conf.py"

LOOPBACK_HTTP_DEFAULTS = {
    "ALLOWED_HOSTS": "127.0.0.1,localhost,[::1]",
    "SECURE_SSL_REDIRECT": "0",
    "SESSION_COOKIE_SECURE": "0",
    "CSRF_COOKIE_SECURE": "0",
    "SECURE_HSTS_SECONDS": "0",
}


def is_loopback(bind: str) -> bool:
    if bind.startswith("unix:"):
        return False  # a socket is for a proxy in front
    host = bind.rsplit(":", 1)[0].strip("[]") if ":" in bind else bind
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def prepare_environment(bind: str) -> list[str]:
    """Set the serving defaults in os.environ; returns lines to tell the operator."""
    notes = []
    os.environ["DEBUG"] = "0"
    os.environ["BIND"] = bind
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cacheadmin.settings")
    if not os.environ.get("SECRET_KEY", "").strip():
        path, created = secret_key.ensure(paths.var_dir())
        notes.append(f"secret key: {'generated' if created else 'using'} {path} (set SECRET_KEY to override)")
    if is_loopback(bind) and not os.environ.get("SECURE_PROXY_SSL_HEADER"):
        for name, value in LOOPBACK_HTTP_DEFAULTS.items():
            os.environ.setdefault(name, value)
        notes.append("plain HTTP on loopback: HTTPS redirect, secure cookies and HSTS off "
                     "(behind a TLS proxy set SECURE_PROXY_SSL_HEADER=1; see docs/deployment.md)")
    return notes


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    default_bind = os.environ.get("BIND") or f"127.0.0.1:{os.environ.get('PORT') or 8000}"
    parser.add_argument("--bind", default=default_bind, help="host:port (default: BIND, or 127.0.0.1:$PORT)")
    parser.add_argument("--skip-prepare", action="store_true",
                        help="no migrate / collectstatic (they already ran)")
    args, gunicorn_args = parser.parse_known_args(argv)
    for note in prepare_environment(args.bind):
        print(f"serve: {note}", flush=True)
    if not args.skip_prepare:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", interactive=False, verbosity=1)
        call_command("collectstatic", interactive=False, verbosity=0)
        print("serve: migrations applied, static files collected", flush=True)
    print(f"serve: gunicorn on http://{args.bind}/", flush=True)
    sys.stdout.flush()
    sys.stderr.flush()
    # exec: gunicorn's master takes this PID, so SIGTERM from a supervisor reaches it directly.
    # File descriptors are close-on-exec, so this process's hold on the embedded Redis ends here;
    # the gunicorn master takes its own (see on_starting in the config).
    os.execv(sys.executable, [sys.executable, "-m", "gunicorn", "-c", str(GUNICORN_CONF), *gunicorn_args])


if __name__ == "__main__":
    main()
