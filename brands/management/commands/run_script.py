"""Run a backend script for one brand and print the execution result as JSON.

    python manage.py run_script --brand demo script.js
    echo "cache.increment('hits')" | python manage.py run_script --brand demo -

Exit status: 0 when the script ran to the end, 1 when it failed (error, time or memory limit),
2 for a usage error (unknown brand, unreadable file), with one line on stderr; a deactivated
brand runs nothing: one line on stderr, exit 1.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from brands.alerts import alerts_after_writes
from brands.models import Brand
from brands.scripting import run_script
from brands.scripting.outcome import result_json_text


class Command(BaseCommand):
    help = "Run a JavaScript backend script against a brand's cache and print the result JSON."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--brand", required=True, help="slug of the brand the script runs for")
        parser.add_argument("file", nargs="?", default="-", help="script file, or - for stdin (default)")

    def handle(self, *args, brand: str, file: str, **options) -> None:
        # The file first: reading it needs no database, so a wrong path fails fast everywhere.
        try:
            if file == "-":
                code = sys.stdin.read()
            else:
                with open(file, encoding="utf-8") as handle:
                    code = handle.read()
        except (OSError, UnicodeDecodeError) as exc:
            raise CommandError(f"Cannot read the script {file!r}: {exc}", returncode=2) from None
        try:
            target = Brand.objects.select_related("quota").get(slug=brand)
        except Brand.DoesNotExist:
            raise CommandError(f"No brand with the slug {brand!r}.", returncode=2) from None
        refusal = target.write_refusal()
        if refusal is not None:  # run_script would refuse it too; one line rather than a result
            raise CommandError(refusal, returncode=1)

        result = run_script(target, code)
        # A write refused by the key limit checks the quota alerts; sent before the command exits.
        alerts_after_writes(target, warnings=result.get("warnings", ()), background=False)
        self.stdout.write(result_json_text(result, indent=2))
        if not result["ok"]:
            sys.exit(1)
