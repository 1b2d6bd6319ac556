"""REDIS_CLUSTER is configuration only, checked when the settings load: the settings module is
imported in a fresh interpreter with the environment under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from cacheadmin.settings import cluster_options

ROOT = Path(__file__).resolve().parents[2]

PRINT_REDIS_OPTIONS = """
import json
from cacheadmin import settings
options = settings.CACHES["default"]["OPTIONS"]
print(json.dumps({
    "location": settings.CACHES["default"]["LOCATION"],
    "factory": options.get("CONNECTION_FACTORY"),
    "client": options["CLIENT_CLASS"],
    "connect_timeout": options["SOCKET_CONNECT_TIMEOUT"],
    "socket_timeout": options["SOCKET_TIMEOUT"],
    "retries": options["CONNECTION_POOL_KWARGS"]["retry"].get_retries(),
}))
"""


def load_settings(tmp_path, **env) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith(("REDIS_", "DJANGO_SETTINGS"))}
    environment.update(DEBUG="1", VAR_DIR=str(tmp_path), PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-c", PRINT_REDIS_OPTIONS], cwd=ROOT, env=environment,
                          capture_output=True, text=True, timeout=60)


def test_cluster_uses_the_cluster_factory_with_the_standalone_timeouts(tmp_path):
    standalone = load_settings(tmp_path, REDIS_URL="redis://10.0.0.5:7000/0")
    cluster = load_settings(tmp_path, REDIS_URL="redis://10.0.0.5:7000/0", REDIS_CLUSTER="1",
                            REDIS_SOCKET_TIMEOUT="3.5")
    assert standalone.returncode == 0 and cluster.returncode == 0, standalone.stderr + cluster.stderr
    plain, clustered = json.loads(standalone.stdout), json.loads(cluster.stdout)
    assert plain["factory"] is None
    assert clustered["factory"] == "brands.cache.cluster.ClusterConnectionFactory"
    assert clustered["location"] == "redis://10.0.0.5:7000/0"
    assert clustered["socket_timeout"] == 3.5
    assert {k: clustered[k] for k in ("client", "connect_timeout", "retries")} == \
           {k: plain[k] for k in ("client", "connect_timeout", "retries")}


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"REDIS_CLUSTER": "1"}, "REDIS_CLUSTER=1 needs REDIS_URL naming a node of the cluster"),
        ({"REDIS_CLUSTER": "1", "REDIS_URL": "redis://mymaster/0", "REDIS_SENTINELS": "127.0.0.1:26379"},
         "REDIS_CLUSTER and REDIS_SENTINELS cannot be combined"),
        ({"REDIS_CLUSTER": "1", "REDIS_URL": "redis://10.0.0.5:7000/3"},
         "Redis Cluster has only database 0; REDIS_URL asks for 3"),
    ],
)
def test_refused_combinations_say_why_at_start_up(tmp_path, env, message):
    result = load_settings(tmp_path, **env)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr
    # Refused before anything started: the embedded Redis never ran.
    assert not (tmp_path / "redis" / "redis.sock").exists()


@pytest.mark.parametrize("url", ["unix:///var/run/redis.sock", "redis:///0", "http://10.0.0.5:7000"])
def test_cluster_urls_need_a_tcp_host(url):
    with pytest.raises(ImproperlyConfigured, match="needs a redis:// or rediss:// REDIS_URL with a host"):
        cluster_options(url)


@pytest.mark.parametrize("url", ["redis://10.0.0.5:7000", "redis://10.0.0.5:7000/0",
                                 "rediss://user:secret@node.example:6380/?db=0"])
def test_cluster_urls_accepted(url):
    assert cluster_options(url) == {"CONNECTION_FACTORY": "brands.cache.cluster.ClusterConnectionFactory"}


def test_a_refused_url_does_not_echo_its_password():
    with pytest.raises(ImproperlyConfigured) as refused:
        cluster_options("redis://user:hunter2@10.0.0.5:7000/4")
    assert "hunter2" not in str(refused.value)
