"""The service calls its Lua scripts with EVALSHA directly (cheaper than redis-py's Script
objects); a server that does not know a script (restarted, or another server) gets it loaded."""

from __future__ import annotations

from brands.cache import SCRIPTS, BrandCache, redis_client


def test_unknown_script_sha_is_loaded_and_retried(brand):
    cache = BrandCache.for_brand(brand)
    assert cache.set("warm", 1)
    script = SCRIPTS.get("SET", redis_client())
    real_sha = script.sha
    # As if Redis had never seen the script: EVALSHA answers NOSCRIPT. The server's script cache
    # is shared, so it is not flushed; the client is pointed at an unknown SHA instead.
    script.sha = "0" * 40
    try:
        assert cache.set("after-noscript", {"ok": True})
        assert cache.get("after-noscript") == {"ok": True}
        assert script.sha == real_sha  # corrected by SCRIPT LOAD
    finally:
        script.sha = real_sha


def test_every_write_is_one_evalsha(brand, monkeypatch):
    client = redis_client()
    sent: list[str] = []
    execute_command = type(client).execute_command

    def spy(self, *args, **kwargs):
        sent.append(str(args[0]).upper())
        return execute_command(self, *args, **kwargs)

    cache = BrandCache.for_brand(brand)
    monkeypatch.setattr(type(client), "execute_command", spy)
    cache.set("a", 1)
    cache.set_if_absent("b", 2)
    cache.increment("c")
    cache.delete("a")
    assert sent == ["EVALSHA"] * 4
