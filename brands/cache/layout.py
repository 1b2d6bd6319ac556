"""Where a brand's data lives in Redis.

All of a brand's keys share one hash tag, ``{<brand id>}``, so they sit in one Redis Cluster slot
and a Lua script may touch a value and the brand's indexes together:

    <prefix>:{<id>}:v:<key>   the value (JSON text), with a Redis TTL
    <prefix>:{<id>}:ix        sorted set: key -> expiry time in ms (Redis clock); counts live keys
    <prefix>:{<id>}:nd        sorted set, all scores 0: the name index's directory, the lower bound
                              of each chunk (the first chunk's is "")
    <prefix>:{<id>}:nd:<b>    sorted set, all scores 0: a chunk of the name index, at most
                              NAMES_CHUNK (120) key names in byte order, from bound <b> up to the
                              next chunk's; paging, prefixes and counts (brands.cache.scripts)
    <prefix>:{<id>}:nd#       hash: the size of each chunk, by bound (counts without scanning)
    <prefix>:{<id>}:nm        the name index before it was chunked (one sorted set of every name);
                              ``manage.py brands upgrade-index`` moves it into the chunks
    <prefix>:{<id>}:st        hash: refused-write counters
    <prefix>:{<id>}:rn        sorted set: script executions in flight -> lease expiry (ms, Redis clock)
    <prefix>:{<id>}:rs        hash: script execution counters by outcome (runs, ok, error, ...)
    <prefix>:{<id>}:rd        list: durations (ms) of the latest script executions, newest first
    <prefix>:{<id>}:rb        string: ms of the time-limit budget used in the current window (PX)
    <prefix>:{<id>}:bin:<t>   hash: what bulk delete <t> removed, name -> "<expiry ms>|<value>",
                              kept for the undo window (settings.BULK_UNDO_SECONDS), then expired
    <prefix>:{<id>}:bins      sorted set: bulk-delete tokens -> end of their window (ms)
    <prefix>:{<id>}:an        hash: exact analysis totals (keys, bytes, size histogram h1..h12,
                              keys and bytes outside any namespace, the biggest keys' rebuild)
    <prefix>:{<id>}:tk / tr   sorted sets: the biggest keys (name -> bytes); tr while rebuilt
    <prefix>:{<id>}:nk / nb   sorted sets: top-level namespace -> live keys / bytes
    <prefix>:{<id>}:bg        hash: name -> bytes of values of 2047 bytes and more
                              (brands/cache/accounting.py: other sizes ride in the ix score)
    <prefix>:{<id>}:om:<m>    hash: operations counted in minute <m>, by source and kind;
    <prefix>:{<id>}:oh:<h>    the same per hour; <prefix>:{<id>}:ot since the brand began;
    <prefix>:{<id>}:hr:<b>    sorted sets: reads / writes per key in 5-minute bucket <b>
    <prefix>:{<id>}:hw:<b>    (hot keys); all of them described in brands/cache/opcounts.py

The bins are outside both indexes, so kept values never count against the key limit and never
show up in a listing; they sit in the brand's slot, so restoring one is one atomic script.

The brand id, not the slug, is in the tag: renaming a brand must not orphan its keys. A caller
never supplies any part of these names except the validated key, so no input can reach another
brand's tag.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class BrandKeys:
    value_prefix: str
    expiry_index: str
    name_index: str
    legacy_name_index: str
    stats: str
    script_slots: str
    script_stats: str
    script_durations: str
    script_budget: str

    @classmethod
    def for_brand(cls, brand_id: int) -> BrandKeys:
        base = f"{settings.CACHEADMIN_KEY_PREFIX}:{{{int(brand_id)}}}:"
        return cls(
            value_prefix=base + "v:",
            expiry_index=base + "ix",
            name_index=base + "nd",
            legacy_name_index=base + "nm",
            stats=base + "st",
            script_slots=base + "rn",
            script_stats=base + "rs",
            script_durations=base + "rd",
            script_budget=base + "rb",
        )

    def value(self, key: str) -> str:
        return self.value_prefix + key

    def name_chunk(self, bound: str) -> str:
        """The name index's chunk whose lower bound is ``bound`` (the scripts build the same)."""
        return f"{self.name_index}:{bound}"

    @property
    def name_chunk_sizes(self) -> str:
        """The hash of the name index's chunk sizes, by bound."""
        return f"{self.name_index}#"

    @property
    def index_keys(self) -> list[str]:
        return [self.expiry_index, self.name_index, self.stats]

    # Undo of bulk deletes (docs/contract.md#dashboard-use): derived from the value prefix, so
    # they carry the same hash tag.
    @property
    def _base(self) -> str:
        return self.value_prefix[: -len("v:")]

    def bin(self, token: str) -> str:
        return f"{self._base}bin:{token}"

    @property
    def bin_index(self) -> str:
        return f"{self._base}bins"

    # Exact analysis (brands/cache/accounting.py): the Lua side derives the same names from the
    # expiry index's, so they need not be declared to stay in the brand's slot.
    @property
    def analysis_keys(self) -> list[str]:
        return [f"{self._base}{suffix}" for suffix in ("an", "tk", "tr", "nk", "nb", "bg")]

    # Operation counters (brands.cache.opcounts): their names start with the brand's base, so
    # they carry its hash tag; the minute, hour and bucket parts come from Redis' clock.
    @property
    def ops_base(self) -> str:
        return self._base

    @property
    def ops_totals(self) -> str:
        return f"{self._base}ot"

    def ops_minute(self, minute_s: int) -> str:
        return f"{self._base}om:{int(minute_s)}"

    def ops_hour(self, hour_s: int) -> str:
        return f"{self._base}oh:{int(hour_s)}"

    def hot_reads(self, bucket_s: int) -> str:
        return f"{self._base}hr:{int(bucket_s)}"

    def hot_writes(self, bucket_s: int) -> str:
        return f"{self._base}hw:{int(bucket_s)}"

    def script_keys(self, key: str | None = None) -> list[str]:
        """KEYS for the Lua scripts: the value key, then the three index keys. Scripts about the
        whole brand (admin reads, prune, live count) have no value key; the stats key stands in
        for it, so that every key a script declares carries the brand's hash tag and Redis
        Cluster runs it on the brand's slot (an empty placeholder would hash to slot 0)."""
        return [self.value(key) if key is not None else self.stats, *self.index_keys]

    @property
    def run_keys(self) -> list[str]:
        """KEYS of the script slot scripts (brands.cache.script_slots), in their order."""
        return [self.script_slots, self.script_stats, self.script_durations, self.script_budget]
