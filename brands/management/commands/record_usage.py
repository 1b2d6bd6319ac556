"""Record every active brand's usage (run it from cron; see README)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template.defaultfilters import filesizeformat

from brands.cache import CacheUnavailable
from brands.usage import usage_snapshots_prune, usage_snapshots_record


class Command(BaseCommand):
    help = "Record a usage snapshot for every active brand and prune old snapshots."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--prune-days", type=int, default=90, metavar="N",
            help="Delete snapshots older than N days (default 90; 0 keeps everything).",
        )

    def handle(self, *args, prune_days: int, **options) -> None:
        if prune_days < 0:
            raise CommandError("--prune-days must be 0 or more.")
        try:
            recorded = usage_snapshots_record()
        except CacheUnavailable as exc:
            # A non-zero exit makes cron (and its mail) notice.
            raise CommandError(f"Nothing recorded: {exc}") from exc
        if prune_days:
            pruned = usage_snapshots_prune(older_than_days=prune_days, now=recorded.taken_at)
            pruning = f"pruned {pruned} snapshot{'s' if pruned != 1 else ''} older than {prune_days} days"
        else:
            pruning = "pruning off"
        size = filesizeformat(recorded.stored_bytes).replace("\xa0", " ")
        self.stdout.write(
            f"Recorded {recorded.brands} brand{'s' if recorded.brands != 1 else ''}: "
            f"{recorded.live_keys} live keys, {size} stored, "
            f"{recorded.refused_writes} refused writes; {pruning}."
        )
