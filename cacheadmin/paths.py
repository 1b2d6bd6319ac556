"""Where the project and its runtime data live; shared by settings, the serve command and the
gunicorn configuration, which must agree without importing Django settings."""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent


def var_dir() -> Path:
    """SQLite, the embedded Redis, collected static files and the generated secret key.
    Absolute, because the embedded Redis changes its working directory to its own folder."""
    return Path(os.environ.get("VAR_DIR") or BASE_DIR / "var").resolve()
