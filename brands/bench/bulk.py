"""Import and export benchmarks for ``manage.py cache_bench``: 50,000 JSON lines in and out of one
brand, against the old per-line algorithms measured in the same run, and the peak memory (RSS)
of importing 32 MiB files in a fresh process.

- **import**: ``BrandCache.import_lines`` on 50,000 lines (80-byte object values, a TTL each)
  against the old import (each line parsed, then ``set``: one round trip per line), both from
  bytes in memory, into an empty brand each time;
- **export**: ``BrandCache.export_lines`` against the old export (pages of 500, each value
  parsed and re-encoded), both over the same 50,000 keys;
- **peak RSS**: ``python`` processes of their own (so nothing else the bench did counts) import
  a 32 MiB file from disk and report their resident memory before the import and its peak
  during it (VmRSS, and VmHWM reset just before the import; Linux):
  one file is the issue's single 31 MiB line of nested arrays plus 1,000 small lines, the other
  32 MiB of small lines (about 330,000, far past the key limit, so most are refused by it). The
  old import of the first file is measured the same way in the full run (it takes a while).

Everything is written under brand id 900300 (no such brand in the database) with a 600 s TTL,
and deleted at the end, on success or failure.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from django.conf import settings

from brands.cache import BrandCache, CacheLimits

BENCH_BRAND_ID = 900_300
LINES = 50_000
TTL_S = 600
TARGETS = {"import_s": 5.0, "export_s": 2.0}
RSS_FILE_BYTES = 32 * 1024 * 1024


def _limits(max_keys: int = LINES) -> CacheLimits:
    return CacheLimits(max_keys=max_keys, max_value_bytes=512, default_ttl=TTL_S, max_ttl=TTL_S)


def bench_lines(count: int) -> bytes:
    return "".join(
        f'{{"key":"bench:item:{i:06d}","value":{{"id":{i},"name":"item {i}","tags":["a","b"],'
        f'"price":{i % 997}.5}},"ttl":{TTL_S}}}\n'
        for i in range(count)
    ).encode()


def old_import(cache: BrandCache, data: bytes) -> int:
    """The import before issue 11: each line parsed, then one ``set`` (one round trip) per line."""
    written = 0
    for raw in io.BytesIO(data):
        record = json.loads(raw)
        if cache.set(record["key"], record["value"], record.get("ttl")):
            written += 1
    return written


def old_export(cache: BrandCache) -> list[str]:
    """The export before issue 11: pages of 500, each value parsed and encoded again."""
    lines, after = [], None
    while True:
        page = cache.list_keys(after=after, limit=500)
        lines += [json.dumps({"key": item.key, "value": item.value, "ttl": item.ttl_seconds},
                             separators=(",", ":"), ensure_ascii=False) for item in page.items]
        if page.next_cursor is None:
            return lines
        after = page.next_cursor


def _timed(fn):
    started = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - started


def _same_export(a: list[str], b: list[str]) -> bool:
    def strip(lines):
        return [(record["key"], record["value"]) for record in map(json.loads, lines)]

    return strip(a) == strip(b)


def import_export(lines: int) -> dict:
    cache = BrandCache(BENCH_BRAND_ID, _limits(lines), raise_unavailable=True)
    data = bench_lines(lines)
    try:
        cache.delete_all()
        old_written, old_s = _timed(lambda: old_import(cache, data))
        cache.delete_all()
        report, new_s = _timed(lambda: cache.import_lines(io.BytesIO(data)))
        old_lines, old_export_s = _timed(lambda: old_export(cache))
        new_lines, new_export_s = _timed(lambda: list(cache.export_lines()))
        return {
            "lines": lines,
            "file_mib": round(len(data) / 2**20, 2),
            "import_s": round(new_s, 3),
            "old_import_s": round(old_s, 3),
            "import_speedup": round(old_s / new_s, 1),
            "import_written": report.written,
            "old_import_written": old_written,
            "export_s": round(new_export_s, 3),
            "old_export_s": round(old_export_s, 3),
            "export_speedup": round(old_export_s / new_export_s, 1),
            "export_lines": len(new_lines),
            "export_agrees": _same_export(old_lines, new_lines),
        }
    finally:
        cache.delete_all()


# ---------------------------------------------------------------------------- peak RSS

_RSS_CHILD = textwrap.dedent("""
    import json, sys, time
    import django
    django.setup()
    from brands.bench.bulk import BENCH_BRAND_ID, _limits, memory_mib, old_import, reset_peak_memory
    from brands.cache import BrandCache
    path, how = sys.argv[1], sys.argv[2]
    cache = BrandCache(BENCH_BRAND_ID, _limits(), raise_unavailable=True)
    cache.delete_all()
    reset_peak_memory()
    before = memory_mib()
    started = time.perf_counter()
    try:
        if how == "new":
            with open(path, "rb") as source:
                report = cache.import_lines(source)
            outcome = {"written": report.written, "refused": report.refused_count}
        else:
            with open(path, "rb") as source:
                try:
                    outcome = {"written": old_import(cache, source.read())}
                except Exception as exc:
                    outcome = {"error": type(exc).__name__}
        seconds = time.perf_counter() - started
        after = memory_mib()
    finally:
        cache.delete_all()
    print(json.dumps({"rss_before_mib": before["rss"], "peak_rss_mib": after["peak"],
                      "seconds": round(seconds, 2), **outcome}))
