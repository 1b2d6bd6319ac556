"""The plain-text report ``cache_bench`` prints (``--json`` prints the same figures as JSON)."""

from __future__ import annotations

import json


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

    lines += ["", "Targets"]
    width = max(len(t["name"]) for t in r["targets"])
    for t in r["targets"]:
        lines.append(f"  {t['name']:<{width}}  {t['value']:>9g}  {t['target']:<9}  {_mark(t['pass'])}")
    passed = sum(t["pass"] for t in r["targets"])
    lines.append(f"  {passed}/{len(r['targets'])} PASS")

    if "other" in r:
        lines += ["", "Other benchmarks"]
        for label, figures in r["other"].items():
            if "error" in figures:
                lines.append(f"  {label}: ERROR {figures['error']}")
                continue
            lines.append(f"  {label}:")
            lines += [f"    {key}: {json.dumps(value)}" for key, value in figures.items()]

    cleanup = r["cleanup"]
    lines += ["", f"Cleanup: deleted {cleanup['deleted_keys']:,} keys under {r['bench_prefix']}:*, "
                  f"{cleanup['remaining']} left. Total {r['duration_s']} s."]
    return "\n".join(lines)
