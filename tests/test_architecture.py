"""The layout's promises (docs/architecture.md), checked on the source itself: every module is
documented, Redis is reached only through brands/cache, the package's submodules stay private,
imports go one way, and benchmarks stay out of the product."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BRANDS = ROOT / "brands"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
PYTHON_TREES = ("brands", "cacheadmin", "tests")


def _modules(tree: str) -> list[Path]:
    return sorted(p for p in (ROOT / tree).rglob("*.py") if "migrations" not in p.parts)


def _imports(path: Path) -> list[str]:
    """Every module name ``path`` imports, absolute (``from .x import y`` resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                module = f"{base}.{node.module}" if node.module else base
            else:
                module = node.module or ""
            names.append(module)
            # "from brands.cache import service" imports a submodule by name.
            names.extend(f"{module}.{alias.name}" for alias in node.names)
    return names


def _name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _documented() -> set[str]:
    return set(re.findall(r"`(brands/[\w/]+(?:\.py|\.js|/))`", ARCHITECTURE.read_text(encoding="utf-8")))


def test_every_module_under_brands_is_documented():
    files = {str(p.relative_to(ROOT)) for p in _modules("brands")} | {"brands/scripting/prelude.js"}
    files.add("brands/migrations/")
    missing = sorted(files - _documented())
    assert not missing, f"add a line for each to docs/architecture.md: {missing}"


def test_every_documented_module_exists():
    stale = sorted(path for path in _documented() if not (ROOT / path).exists())
    assert not stale, f"docs/architecture.md lists modules that do not exist: {stale}"


def _offences(paths, rule) -> list[str]:
    return [f"{path.relative_to(ROOT)} imports {name}" for path in paths for name in _imports(path)
            if rule(path, name)]


def test_only_brands_cache_talks_to_redis():
    def rule(path, name):
        outside = not path.is_relative_to(BRANDS / "cache")
        return outside and name.split(".")[0] in {"redis", "django_redis"}

    assert _offences(_modules("brands"), rule) == []


def test_nobody_imports_a_submodule_of_brands_cache():
    def rule(path, name):
        return not path.is_relative_to(BRANDS / "cache") and name.startswith("brands.cache.")

    paths = [p for tree in PYTHON_TREES for p in _modules(tree)]
    # "from brands.cache import X" is fine when X is a name the package exports.
    import brands.cache as package

    offences = [o for o in _offences(paths, rule) if o.rsplit(".", 1)[-1] not in package.__all__]
    assert offences == []


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("brands/cache", ("brands.views", "brands.scripting", "brands.usage", "brands.models",
                          "brands.access", "brands.audit", "brands.forms", "brands.bench")),
        ("brands/scripting", ("brands.views", "brands.usage", "brands.bench")),
        ("brands/usage", ("brands.views", "brands.scripting", "brands.bench")),
        ("brands/views", ("brands.bench",)),
    ],
)
def test_imports_go_one_way(package, forbidden):
    def rule(path, name):
        return any(name == f or name.startswith(f + ".") for f in forbidden)

    assert _offences(_modules(package), rule) == []


def test_product_code_never_imports_the_benchmarks():
    allowed = {BRANDS / "management" / "commands" / "cache_bench.py"}

    def rule(path, name):
        outside = not path.is_relative_to(BRANDS / "bench") and path not in allowed
        return outside and (name == "brands.bench" or name.startswith("brands.bench."))

    assert _offences(_modules("brands") + _modules("cacheadmin"), rule) == []


def test_the_module_names_used_here_are_real():
    # Guards the rules above against typos: each package they name exists.
    for name in ("brands.cache", "brands.scripting", "brands.usage", "brands.views", "brands.bench"):
        assert (ROOT / name.replace(".", "/") / "__init__.py").exists(), name
    assert _name(BRANDS / "cache" / "__init__.py") == "brands.cache"


def test_the_repo_is_self_contained():
    """Rules are cited from docs/contract.md, never from documents outside the repository."""
    outside = ("CONTRACT" + ".md", "seed" + "/")
    found = []
    for path in ROOT.rglob("*"):
        if path.suffix not in {".py", ".md", ".html", ".js"} or {".venv", "var", ".git"} & set(path.parts):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        found += [f"{path.relative_to(ROOT)}: {word}" for word in outside if word in text]
    assert found == []
