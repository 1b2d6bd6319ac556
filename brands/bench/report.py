"""The plain-text report ``cache_bench`` prints (``--json`` prints the same figures as JSON)."""

from __future__ import annotations

import json

from brands.bench.fairness import format_fairness
from brands.bench.monitor import format_monitor


def _row(cells: list[str], widths: list[int], *, text_columns: int = 1) -> str:
    return "  ".join(
        c.ljust(w) if i < text_columns else c.rjust(w)
        for i, (c, w) in enumerate(zip(cells, widths, strict=True))
    ).rstrip()


def _commands(counts: dict[str, float]) -> str:
    return ", ".join(f"{name.upper()} {n:g}" for name, n in counts.items())


def _mark(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def format_report(r: dict) -> str:
    env, sizes, per_call, trips, browse = (r["environment"], r["sizes"], r["per_call"], r["round_trips"],
                                           r["browse"])
    lines = [
        f"cache_bench  {env['date']}",
        f"machine: {env['platform']} ({env['machine']}), {env['cpu_count']} CPUs, {env['memory_gib']} GiB",
        f"Python {env['python']}, Redis {env['redis']}, {env['redis_connection']}",
        f"data: {sizes['foreign_keys']:,} keys of {sizes['foreign_brands']} other brands + a "
        f"{sizes['brand_keys']:,}-key brand ({r['server_keys']:,} keys on the server), written in "
        f"{r['fill_s']} s; {sizes['value_bytes']}-byte JSON values",
        "",
        f"Per call, median of {sizes['rounds']} interleaved rounds x {sizes['calls_per_round']:,} calls (µs)",
    ]
    widths = [15, 22, 8, 9, 7, 12]
    lines.append(_row(["operation", "raw redis-py", "raw µs", "service", "ratio", "round trips"], widths,
                      text_columns=2))
    for op, f in per_call.items():
        lines.append(_row([op, f["raw_command"], f"{f['raw_us']:.1f}", f"{f['service_us']:.1f}",
                           f"{f['ratio']:.2f}x", f"{trips[op]['round_trips']:g}"], widths, text_columns=2))
    lines.append(f"round trips of delete {trips['delete']['round_trips']:g}, live_count "
                 f"{trips['live_count']['round_trips']:g}, list_keys {trips['list_keys']['round_trips']:g}; "
                 f"method check: raw GET measures {trips['raw GET (calibration)']['round_trips']:g}")
    method = trips["get"]["method"]
    lines += ["", f"Commands per call as Redis received them ({method}; "
                  "server-wide read counter in brackets)"]
    for op in ("get", "set", "has", "delete", "set_if_absent", "increment"):
        t = trips[op]
        sent = _commands(t.get("commands_per_call", {}))
        inside = _commands(t.get("script_commands_per_call", {}))
        line = f"  {op:<14} sent: {sent or '?'} [{t['server_counter_round_trips']:g}]"
        lines.append(line + (f"; run inside the script: {inside}" if inside else ""))

    counting = r.get("counting")
    if counting:
        lines += ["", f"Operation counting: a flush after every {counting['flush_every']} service calls "
                      f"(a full script execution), {counting['calls_per_round']:,} calls a round "
                      "(µs per call)"]
        for op in ("get", "set"):
            f = counting[op]
            lines.append(f"  {op:<4} raw {f['raw_us']:.1f}  counted {f['counted_us']:.1f} (flush "
                         f"{f['flush_us']:.1f} / {counting['flush_every']})  ratio {f['ratio']:.2f}x")
        get_ratio, set_ratio = counting["get"]["script_path_ratio"], counting["set"]["script_path_ratio"]
        lines.append(f"  script path (counts riding in the slot release: "
                     f"+{counting['script_run_extra_us']:.1f} µs on a {counting['release_us']:.1f} µs "
                     f"release): get {get_ratio:.2f}x, set {set_ratio:.2f}x")
        lines.append(f"  recording one call {counting['record_us']:.2f} µs (Python only); one execution's "
                     f"20 records + flush {counting['flush_us']:.1f} µs, of which hot keys "
                     f"{counting['hot_keys_us']:.1f} µs")
    lines += ["", f"Browsing the {sizes['brand_keys']:,}-key brand among "
                  f"{sizes['foreign_keys']:,} other keys (median ms)"]
    widths = [22, 10, 15, 10, 8]
    lines.append(_row(["", "service", "SCAN baseline", "speedup", "agrees"], widths))
    for name, label in (("live_count", "live count"), ("first_page", "first page of 50")):
        f = browse[name]
        lines.append(_row([label, f"{f['service_ms']:.3f}", f"{f['scan_ms']:.1f}", f"{f['speedup']:,.0f}x",
                           "yes" if f["agrees"] else "NO"], widths))
    lines.append(f"  (SCAN until any 50 keys, unsorted and not pageable, not equivalent: "
                 f"{browse['first_page']['scan_until_50_ms']:.2f} ms)")

    if "memory" in r:
        m = r["memory"]
        lines += ["", f"Redis memory of the {m['keys']:,}-key brand (MEMORY USAGE; "
                      f"{m['value_keys_sampled']} value keys sampled, the indexes whole)",
                  f"  {m['bytes_per_key']:.0f} bytes per key for a {m['value_bytes']}-byte value: "
                  f"value key {m['value_key_bytes']:.0f}, "
                  f"expiry index {m['expiry_index_bytes_per_key']:.0f}, "
                  f"name index {m['name_index_bytes_per_key']:.0f} ({m['name_index_keys']} Redis keys); "
                  f"overhead above the value {m['overhead_per_key']:.0f} bytes; {m['brand_mb']} MB",
                  f"  (used_memory grew {m['used_memory_delta_per_key']:.0f} bytes a key "
                  "while it was written)"]

    lines += ["", "Targets"]
    width = max(len(t["name"]) for t in r["targets"])
    for t in r["targets"]:
        lines.append(f"  {t['name']:<{width}}  {t['value']:>9g}  {t['target']:<9}  {_mark(t['pass'])}")
    passed = sum(t["pass"] for t in r["targets"])
    lines.append(f"  {passed}/{len(r['targets'])} PASS")

    if "other" in r:
        lines += ["", "Other benchmarks"]
        for label, figures in r["other"].items():
            if label == "bulk" and "error" not in figures:
                lines += format_bulk(figures)
                continue
            if "error" in figures:
                lines.append(f"  {label}: ERROR {figures['error']}")
                continue
            if label == "fairness":
                lines += ["  " + line for line in format_fairness(figures)]
                continue
            if label == "monitor":
                lines += ["  " + line for line in format_monitor(figures)]
                continue
            lines.append(f"  {label}:")
            lines += [f"    {key}: {json.dumps(value)}" for key, value in figures.items()]

    cleanup = r["cleanup"]
    lines += ["", f"Cleanup: deleted {cleanup['deleted_keys']:,} keys under {r['bench_prefix']}:*, "
                  f"{cleanup['remaining']} left. Total {r['duration_s']} s."]
    return "\n".join(lines)


def format_fairness_only(r: dict) -> str:
    env = r["environment"]
    return "\n".join([
        f"cache_bench --fairness  {env['date']}",
        f"machine: {env['platform']} ({env['machine']}), {env['cpu_count']} CPUs, {env['memory_gib']} GiB",
        f"Python {env['python']}, Redis {env['redis']}, {env['redis_connection']}",
        "",
        *format_fairness(r["fairness"]),
    ])


def format_bulk(b: dict) -> list[str]:
    """Import and export (brands.bench.bulk): the new figures with the old algorithms' beside them."""
    lines = [
        f"  import and export of {b['lines']:,} JSON lines ({b['file_mib']} MiB):",
        f"    import  {b['import_s']:.2f} s (old per-line import {b['old_import_s']:.2f} s, "
        f"{b['import_speedup']:g}x); {b['import_written']:,} written",
        f"    export  {b['export_s']:.2f} s (old export {b['old_export_s']:.2f} s, "
        f"{b['export_speedup']:g}x); "
        f"{b['export_lines']:,} lines, same keys and values as the old export: "
        f"{'yes' if b['export_agrees'] else 'NO'}",
    ]
    for name, target in b.get("targets", {}).items():
        lines.append(f"    target {name} {target['target']}: {_mark(target['pass'])}")
    rss = b.get("peak_rss", {})
    labels = {
        "one_31_mib_line": "one 31 MiB line + 1,000 small lines",
        "small_lines": "32 MiB of small lines",
        "one_31_mib_line_old_import": "one 31 MiB line, OLD import",
    }
    for name, label in labels.items():
        figures = rss.get(name)
        if figures is None:
            continue
        if "error" in figures:
            lines.append(f"    peak RSS, {label}: ERROR {figures['error']}")
            continue
        outcome = (f"{figures['written']:,} written" if "written" in figures else figures.get("error", ""))
        if "refused" in figures:
            outcome += f", {figures['refused']:,} refused"
        lines.append(f"    peak RSS, {label}: {figures['peak_rss_mib']:,.1f} MiB (process at start "
                     f"{figures['rss_before_mib']:,.1f} MiB), {figures['seconds']} s, {outcome}")
    return lines


def format_monitor_only(r: dict) -> str:
    env = r["environment"]
    return "\n".join([
        f"cache_bench --monitor  {env['date']}",
        f"machine: {env['platform']} ({env['machine']}), {env['cpu_count']} CPUs, {env['memory_gib']} GiB",
        f"Python {env['python']}, Redis {env['redis']}, {env['redis_connection']}",
        "",
        *format_monitor(r["monitor"]),
    ])
