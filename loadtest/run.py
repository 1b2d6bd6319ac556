"""`make loadtest`: the serve command under Locust, and a report.

    python -m loadtest.run [--levels 1,8,32] [--duration 30] [--keys 50000] [--out var/loadtest]

1. Starts the serve command (gunicorn, DEBUG off) on a free loopback port with its own VAR_DIR
   (``<out>/instance``, emptied first): its own SQLite, its own embedded Redis on a Unix socket,
   never the machine's shared Redis.
2. Fills a brand with ``--keys`` keys and ``--users`` admin accounts (loadtest/fill.py).
3. Times the first console runs after start (the script pools started at worker boot).
4. Runs the Locust mix (loadtest/locustfile.py) headless at each user count, each bounded in
   time (``--duration``) and in requests (``--max-requests``), after a short warm-up. Users
   start with sessions made by the fill step (a login hashes a password, ~0.3 s of CPU each);
   figures are taken from the moment the last user is ready.
5. Redis time per page: each page alone, ``--probe-requests`` requests in a row, with the
   ``INFO commandstats`` delta divided by the requests. commandstats counts the commands a Lua
   script runs twice (inside the script's time and on their own); a short SLOWLOG pass tells
   which they are, and their time is taken off (the raw delta is reported beside it).
6. Memory: PSS of every process (/proc/<pid>/smaps_rollup), then SIGTERM and the exit code.

Writes ``<out>/report.md`` and ``<out>/report.json`` and prints the report.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from loadtest import data
from loadtest.server import ROOT, ServeProcess, pss_kib

TARGET_RPS_FACTOR = 2.0
BEFORE = {"rps": 45.0, "p95_8": 349.0, "p95_32": 902.0}
TARGET_P95_MS = 250.0
TARGET_REDIS_MS = 2.0


# ------------------------------------------------------------------------------------- helpers


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def login(base_url: str, username: str):
    import requests

    session = requests.Session()
    page = session.get(base_url + "/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = session.post(base_url + "/login/", data={
        "username": username, "password": data.PASSWORD, "csrfmiddlewaretoken": token,
    }, allow_redirects=False, timeout=30)
    assert response.status_code == 302, f"login failed: {response.status_code}"
    page = session.get(base_url + f"/b/{data.SLUG}/keys/", timeout=30)
    session.headers["X-CSRFToken"] = re.search(r'"X-CSRFToken": "([^"]+)"', page.text).group(1)
    return session


def send(session, base_url: str, page: str, rng, keys: int) -> tuple[float, str | None]:
    method, path, headers, form = data.page_request(page, rng, keys=keys)
    started = time.perf_counter()
    response = session.request(method, base_url + path, headers=headers, data=form, timeout=60)
    elapsed = (time.perf_counter() - started) * 1000
    return elapsed, data.page_ok(page, response.status_code, response.text)


# ---------------------------------------------------------------------------------- the phases


def run_locust(server: ServeProcess, out: Path, users: int, duration: int, args) -> dict:
    samples_path = out / f"samples-{users}.jsonl"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOADTEST_KEYS": str(args.keys),
           "LOADTEST_USERS": str(args.users), "LOADTEST_MAX_REQUESTS": str(args.max_requests),
           "LOADTEST_SAMPLES": str(samples_path), "LOADTEST_WEIGHTS": args.weights,
           "LOADTEST_SESSIONS": str(server.var_dir / "sessions.json")}
    command = [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest" / "locustfile.py"),
               "--headless", "--only-summary", "-u", str(users), "-r", str(users),
               "-t", f"{duration}s", "--host", server.base_url, "--stop-timeout", "10",
               "--loglevel", "WARNING", "--exit-code-on-error", "0"]
    cpu_before = server.cpu_seconds()
    with open(out / f"locust-{users}.log", "w") as log:
        subprocess.run(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                       timeout=duration + 180, check=True)
    cpu = server.cpu_seconds() - cpu_before
    rows = [json.loads(line) for line in samples_path.read_text().splitlines()]
    logins = [start + elapsed / 1000 for name, start, elapsed, _ in rows if name == "(login)"]
    steady_from = max(logins) if logins else 0.0
    pages = [(n, s, e, f) for n, s, e, f in rows if n in data.PAGES and s >= steady_from]
    result = summarize(users, pages, login_errors=sum(1 for n, *_, f in rows if n == "(login)" and f))
    # Server CPU (all its processes) per request, logins included: a figure that depends little
    # on what else the machine runs, unlike requests/s.
    result["server_cpu_ms_per_request"] = 1000 * cpu / max(len(rows), 1)
    return result


def summarize(users: int, pages: list, *, login_errors: int) -> dict:
    if not pages:
        nan = float("nan")
        return {"users": users, "requests": 0, "rps": 0.0, "p50": nan, "p95": nan, "p99": nan,
                "errors": 0, "login_errors": login_errors, "pages": {}}
    window = max(s + e / 1000 for _, s, e, _ in pages) - min(s for _, s, _, _ in pages)
    times = [e for _, _, e, _ in pages]
    result = {
        "users": users, "requests": len(pages), "seconds": round(window, 1),
        "rps": len(pages) / window if window > 0 else 0.0,
        "p50": percentile(times, 50), "p95": percentile(times, 95), "p99": percentile(times, 99),
        "errors": sum(1 for *_, f in pages if f), "login_errors": login_errors, "pages": {},
    }
    for page in data.PAGES:
        mine = [e for n, _, e, _ in pages if n == page]
        result["pages"][page] = {
            "requests": len(mine), "share": len(mine) / len(pages),
            "p50": percentile(mine, 50), "p95": percentile(mine, 95), "p99": percentile(mine, 99),
            "errors": sum(1 for n, *_, f in pages if n == page and f),
        }
    return result


def first_console_runs(server: ServeProcess, args) -> list[float]:
    session = login(server.base_url, data.username(1))
    rng = random.Random(1)
    times = []
    for _ in range(4):
        elapsed, problem = send(session, server.base_url, "console", rng, args.keys)
        if problem:
            raise RuntimeError(f"console: {problem}")
        times.append(elapsed)
    return times


COMMANDSTATS_SKIP = {"info", "slowlog", "config", "client", "ping", "hello"}


def command_stats(client) -> dict[str, dict]:
    stats = {}
    for name, values in client.info("commandstats").items():
        command = name.removeprefix("cmdstat_").lower()
        if command.split("|")[0] not in COMMANDSTATS_SKIP:
            stats[command] = values
    return stats


def redis_time_per_page(server: ServeProcess, args) -> dict:
    """Per page: (1) ``--probe-requests`` requests with the SLOWLOG off and the INFO
    commandstats delta; (2) a few requests with the SLOWLOG logging everything, read after each
    request, only to learn which commands were top-level and which a Lua script ran (logging
    every command slows Redis down, so no time is taken from this pass). commandstats counts a
    script's inner commands twice (in the script's time and on their own): their share, from
    the call counts of (2) and the per-call cost of (1), is taken off the raw delta."""
    import redis

    client = redis.Redis(unix_socket_path=str(server.redis_socket()), client_name="loadtest-probe")
    original = client.config_get("slowlog-*")
    session = login(server.base_url, data.username(2))
    rng = random.Random(2)
    n = args.probe_requests
    result = {}
    try:
        for page in data.PAGES:
            send(session, server.base_url, page, rng, args.keys)  # this page's code paths warm
            client.config_set("slowlog-log-slower-than", -1)
            before = command_stats(client)
            latencies = []
            for _ in range(n):
                elapsed, problem = send(session, server.base_url, page, rng, args.keys)
                if problem:
                    raise RuntimeError(f"{page}: {problem}")
                latencies.append(elapsed)
            after = command_stats(client)
            delta = {}
            for command, values in after.items():
                old = before.get(command, {"calls": 0, "usec": 0})
                calls, usec = values["calls"] - old["calls"], values["usec"] - old["usec"]
                if calls:
                    delta[command] = {"calls_per_request": calls / n, "usec_per_request": usec / n,
                                      "usec_per_call": usec / calls}

            client.config_set("slowlog-max-len", 1_000_000)
            client.config_set("slowlog-log-slower-than", 0)
            top: dict[str, int] = {}
            inner: dict[str, int] = {}
            profiled = 3
            for _ in range(profiled):
                client.slowlog_reset()
                send(session, server.base_url, page, rng, args.keys)
                for entry in client.slowlog_get(1_000_000):
                    if (entry.get("client_name") or b"") == b"loadtest-probe":
                        continue
                    name = entry["command"].split(b" ", 1)[0].decode().lower()
                    # Commands a Lua script runs come from Redis' script client ("?:0").
                    bucket = inner if entry.get("client_address") == b"?:0" else top
                    bucket[name] = bucket.get(name, 0) + 1
            client.config_set("slowlog-log-slower-than", -1)
            client.slowlog_reset()

            raw_ms = sum(v["usec_per_request"] for v in delta.values()) / 1000
            inner_ms = sum(calls / profiled * delta.get(name, {}).get("usec_per_call", 0)
                           for name, calls in inner.items()) / 1000
            result[page] = {
                "requests": n,
                "redis_ms": max(raw_ms - inner_ms, 0.0),
                "commandstats_raw_ms": raw_ms,
                "calls_per_request": sum(top.values()) / profiled,
                "top_level_calls": {k: v / profiled for k, v in sorted(top.items(), key=lambda kv: -kv[1])},
                "script_inner_calls": sum(inner.values()) / profiled,
                "commands": dict(sorted(delta.items(), key=lambda kv: -kv[1]["usec_per_request"])),
                "alone_p50": statistics.median(latencies),
            }
    finally:
        client.config_set("slowlog-log-slower-than", original.get("slowlog-log-slower-than", 10000))
        client.config_set("slowlog-max-len", original.get("slowlog-max-len", 128))
        client.slowlog_reset()
        client.close()
    return result


def memory(server: ServeProcess) -> dict:
    tree = server.processes()
    result = {}
    for kind, pids in tree.items():
        sizes = [pss_kib(pid) for pid in pids]
        sizes = [s for s in sizes if s is not None]
        result[kind] = {"count": len(sizes), "pss_mib_each": [round(s / 1024, 1) for s in sizes],
                        "pss_mib_total": round(sum(sizes) / 1024, 1)}
    result["total_mib"] = round(sum(v["pss_mib_total"] for v in result.values()), 1)
    return result


# ------------------------------------------------------------------------------------- report


def render(report: dict) -> str:
    lines = [f"# Load test, {report['date']}", ""]
    m = report["machine"]
    lines += [f"Machine: {m['cpus']} cores, Python {m['python']}, load average {m['load_before']} before / "
              f"{m['load_after']} after. Serve: gunicorn gthread, {m['web_workers']} web workers x "
              f"{m['threads']} threads, {m['script_workers']} script workers each, embedded Redis "
              f"(Unix socket), SQLite. Brand: {report['keys']:,} keys, {report['accounts']} admin accounts. "
              f"Mix (% of requests): {', '.join(f'{p} {w}' for p, w in report['weights'].items())}. "
              f"Closed loop (no think time), {report['duration']} s per level after a "
              f"{report['warmup']} s warm-up; figures from the last login on.", ""]
    lines += ["| users | requests/s | p50 ms | p95 ms | p99 ms | errors | requests | server CPU ms / req |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for level in report["levels"]:
        lines.append(f"| {level['users']} | {level['rps']:.1f} | {level['p50']:.0f} | {level['p95']:.0f} | "
                     f"{level['p99']:.0f} | {level['errors']} | {level['requests']:,} | "
                     f"{level['server_cpu_ms_per_request']:.1f} |")
    lines += ["", "Per page (p50 / p95 / p99 ms, errors):", "",
              "| page | " + " | ".join(f"{lv['users']} users" for lv in report["levels"]) + " |",
              "| --- |" + " --- |" * len(report["levels"])]
    for page in data.PAGES:
        cells = []
        for level in report["levels"]:
            p = level["pages"].get(page)
            shown = p and p["requests"]
            cells.append(f"{p['p50']:.0f} / {p['p95']:.0f} / {p['p99']:.0f}, {p['errors']}" if shown else "-")
        lines.append(f"| {page} | " + " | ".join(cells) + " |")
    if report["redis"]:
        probe = report["probe_requests"]
        lines += ["", f"Redis time per request, each page alone ({probe} requests in a row):", "",
                  "| page | Redis ms / request | commandstats raw ms | top-level commands / request | "
                  "costliest (calls, µs per request, commandstats) | page alone p50 ms |",
                  "| --- | --- | --- | --- | --- | --- |"]
        for page, r in report["redis"].items():
            main = ", ".join(f"{c} {v['calls_per_request']:.1f}x {v['usec_per_request']:.0f}"
                             for c, v in list(r["commands"].items())[:3])
            calls = ", ".join(f"{c} {v:.3g}" for c, v in r["top_level_calls"].items())
            lines.append(f"| {page} | {r['redis_ms']:.3f} | {r['commandstats_raw_ms']:.3f} | "
                         f"{r['calls_per_request']:.1f} ({calls}) | {main} | {r['alone_p50']:.1f} |")
    mem = report["memory"]
    lines += ["", "Memory (PSS, MiB): " + ", ".join(
        f"{kind} {v['count']} x {statistics.mean(v['pss_mib_each']):.1f}" for kind, v in mem.items()
        if isinstance(v, dict) and v["count"]) + f"; total {mem['total_mib']}.", ""]
    first = ", ".join(f"{t:.0f}" for t in report["first_console_ms"])
    lines.append(f"First console runs after start (ms): {first}.")
    lines.append(f"SIGTERM: exit code {report['exit_code']}.")
    t = report["targets"]
    if t:
        lines += ["", f"Targets at 8 users: requests/s >= {t['rps_target']:.0f}: {t['rps']}; "
                  f"p95 < {TARGET_P95_MS:.0f} ms: {t['p95']}; every page <= {TARGET_REDIS_MS} ms of Redis: "
                  f"{t['redis']} (before: ~{BEFORE['rps']:.0f} req/s, p95 {BEFORE['p95_8']:.0f} ms "
                  f"at 8 users, {BEFORE['p95_32']:.0f} ms at 32)."]
    return "\n".join(lines) + "\n"


def targets(report: dict) -> dict:
    eight = next((lv for lv in report["levels"] if lv["users"] == 8), None)
    if eight is None:
        return {}
    worst = max((r["redis_ms"] for r in report["redis"].values()), default=float("nan"))
    return {
        "rps_target": TARGET_RPS_FACTOR * BEFORE["rps"],
        "rps": "PASS" if eight["rps"] >= TARGET_RPS_FACTOR * BEFORE["rps"] else f"MISS ({eight['rps']:.1f})",
        "p95": "PASS" if eight["p95"] < TARGET_P95_MS else f"MISS ({eight['p95']:.0f} ms)",
        "redis": "PASS" if worst <= TARGET_REDIS_MS else f"MISS (worst {worst:.2f} ms)" if report["redis"]
        else "not measured",
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--levels", default="1,8,32", help="user counts, comma-separated")
    parser.add_argument("--duration", type=int, default=30, help="seconds per level")
    parser.add_argument("--warmup", type=int, default=5, help="seconds at 8 users before measuring")
    parser.add_argument("--keys", type=int, default=50_000)
    parser.add_argument("--users", type=int, default=32, help="admin accounts")
    parser.add_argument("--probe-requests", type=int, default=100, help="requests per page alone")
    parser.add_argument("--max-requests", type=int, default=50_000, help="bound per level")
    parser.add_argument("--weights", default="", help='mix overrides, e.g. "usage=0" (what-if runs)')
    parser.add_argument("--out", default=str(ROOT / "var" / "loadtest"))
    args = parser.parse_args(argv)
    levels = [int(x) for x in args.levels.split(",") if x.strip()]
    out = Path(args.out).resolve()  # VAR_DIR must be absolute: redis-server changes directory
    instance = out / "instance"
    shutil.rmtree(instance, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    (out / "serve.log").unlink(missing_ok=True)

    data.weights(args.weights)  # a bad override fails here, before anything starts
    report = {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "keys": args.keys,
              "weights": data.weights(args.weights),
              "accounts": args.users, "duration": args.duration, "warmup": args.warmup,
              "probe_requests": args.probe_requests}
    report["machine"] = {"cpus": os.cpu_count(), "python": platform.python_version(),
                         "load_before": round(os.getloadavg()[0], 2)}
    with ServeProcess(instance, log_path=out / "serve.log") as server:
        print(f"loadtest: serving on {server.base_url} (log: {out / 'serve.log'})", flush=True)
        subprocess.run([sys.executable, "-m", "loadtest.fill", "--keys", str(args.keys), "--users",
                        str(args.users), "--sessions", str(server.var_dir / "sessions.json")],
                       cwd=ROOT, env=server.env, check=True, timeout=1800)
        report["first_console_ms"] = first_console_runs(server, args)
        tree = server.processes()
        report["machine"].update(web_workers=len(tree["web"]),
                                 script_workers=len(tree["script"]) // max(len(tree["web"]), 1),
                                 threads=int(os.environ.get("WEB_THREADS") or 4))
        if args.warmup:
            run_locust(server, out, 8, args.warmup, args)
        report["levels"] = []
        for users in levels:
            print(f"loadtest: {users} users for {args.duration} s", flush=True)
            report["levels"].append(run_locust(server, out, users, args.duration, args))
        report["redis"] = {}
        if args.probe_requests:
            print("loadtest: Redis time per page", flush=True)
            report["redis"] = redis_time_per_page(server, args)
        report["memory"] = memory(server)
        report["exit_code"] = server.stop()
    report["machine"]["load_after"] = round(os.getloadavg()[0], 2)
    report["targets"] = targets(report)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    text = render(report)
    (out / "report.md").write_text(text)
    print(text)
    return report


if __name__ == "__main__":
    main()