""")


def memory_mib() -> dict:
    """This process's resident memory now and its peak (VmRSS / VmHWM from /proc), in MiB."""
    fields = {}
    for row in Path("/proc/self/status").read_text().splitlines():
        name, _, value = row.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return {"rss": fields["VmRSS"], "peak": fields["VmHWM"]}


def reset_peak_memory() -> None:
    """Start the peak (VmHWM) afresh from the current RSS (Linux: "5" to /proc/self/clear_refs),
    so that what Django's start-up allocated does not hide the import's own peak."""
    Path("/proc/self/clear_refs").write_text("5")


def _write_amp_file(path: Path) -> None:
    """The issue's file: one 31 MiB line of nested empty arrays, then 1,000 small lines."""
    with path.open("wb") as out:
        out.write(b'{"key":"amp","value":[')
        chunk = b"[]," * 100_000
        for _ in range(31 * 1024 * 1024 // len(chunk)):
            out.write(chunk)
        out.write(b"[]]}\n")
        out.write(bench_lines(1000))


def _write_small_lines_file(path: Path) -> None:
    with path.open("wb") as out:
        written, i = 0, 0
        while written < RSS_FILE_BYTES:
            block = bench_lines(10_000).replace(b"bench:item:", f"bench:{i}:".encode())
            out.write(block)
            written += len(block)
            i += 1


def _child_rss(path: Path, how: str) -> dict:
    module = os.environ.get("DJANGO_SETTINGS_MODULE", "cacheadmin.settings")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": module}
    done = subprocess.run([sys.executable, "-c", _RSS_CHILD, str(path), how], cwd=settings.BASE_DIR,
                          env=env, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_rss(*, with_old: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="cacheadmin-bench-") as folder:
        amp, small = Path(folder) / "amp.jsonl", Path(folder) / "small.jsonl"
        _write_amp_file(amp)
        _write_small_lines_file(small)
        figures = {
            "one_31_mib_line": {"file_mib": round(amp.stat().st_size / 2**20, 1), **_child_rss(amp, "new")},
            "small_lines": {"file_mib": round(small.stat().st_size / 2**20, 1), **_child_rss(small, "new")},
        }
        if with_old:
            figures["one_31_mib_line_old_import"] = _child_rss(amp, "old")
        return figures


def bulk_benchmarks(quick: bool) -> dict:
    figures = import_export(10_000 if quick else LINES)
    figures["peak_rss"] = peak_rss(with_old=not quick)
    figures["targets"] = {
        name: {"target": f"< {limit:g} s", "pass": figures[name] < limit}
        for name, limit in TARGETS.items()
    } if not quick else {}
    return figures
