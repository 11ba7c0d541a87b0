"""Starting a real cluster for a test, and boto3 clients for it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import boto3
from botocore.config import Config

from cli.local_cluster import Layout, LocalCluster, metric_series

VHOST_DOMAIN = "s3.tessera.test"  # the shared cluster's domain for bucket.<domain> addressing
WEBSITE_DOMAIN = "web.tessera.test"  # the shared cluster's domain for bucket.<domain> websites


def s3_client(  # type: ignore[no-untyped-def]
    cluster: LocalCluster, verify: str | None = None, endpoint: str = "", **config: object
):
    """boto3 for the cluster's gateway (or another gateway's endpoint)."""
    return boto3.client(
        "s3",
        endpoint_url=endpoint or cluster.endpoint,
        verify=verify,
        aws_access_key_id=cluster.credentials.access_key,
        aws_secret_access_key=cluster.credentials.secret_key,
        region_name="us-east-1",
        config=Config(
            **{  # type: ignore[arg-type]
                "s3": {"addressing_style": "path"},
                "retries": {"max_attempts": 1, "mode": "standard"},
                "connect_timeout": 10,
                "read_timeout": 120,
                **config,
            }
        ),
    )


def start_cluster(data_dir: Path, extra_env: dict[str, str] | None = None) -> LocalCluster:
    layout = Layout.with_free_ports(data_dir)
    layout.extra_env.update(extra_env or {})
    return start_layout(layout, ready_seconds=90)


def start_layout(layout: Layout, ready_seconds: float = 120) -> LocalCluster:
    """Starts a cluster of this layout and waits until every process is
    ready; if one is not, stops them all, prints the tail of each log, and
    raises."""
    cluster = LocalCluster(layout)
    cluster.start()
    try:
        cluster.wait_ready(ready_seconds)
    except BaseException:
        cluster.stop()
        for name in cluster.names():
            path = cluster.log_path(name)
            if path.exists():
                print(f"---- {name} log ----\n{path.read_text()[-3000:]}")
        raise
    return cluster


def start_small_54(
    data_dir: Path,
    extra_env: dict[str, str],
    nodes_per_zone: int = 3,
) -> LocalCluster:
    """The smallest layout the default three-zone geometry (5+4) fits: 3 zones x
    3 nodes, one unreplicated metadata service (light on a shared machine; the
    repair leader's code is the same with replicas)."""
    layout = Layout.with_free_ports(
        data_dir, zones=3, nodes_per_zone=nodes_per_zone, metadata_replicas=0
    )
    layout.data_shards, layout.parity_shards = 5, 4
    layout.extra_env.update(extra_env)
    return start_layout(layout)


def run_admin(
    cluster: LocalCluster,
    *argv: str,
    check: bool = True,
    env: dict[str, str] | None = None,
    timeout_seconds: float = 120.0,
) -> subprocess.CompletedProcess[str]:
    """`tessera admin ARGV...` against the cluster, as an operator runs it (a
    separate process with the metadata address and the cluster secret; env
    adds settings, e.g. TESSERA_MASTER_KEY_FILE). check: raise on a non-zero
    exit."""
    command_env = dict(os.environ)
    command_env["TESSERA_METADATA_ADDRESS"] = cluster.layout.metadata_addresses()
    command_env["TESSERA_CLUSTER_SECRET"] = cluster.credentials.cluster_secret
    command_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "cli.main", "admin", *argv],
        env=command_env,
        capture_output=True,
        text=True,
        timeout=timeout_seconds,
        check=check,
    )


def admin_output(cluster: LocalCluster, *argv: str, env: dict[str, str] | None = None) -> str:
    """What `tessera admin ARGV...` prints; fails the test (with its stderr)
    if it exits non-zero."""
    done = run_admin(cluster, *argv, check=False, env=env)
    assert done.returncode == 0, done.stderr
    return done.stdout


def role_metric(cluster: LocalCluster, name: str, series: str) -> float:
    """One series of a role's process, by name (0 when it has not been counted yet)."""
    value = metric_series(f"http://127.0.0.1:{cluster.http_port_of(name)}/metrics", series)
    return 0.0 if value is None else value


def replicas_metric_total(cluster: LocalCluster, series: str) -> float:
    """A series summed over every metadata replica."""
    return sum(role_metric(cluster, name, series) for name in cluster.layout.metadata_names())


def gateway_metric(cluster: LocalCluster, name: str) -> float:
    """The value of an unlabelled metric on the gateway's /metrics."""
    value = metric_series(f"http://{cluster.layout.host}:{cluster.layout.admin_port}/metrics", name)
    if value is not None:
        return value
    raise AssertionError(f"the gateway exports no {name}")
