"""``manage.py run_script``: result JSON on stdout, exit 0 / 1 / 2."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from brands.cache import BrandCache

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def command(script_pool, capsys):
    def run(*args: str, stdin: str | None = None):
        """(exit status, stdout, stderr) of the command run in this process."""
        status = 0
        old_stdin = sys.stdin
        if stdin is not None:
            sys.stdin = io.StringIO(stdin)
        try:
            call_command("run_script", *args)
        except SystemExit as exc:
            status = exc.code
        except CommandError as exc:
            status = exc.returncode
            print(f"CommandError: {exc}", file=sys.stderr)
        finally:
            sys.stdin = old_stdin
        out, err = capsys.readouterr()
        return status, out, err

    return run


def test_a_script_file_runs_and_prints_the_result(command, brand, tmp_path):
    script = tmp_path / "count.js"
    script.write_text("setVariable('views', cache.increment('views')); 'counted'", encoding="utf-8")
    status, out, _ = command("--brand", brand.slug, str(script))
    assert status == 0
    result = json.loads(out)
    assert result["ok"] is True and result["result"] == "counted"
    assert result["variables"] == {"views": 1} and result["ops"] == 1
    assert BrandCache.for_brand(brand).get("views") == 1


def test_stdin_with_dash(command, brand):
    status, out, _ = command("--brand", brand.slug, "-", stdin="console.log('from stdin'); 6 * 7")
    assert status == 0
    result = json.loads(out)
    assert result["result"] == 42 and result["logs"] == [{"level": "log", "message": "from stdin"}]


def test_a_failing_script_exits_1_and_still_prints_the_result(command, brand):
    status, out, _ = command("--brand", brand.slug, "-", stdin="cache.set('k', 1);\nnope();")
    assert status == 1
    result = json.loads(out)
    assert result["ok"] is False
    assert result["error"]["name"] == "ReferenceError" and result["error"]["line"] == 2
    assert BrandCache.for_brand(brand).get("k") == 1


def test_a_timeout_exits_1(command, brand_factory):
    brand = brand_factory(script_timeout_ms=300)
    status, out, _ = command("--brand", brand.slug, "-", stdin="for (;;) {}")
    assert status == 1
    assert json.loads(out)["error"]["name"] == "TimeoutError"


def test_an_unknown_brand_is_a_usage_error(command, db):
    status, out, err = command("--brand", "no-such-brand", "-", stdin="1")
    assert status == 2
    assert out == ""
    assert "no-such-brand" in err


def test_an_unreadable_file_exits_2_with_one_line_on_stderr(tmp_path):
    # A real process: the exit status and stderr are what a shell sees. Reading the file comes
    # before any database or worker, so this needs neither.
    missing = tmp_path / "missing.js"
    completed = subprocess.run(
        [sys.executable, "manage.py", "run_script", "--brand", "demo", str(missing)],
        cwd=PROJECT_DIR, capture_output=True, text=True, timeout=120,
    )
    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.js" in lines[0]


def test_a_deactivated_brand_runs_nothing_and_exits_1_with_one_line(command, brand):
    BrandCache.for_brand(brand).set("k", 1)
    brand.is_active = False
    brand.save()
    status, out, err = command("--brand", brand.slug, "-", stdin="cache.set('k', 2)")
    assert status == 1 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "is deactivated" in lines[0]
    assert BrandCache.for_brand(brand).get("k") == 1
