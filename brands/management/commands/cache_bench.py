"""``manage.py cache_bench [--json] [--quick] [--fairness] [--monitor]``: the cache service's benchmarks
(``make bench``).

The measuring lives in the brands/bench/ package (what is measured and how is documented there and in the
README); this command only sizes the run and prints the figures. Targets are reported as
PASS / MISS, never asserted: a benchmark on a shared machine informs, it does not gate.
"""

from __future__ import annotations

import argparse
import json

from django.core.management.base import BaseCommand, CommandError, CommandParser

from brands.bench import (
    BenchConfig,
    format_fairness_only,
    format_monitor_only,
    format_report,
    run,
    run_fairness_only,
    run_monitor_only,
)
from brands.cache import UNAVAILABLE_ERRORS


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


class Command(BaseCommand):
    help = ("Benchmark the cache service against the configured Redis: per-call cost vs raw redis-py, "
            "round trips per call, live count and first page among a million other keys vs SCAN.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--json", action="store_true", help="Print the figures as JSON.")
        parser.add_argument("--quick", action="store_true",
                            help="100,000 foreign keys instead of 1,000,000, fewer rounds.")
        parser.add_argument("--fairness", action="store_true",
                            help="Only the fair-scheduling benchmark (a quiet brand during another's flood).")
        parser.add_argument("--monitor", action="store_true",
                            help="Only the staff monitor with 10,000 brands.")
        parser.add_argument("--value-bytes", type=_positive, metavar="N",
                            help="The bench brand's values as JSON strings of N bytes (N >= 2; memory "
                                 "per key at that size; per-call figures keep the usual value).")
        # Size knobs for the test suite (a run of a few seconds); not part of the public interface.
        hidden = argparse.SUPPRESS
        parser.add_argument("--foreign-keys", type=int, help=hidden)
        parser.add_argument("--brand-keys", type=_positive, help=hidden)
        parser.add_argument("--rounds", type=_positive, help=hidden)
        parser.add_argument("--calls", type=_positive, help=hidden)
        parser.add_argument("--skip-other-benchmarks", action="store_true", help=hidden)

    def handle(self, *args, **options) -> None:
        config = BenchConfig.make(
            quick=options["quick"], foreign_keys=options["foreign_keys"], brand_keys=options["brand_keys"],
            rounds=options["rounds"], calls=options["calls"],
            other_benchmarks=not options["skip_other_benchmarks"],
            value_bytes=options["value_bytes"],
        )
        if config.value_bytes is not None and config.value_bytes < 2:
            raise CommandError("--value-bytes must be at least 2 (a JSON string's two quotes).")
        quiet = options["verbosity"] == 0

        def progress(message: str) -> None:
            if not quiet:  # stderr, so that --json output stays clean
                self.stderr.write(message)

        try:
            if options["fairness"]:
                result = run_fairness_only(config.quick)
            elif options["monitor"]:
                result = run_monitor_only(config.quick)
            else:
                result = run(config, progress)
        except UNAVAILABLE_ERRORS as exc:
            raise CommandError(f"The cache (Redis) is unavailable: {exc}") from None
        if options["json"]:
            self.stdout.write(json.dumps(result, indent=2))
        elif options["fairness"]:
            self.stdout.write(format_fairness_only(result))
        elif options["monitor"]:
            self.stdout.write(format_monitor_only(result))
        else:
            self.stdout.write(format_report(result))
