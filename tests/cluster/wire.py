"""What the app really sends to Redis, command by command and connection by connection: a spy on
redis-py's connection layer (below the client, the pipeline and the cluster router), so the same
capture works on a single server, behind Sentinel and on Redis Cluster. Nothing is changed."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Iterator
from dataclasses import dataclass

from redis.connection import AbstractConnection
from redis.crc import key_slot

from brands.cache import redis_client

# Commands that name no key (connection set-up, script loading, cluster discovery).
KEYLESS = {"HELLO", "CLIENT", "PING", "SCRIPT", "COMMAND", "CLUSTER", "INFO", "READONLY", "ASKING",
           "SELECT", "AUTH", "ECHO", "TIME"}


@dataclass(frozen=True)
class Sent:
    node: str  # host:port, or the Unix socket path
    batch: int  # commands written to the socket together share a batch number (one round trip)
    args: tuple

    @property
    def name(self) -> str:
        return _text(self.args[0]).split(" ")[0].upper()


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes | bytearray) else str(value)


def _node(connection) -> str:
    port = getattr(connection, "port", None)
    return f"{connection.host}:{port}" if port is not None else str(getattr(connection, "path", "?"))


@contextlib.contextmanager
def capture_wire(monkeypatch) -> Iterator[list[Sent]]:
    sent: list[Sent] = []
    batches = itertools.count(1)
    send_command, pack_commands = AbstractConnection.send_command, AbstractConnection.pack_commands

    def spy_send(self, *args, **kwargs):
        sent.append(Sent(_node(self), next(batches), args))
        return send_command(self, *args, **kwargs)

    def spy_pack(self, commands):
        commands = list(commands)
        batch = next(batches)
        sent.extend(Sent(_node(self), batch, tuple(command)) for command in commands)
        return pack_commands(self, commands)

    with monkeypatch.context() as patch:
        patch.setattr(AbstractConnection, "send_command", spy_send)
        patch.setattr(AbstractConnection, "pack_commands", spy_pack)
        yield sent


def keys_of(command: Sent) -> list[bytes]:
    """The key arguments of a command: EVALSHA / EVAL from its numkeys, anything else as Redis
    itself reports them (COMMAND GETKEYS). Keyless commands give []."""
    args = command.args
    name = command.name
    if name in KEYLESS:
        return []
    if name in ("EVALSHA", "EVAL"):
        return [_bytes(key) for key in args[3:3 + int(args[2])]]
    words = _text(args[0]).split(" ")
    return [_bytes(key) for key in redis_client().execute_command("COMMAND GETKEYS", *words, *args[1:])]


def _bytes(value) -> bytes:
    return value if isinstance(value, bytes) else str(value).encode()


def slots_of(command: Sent) -> set[int]:
    return {key_slot(key) for key in keys_of(command)}
