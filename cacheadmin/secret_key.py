"""The single-machine secret key: generated once into ``var/secret_key`` (mode 600).

Deployments set ``SECRET_KEY`` in the environment. A single machine (``make run``, ``make serve``)
gets a random key written once under ``VAR_DIR`` by ``python -m cacheadmin.secret_key``, so that
sessions survive restarts and management commands work without exporting anything. Settings read
the file when ``SECRET_KEY`` is unset; they never create it, so a machine that has neither says
so in one line (``MissingSecretKey``, printed by ``manage.py``) instead of inventing a key that
another process on the same machine would not share.
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from cacheadmin import paths

FILENAME = "secret_key"


class MissingSecretKey(ImproperlyConfigured):
    """No SECRET_KEY in the environment and no generated key under VAR_DIR."""


def key_path(var_dir: Path) -> Path:
    return Path(var_dir) / FILENAME


def read(var_dir: Path) -> str:
    """The generated key, or "" when there is none."""
    try:
        return key_path(var_dir).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return ""


def ensure(var_dir: Path) -> tuple[Path, bool]:
    """Create the key file unless it exists. Returns (path, created). Safe against a concurrent
    creator: the file is created exclusively, already at mode 600, and written in one call."""
    path = key_path(var_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path, False
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(secrets.token_urlsafe(50) + "\n")
    return path, True


def missing_message(var_dir: Path) -> str:
    return (
        "SECRET_KEY must be set: export SECRET_KEY=<a long random string> (deployments), or run "
        f"`make run` or `make serve` once to generate {key_path(var_dir)} (single machine)."
    )


def main() -> None:
    if os.environ.get("SECRET_KEY"):
        print("SECRET_KEY is set in the environment; no key file needed.")
        return
    path, created = ensure(paths.var_dir())
    print(f"Secret key: {'generated' if created else 'using'} {path} (mode 600; set SECRET_KEY to override).")


if __name__ == "__main__":
    sys.exit(main())
