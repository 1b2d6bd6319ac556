#!/usr/bin/env python
"""Django's command-line utility for administrative tasks."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cacheadmin.settings")
    from django.core.management import execute_from_command_line

    from cacheadmin.secret_key import MissingSecretKey

    try:
        execute_from_command_line(sys.argv)
    except MissingSecretKey as exc:
        # A configuration step the user has to take, not a bug: one line, no traceback.
        sys.exit(f"manage.py: {exc}")


if __name__ == "__main__":
    main()
