"""Every management command the README documents runs in the development setup (what `make run`
leaves behind: the var/ secret key, a migrated database, the demo) without DEBUG exported; with
no secret key at all, each one says in one line what to set, never a traceback.

Each command runs as a subprocess, as a user would type it, in a temporary VAR_DIR with its own
embedded Redis and SQLite (loadtest.server.isolated_env drops the test runner's SECRET_KEY,
DEBUG, REDIS_URL and DATABASE_URL).
"""

from __future__ import annotations

import fcntl
import os
import re
import select
import subprocess
import sys
import termios
import time

import pytest

from cacheadmin import embedded_redis
from loadtest.server import ROOT, isolated_env

pytestmark = pytest.mark.slow


def manage(args: list[str], env: dict[str, str], *, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, input=stdin, capture_output=True,
        text=True, timeout=180,
    )


def documented_commands() -> set[str]:
    """`manage.py <command>` (and `brands <action>`) everywhere in the README."""
    found = set()
    readme = (ROOT / "README.md").read_text()
    for command, action in re.findall(r"manage\.py\s+([a-z_]+)(?:\s+([a-z_]+))?", readme):
        found.add(f"brands {action}" if command == "brands" else command)
    return found


@pytest.fixture(scope="module")
def dev_env(tmp_path_factory):
    """The development setup as `make run` prepares it (without starting runserver)."""
    var_dir = tmp_path_factory.mktemp("dev-var")
    env = isolated_env(var_dir)
    subprocess.run([sys.executable, "-m", "cacheadmin.secret_key"], cwd=ROOT, env=env, check=True,
                   capture_output=True)
    try:
        for args in (["migrate", "--noinput"], ["seed_demo"]):
            result = manage(args, {**env, "DEBUG": "1"})  # exactly as the Makefile runs them
            assert result.returncode == 0, result.stderr
        yield env
    finally:
        # Each command stops the embedded Redis as its last user; one killed on a timeout
        # cannot, so make sure none outlives the test.
        embedded_redis.shutdown(var_dir)


def changepassword_on_a_terminal(env: dict[str, str], username: str, password: str) -> tuple[int, str]:
    """changepassword reads the password from the terminal (getpass), so give it one."""
    master, slave = os.openpty()

    def controlling_tty() -> None:
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [sys.executable, "manage.py", "changepassword", username], cwd=ROOT, env=env,
        stdin=slave, stdout=slave, stderr=slave, start_new_session=True, preexec_fn=controlling_tty,
    )
    os.close(slave)
    output = b""
    prompts = 0
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:
                    break  # the child closed the terminal
                if not chunk:
                    break
                output += chunk
                # Prompts are "Password: " and "Password (again): ".
                while len(re.findall(rb"Password[^:\n]*: ", output)) > prompts and prompts < 2:
                    os.write(master, password.encode() + b"\n")
                    prompts += 1
            elif proc.poll() is not None:
                break
        try:
            return proc.wait(timeout=30), output.decode(errors="replace")
        except subprocess.TimeoutExpired:
            return -1, output.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)


def test_every_documented_command_runs_without_debug(dev_env, tmp_path):
    env = {k: v for k, v in dev_env.items() if k != "DEBUG"}
    script = tmp_path / "script.js"
    script.write_text("const n = cache.increment('page:home:views');\nsetVariable('n', n);\nn\n")
    covered: set[str] = set()

    def ok(name: str, args: list[str], *, stdin: str | None = None, env_extra=None) -> str:
        result = manage(args, {**env, **(env_extra or {})}, stdin=stdin)
        assert result.returncode == 0, (args, result.stdout, result.stderr)
        assert "Traceback" not in result.stderr, (args, result.stderr)
        covered.add(name)
        return result.stdout

    out = ok("run_script", ["run_script", "--brand", "demo", str(script)])
    assert '"ok": true' in out.replace('"ok":true', '"ok": true')
    out = ok("run_script", ["run_script", "--brand", "demo", "-"], stdin="cache.increment('hits')")
    assert "ok" in out
    ok("brands create", ["brands", "create", "acme", "--name", "Acme", "--max-keys", "10000",
                         "--max-value-bytes", "1024", "--default-ttl", "600", "--max-ttl", "1800",
                         "--max-ops", "50"])
    assert "acme" in ok("brands list", ["brands", "list"])
    assert "demo" in ok("brands usage", ["brands", "usage"])
    ok("brands usage", ["brands", "usage", "--json"])
    ok("brands delete", ["brands", "delete", "acme"])
    ok("record_usage", ["record_usage", "--prune-days", "90"])
    ok("deliver_alerts", ["deliver_alerts"])  # nothing due: one pass, then it exits
    ok("cache_analysis", ["cache_analysis", "upgrade"])
    ok("cache_analysis", ["cache_analysis", "check"])
    ok("brands upgrade", ["brands", "upgrade-index"])
    ok("check", ["check", "--deploy"])
    ok("createsuperuser", ["createsuperuser", "--noinput"], env_extra={
        "DJANGO_SUPERUSER_USERNAME": "root", "DJANGO_SUPERUSER_EMAIL": "root@example.com",
        "DJANGO_SUPERUSER_PASSWORD": "a-long-admin-password-42"})
    ok("brands create", ["brands", "create", "team"])
    assert "Added demo to team as admin." in ok("brands members", ["brands", "members", "add", "team", "demo",
                                                                   "--role", "admin"])
    ok("brands members", ["brands", "members", "add", "team", "root@example.com"])  # by e-mail, a viewer
    listing = ok("brands members", ["brands", "members", "list", "team"])
    assert "demo" in listing and "root" in listing
    ok("brands members", ["brands", "members", "remove", "team", "root"])
    ok("brands delete", ["brands", "delete", "team"])
    ok("cache_bench", ["cache_bench", "--help"])  # the benchmark itself is `make bench`
    # django-axes' unlocking commands (README, "Security"): nothing locked, each still succeeds.
    ok("axes_reset_username", ["axes_reset_username", "demo"])
    ok("axes_reset_ip", ["axes_reset_ip", "203.0.113.7"])
    ok("axes_reset", ["axes_reset"])
    ok("seed_demo", ["seed_demo"])

    code, output = changepassword_on_a_terminal(env, "demo", "another-demo-password-7")
    assert code == 0 and "changed successfully" in output, output
    assert "Traceback" not in output
    covered.add("changepassword")

    missing = documented_commands() - covered
    assert not missing, f"documented in README.md but not run by this test: {sorted(missing)}"


@pytest.mark.parametrize("args", [["brands", "list"], ["run_script", "--brand", "demo", "-"],
                                  ["createsuperuser"], ["migrate"], ["record_usage"]])
def test_without_any_secret_key_one_line_says_what_to_set(tmp_path, args):
    env = isolated_env(tmp_path)  # a VAR_DIR without a generated key, no SECRET_KEY, no DEBUG
    result = manage(args, env, stdin="")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "SECRET_KEY must be set" in lines[0] and "make run" in lines[0]
    assert not (tmp_path / "redis").exists()  # it stopped before starting anything
