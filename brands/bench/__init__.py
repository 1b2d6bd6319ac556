"""Benchmarks for ``manage.py cache_bench`` (``make bench``): they measure the product and are
never imported by it.

    config.py     how big a run is
    measure.py    paired timings, percentiles, round trips as Redis counts them, signal handling
    cache.py      the cache service against raw redis-py and SCAN (per call, round trips, browsing)
    scripting.py  script executions through the worker pool
    pages.py      real requests to the heaviest pages through Django's test client
    fairness.py   a quiet brand's script latency while another brand floods the runner
    monitor.py    the staff quota monitor with 10,000 brands
    runner.py     one run of all of them
    report.py     the plain-text report

What is measured and how is documented in each module and in the README's Benchmarks section.
"""

from brands.bench.config import BenchConfig
from brands.bench.report import format_fairness_only, format_monitor_only, format_report
from brands.bench.runner import run, run_fairness_only, run_monitor_only

__all__ = ["BenchConfig", "format_fairness_only", "format_monitor_only", "format_report", "run",
           "run_fairness_only", "run_monitor_only"]
