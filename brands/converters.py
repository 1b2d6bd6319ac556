"""URL converter for cache key names in dashboard URLs."""

from __future__ import annotations

# Path segments that name pages under /b/<slug>/keys/ rather than keys. A key may be called
# "new" or "bulk" too; its URL then carries a "~" (not a key character) so that it cannot be
# mistaken for the page: /b/<slug>/keys/~new/.
RESERVED_SEGMENTS = frozenset({"new", "bulk"})


class CacheKeyConverter:
    regex = r"~?[A-Za-z0-9_.:\-]{1,200}"

    def to_python(self, value: str) -> str:
        return value[1:] if value.startswith("~") else value

    def to_url(self, value: str) -> str:
        return f"~{value}" if value in RESERVED_SEGMENTS else value
