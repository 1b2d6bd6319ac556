"""Counting Redis round trips in a test, without changing what they do (a spy, not a mock)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass

from redis.client import Pipeline, Redis
from redis.cluster import ClusterPipeline, RedisCluster


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

    cluster_execute, cluster_command = ClusterPipeline.execute, RedisCluster.execute_command

    def spy_cluster_execute(self, *args, **kwargs):
        # One round trip per node, the nodes written to before any is read: one pipeline.
        calls.pipelines += 1
        return cluster_execute(self, *args, **kwargs)

    def spy_cluster_command(self, *args, **kwargs):
        calls.commands += 1
        return cluster_command(self, *args, **kwargs)

    with monkeypatch.context() as patch:
        patch.setattr(Pipeline, "execute", spy_execute)
        patch.setattr(Redis, "execute_command", spy_command)
        patch.setattr(ClusterPipeline, "execute", spy_cluster_execute)
        patch.setattr(RedisCluster, "execute_command", spy_cluster_command)
        yield calls
