"""Counting Redis round trips in a test, without changing what they do (a spy, not a mock)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from redis.client import Pipeline, Redis


@dataclass
class RedisCalls:
    pipelines: int = 0  # Pipeline.execute calls (each one round trip, however many commands)
    commands: int = 0  # commands sent on their own


@contextlib.contextmanager
def count_redis_calls(monkeypatch) -> Iterator[RedisCalls]:
    calls = RedisCalls()
    execute, execute_command = Pipeline.execute, Redis.execute_command

    def spy_execute(self, *args, **kwargs):
        calls.pipelines += 1
        return execute(self, *args, **kwargs)

    def spy_command(self, *args, **kwargs):
        # A Pipeline buffers its commands through its own execute_command; only direct client
        # calls reach this one.
        calls.commands += 1
        return execute_command(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Pipeline, "execute", spy_execute)
        patch.setattr(Redis, "execute_command", spy_command)
        yield calls
