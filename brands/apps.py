import os
import sys

from django.apps import AppConfig
from django.conf import settings


class BrandsConfig(AppConfig):
    name = "brands"
    verbose_name = "Brands"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # `make run` only: usage snapshots without cron (brands/usage/scheduler.py decides).
        from brands.usage.scheduler import start_for_runserver

        start_for_runserver(settings.RECORD_USAGE_EVERY, sys.argv, os.environ)
