"""The exact analysis of brands' keys (issue 12): the upgrade of keys written before it, and a
check against a recount.

    python manage.py cache_analysis upgrade [--brand SLUG] [--batch N]
    python manage.py cache_analysis check [--brand SLUG]

``upgrade`` gives every key written before the accounting existed its size, in atomic batches of
``--batch`` names (1,000 by default: about a millisecond of Redis each), so it can run while the
brand is in use; running it again finds nothing to do. ``check`` compares each brand's kept key
count and stored bytes with a recount made by reading every value (slow on big brands: it is the
way the usage page worked before)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from brands.cache import BrandCache, CacheUnavailable
from brands.models import Brand


class Command(BaseCommand):
    help = "Upgrade (account keys written before the exact analysis) or check the analysis of brands."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["upgrade", "check"])
        parser.add_argument("--brand", metavar="SLUG", help="One brand (default: every brand).")
        parser.add_argument("--batch", type=int, default=1000, metavar="N",
                            help="Names per atomic step of the upgrade (default 1000).")

    def handle(self, *args, action: str, brand: str | None, batch: int, **options) -> None:
        if not 1 <= batch <= 10_000:
            raise CommandError("--batch must be from 1 to 10000.")
        brands = Brand.objects.select_related("quota").order_by("slug")
        if brand is not None:
            brands = brands.filter(slug=brand)
            if not brands:
                raise CommandError(f"No brand with the slug {brand!r}.")
        mismatches = 0
        try:
            for row in brands:
                cache = BrandCache.for_brand(row, raise_unavailable=True)
                if action == "upgrade":
                    done = cache.analysis_upgrade(batch=batch)
                    figures = cache.analysis(top=1)
                    state = ("complete" if figures.complete
                             else f"{figures.unaccounted_keys} keys still unaccounted")
                    self.stdout.write(f"{row.slug}: {done} key{'s' if done != 1 else ''} upgraded; {state}.")
                else:
                    figures = cache.analysis(top=1)
                    scanned = cache.stored_bytes_scanned()
                    same = figures.complete and figures.stored_bytes == scanned
                    mismatches += not same
                    self.stdout.write(
                        f"{row.slug}: {'OK' if same else 'MISMATCH'}: {figures.live_keys} live keys, "
                        f"{figures.stored_bytes} bytes kept, {scanned} bytes read"
                        + ("" if figures.complete else f"; {figures.unaccounted_keys} keys not upgraded yet")
                    )
        except CacheUnavailable as exc:
            raise CommandError(f"Redis is unavailable: {exc}") from exc
        if mismatches:
            plural = "s" if mismatches != 1 else ""
            raise CommandError(f"{mismatches} brand{plural} disagree with the recount.")
