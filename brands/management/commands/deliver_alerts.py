"""Send due alert deliveries and their retries (cron every minute, or ``--loop``; docs/alerts.md)."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError, CommandParser

from brands.alerts import AlertDelivery, deliveries_send

BATCH = 100


class Command(BaseCommand):
    help = "Attempt every due quota-alert delivery (e-mail and webhooks), retries included."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--loop", action="store_true",
                            help="Keep running, checking for due deliveries every --interval seconds.")
        parser.add_argument("--interval", type=float, default=10.0, metavar="S",
                            help="Seconds between checks with --loop (default 10).")

    def handle(self, *args, loop: bool, interval: float, **options) -> None:
        if interval <= 0:
            raise CommandError("--interval must be above 0.")
        while True:
            attempts = []
            while True:  # every due delivery, a hundred at a time (each attempt moves it ahead)
                batch = deliveries_send(limit=BATCH)
                attempts += batch
                if len(batch) < BATCH:
                    break
            if attempts or not loop:
                ok = sum(1 for a in attempts if a.ok)
                pending = AlertDelivery.objects.filter(state=AlertDelivery.State.PENDING).count()
                plural = "s" if len(attempts) != 1 else ""
                self.stdout.write(f"{len(attempts)} attempt{plural}: {ok} delivered, "
                                  f"{len(attempts) - ok} did not succeed; {pending} pending.")
            if not loop:
                return
            time.sleep(interval)
